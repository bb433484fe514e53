from batches.training.batch import app

app()
