from batches.inference.batch import app

app()
