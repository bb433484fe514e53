"""AWS access: one boto3 session factory, the S3 client, and the only module that imports `sagemaker`."""
