from batches.collection.batch import app

app()
