"""Extract the source table to the raw-data location of a new collection run."""
