from batches.lifecycle.batch import app
from utils import program

program.run(app)
