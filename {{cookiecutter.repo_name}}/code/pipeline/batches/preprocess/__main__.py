from batches.preprocess.batch import app
from utils import program

program.run(app)
