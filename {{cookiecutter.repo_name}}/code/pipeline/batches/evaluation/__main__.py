from batches.evaluation.batch import app
from utils import program

program.run(app)
