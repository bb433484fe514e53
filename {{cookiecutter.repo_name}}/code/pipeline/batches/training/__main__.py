from batches.training.batch import app
from utils import program

program.run(app)
