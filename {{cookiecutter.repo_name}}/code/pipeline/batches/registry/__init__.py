"""The model registry: `python -m batches.registry --env dev list | approve VERSION | reject VERSION`."""
