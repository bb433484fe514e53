"""Batches: each is `python -m batches.<name> --env <local|dev|prod>`, records itself in the job database."""
