"""The model's lifecycle as one SageMaker pipeline: `python -m batches.pipeline --env dev COMMAND`."""
