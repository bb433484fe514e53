from batches.collection.batch import app
from utils import program

program.run(app)
