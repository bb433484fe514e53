from batches.tuning.batch import app
from utils import program

program.run(app)
