"""Answer sets for the renders that run the generated projects' own commands.

Each shares no answer with the defaults (project, repo and model names, Python version, region and partition,
account, bucket, nested prefixes, ECR namespace, role), so a generated test that quietly expects a default value
fails on every one of them. The defaults are still rendered by the tests that only read the tree.
"""

from __future__ import annotations

ACME_EU = {
    "project_name": "Acme Churn",
    "repo_name": "acme-churn",
    "model_name": "churn_gbm",
    "description": "Churn models of the Acme retail team.",
    "author_name": "Acme Data Science",
    "python_version": "3.12",
    "aws_region": "eu-west-1",
    "aws_account_id": "210987654321",
    "s3_bucket": "acme-ml-artifacts",
    "s3_prefix": "teams/churn/v1",
    "ecr_repository_prefix": "acme/churn",
    "sagemaker_role_arn": "arn:aws:iam::210987654321:role/ml/AcmeSageMakerJobs",
    "include_github_actions": "no",
}

FRAUD_CN = {
    "project_name": "Fraud Scoring",
    "repo_name": "fraud.scoring",
    "model_name": "fraud_v2",
    "description": "Card fraud scores, trained in the Beijing region.",
    "author_name": "Risk Engineering",
    "python_version": "3.13",
    "aws_region": "cn-north-1",
    "aws_account_id": "345678901234",
    "s3_bucket": "risk-fraud-data",
    "s3_prefix": "ml/fraud/scoring",
    "ecr_repository_prefix": "risk/fraud",
    "sagemaker_role_arn": "arn:aws-cn:iam::345678901234:role/FraudJobs",
    "include_github_actions": "yes",
}

DEMAND_GOV = {
    "project_name": "Demand Forecast",
    "repo_name": "demand_forecast",
    "model_name": "demand_xgb",
    "description": "Weekly demand forecasts for the planning office.",
    "author_name": "Planning Analytics",
    "python_version": "3.12",
    "aws_region": "us-gov-west-1",
    "aws_account_id": "456789012345",
    "s3_bucket": "planning-forecasts",
    "s3_prefix": "forecasting",
    "ecr_repository_prefix": "planning",
    "sagemaker_role_arn": "arn:aws-us-gov:iam::456789012345:role/service-role/ForecastJobs",
    "include_github_actions": "yes",
}

ANSWER_SETS = {"acme-eu": ACME_EU, "fraud-cn": FRAUD_CN, "demand-gov": DEMAND_GOV}
