from batches.tuning.batch import app

app()
