from batches.preprocess.batch import app

app()
