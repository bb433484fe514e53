"""SageMaker job entry points: each reads the container contract and hands plain values to `utils`."""
