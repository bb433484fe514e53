"""The job database: schema, enums and the adapter the batches use (`python -m utils.db --help`)."""
