from batches.pipeline.batch import app
from utils import program

program.run(app)
