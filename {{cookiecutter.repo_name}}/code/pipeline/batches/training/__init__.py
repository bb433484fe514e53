"""Train the model on the splits of a preprocess run with a training job."""
