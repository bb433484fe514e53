"""The generated pipeline project: its configs carry the answers, and its own checks pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.bake import bake, clean_env, run

ANSWERS = {
    "project_name": "Fraud Scoring",
    "model_name": "fraud_model",
    "aws_region": "cn-north-1",
    "aws_account_id": "210987654321",
    "s3_bucket": "ml-data-cn",
    "s3_prefix": "teams/fraud",
    "ecr_repository_prefix": "ml/fraud",
    "python_version": "3.12",
}


def load(project: Path, env: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((project / "code" / "pipeline" / "configs" / f"{env}.yaml").read_text())
    return config


def test_every_environment_config_carries_the_answers(tmp_path: Path) -> None:
    project = bake(tmp_path, **ANSWERS)

    registry = "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn"
    for env in ("dev", "prod"):
        config = load(project, env)
        assert config["environment"] == env
        assert config["mode"] == "sagemaker"
        assert list(config["models"]) == ["fraud_model"]
        assert set(config["models"]["fraud_model"]) == {
            "preprocess",
            "training",
            "evaluation",
            "inference",
            "tuning",
            "quality_gate",
            "inference_model",
        }
        assert config["pipeline"]["name"] == project.name
        assert config["aws"] == {
            "region": "cn-north-1",
            "account_id": "210987654321",
            "role_arn": "arn:aws-cn:iam::210987654321:role/SageMakerExecutionRole",
        }
        assert config["storage"] == {"bucket": "ml-data-cn", "prefix": "teams/fraud"}
        assert config["network"] == {"subnets": [], "security_group_ids": []}
        assert config["images"] == {"registry": registry, "repository_prefix": "ml/fraud"}
    local = load(project, "local")
    assert local["mode"] == "local"
    assert local["aws"] == {"region": "cn-north-1"}
    assert local["images"]["registry"] == registry
    assert list(local["models"]) == ["fraud_model"]
    assert "storage" not in local


def test_the_pipeline_targets_the_chosen_python(tmp_path: Path) -> None:
    project = bake(tmp_path, **ANSWERS)

    pyproject = (project / "code" / "pipeline" / "pyproject.toml").read_text()
    dockerfile = (project / "scripts" / "docker" / "pipeline" / "Dockerfile").read_text()
    assert 'target-version = "py312"' in pyproject
    assert 'python_version = "3.12"' in pyproject
    assert 'requires-python = ">=3.11,<3.14"' in pyproject
    assert "ARG BASE_IMAGE=python:3.12-slim" in dockerfile


def test_the_generated_pipeline_is_lint_and_type_clean(set_up_project: Path) -> None:
    pipeline = set_up_project / "code" / "pipeline"
    env = clean_env()

    run(["poetry", "run", "ruff", "check", ".", "../../tests/pipeline"], cwd=pipeline, env=env)
    run(["poetry", "run", "ruff", "format", "--check", ".", "../../tests/pipeline"], cwd=pipeline, env=env)
    run(["poetry", "run", "mypy"], cwd=pipeline, env=env, timeout=900)
    run(["poetry", "run", "python", "-m", "batches.training", "--env", "dev", "--help"], cwd=pipeline, env=env)
