"""Split the raw data of a collection run into train/validation/test with a processing job."""
