"""Pure logic of the model's jobs; nothing here reads SageMaker's environment."""
