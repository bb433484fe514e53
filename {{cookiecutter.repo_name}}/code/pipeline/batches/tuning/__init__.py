"""Search the training job's hyperparameters: a SageMaker tuning job, or local-mode trials."""
