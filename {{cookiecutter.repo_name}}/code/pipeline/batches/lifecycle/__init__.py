"""Run the whole lifecycle, collection to inference, in one process."""
