from batches.inference.batch import app
from utils import program

program.run(app)
