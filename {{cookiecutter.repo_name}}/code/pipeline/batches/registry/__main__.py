from batches.registry.batch import app

app()
