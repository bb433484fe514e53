"""What the pipeline tests share besides fixtures (conftest.py holds only fixtures and hooks, built on these):
running batches, test databases, the moto account and stand-ins for the job image."""
