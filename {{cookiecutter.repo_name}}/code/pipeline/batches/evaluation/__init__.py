"""Score a trained model on its test split with a processing job; the report's metrics go to the database."""
