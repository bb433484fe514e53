from batches.pipeline.batch import app

app()
