from batches.registry.batch import app
from utils import program

program.run(app)
