from batches.evaluation.batch import app

app()
