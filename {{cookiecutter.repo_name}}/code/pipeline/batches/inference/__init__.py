"""Predict with a trained model on collected data with a processing job, and store the predictions."""
