"""`batches.registry --env dev list | approve | reject` against the moto server's model package APIs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.aws import aws_client, root_uri
from support.batches import BatchRunner, latest, run_chain, run_ok
from typer.testing import CliRunner

from batches.pipeline.batch import app as pipeline_app
from batches.registry.batch import app
from utils.config_reader import Config
from utils.db.db_adapter import DbAdapter
from utils.db.enum import JobType
from utils.workflow import pipeline_name


def registry(*args: str, env: str = "dev") -> Any:
    return CliRunner().invoke(app, ["--env", env, *args])


def registry_ok(*args: str) -> Any:
    result = registry(*args)
    assert result.exit_code == 0, result.output
    return result


def register_versions(config: Config, count: int, model_data: list[str] | None = None) -> list[str]:
    """Versions as the pipeline's RegisterModel step leaves them: pending a person's approval."""
    sagemaker = aws_client(config, "sagemaker")
    group = pipeline_name(config)
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    model_data = model_data or [
        f"{root_uri(config)}/training/run-{number}/model.tar.gz" for number in range(1, count + 1)
    ]
    for uri in model_data:
        sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": config.image_uri(), "ModelDataUrl": uri}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )
    return model_data


def test_list_shows_every_version_newest_first_with_its_status(dev_config: Config) -> None:
    model_data = register_versions(dev_config, 3)

    table = registry_ok("list").stdout
    listed = json.loads(registry_ok("list", "--json").stdout)

    assert [item["version"] for item in listed] == [3, 2, 1]
    assert [item["model_data"] for item in listed] == model_data[::-1]
    assert {item["status"] for item in listed} == {"PendingManualApproval"}
    assert table.splitlines()[0] == f"{pipeline_name(dev_config)}:"
    assert [line.split()[1] for line in table.splitlines()[1:]] == ["3", "2", "1"]


def test_approve_and_reject_set_the_status_and_keep_the_note(dev_config: Config) -> None:
    register_versions(dev_config, 2)

    approved = registry_ok("approve", "2", "--note", "roc_auc 0.99 on the March data")
    rejected = registry_ok("reject", "1")

    assert "version 2: Approved" in approved.output and "version 1: Rejected" in rejected.output
    listed = {item["version"]: item for item in json.loads(registry_ok("list", "--json").stdout)}
    assert listed[2]["status"] == "Approved" and listed[2]["note"] == "roc_auc 0.99 on the March data"
    assert listed[1]["status"] == "Rejected" and listed[1]["note"] is None
    assert "(roc_auc 0.99 on the March data)" in registry_ok("list").stdout


def test_an_unknown_version_is_refused_with_the_versions_there_are(dev_config: Config) -> None:
    register_versions(dev_config, 2)

    result = registry("approve", "7")

    assert result.exit_code == 2
    assert "has no version 7 (versions: 2, 1)" in result.output
    statuses = {item["status"] for item in json.loads(registry_ok("list", "--json").stdout)}
    assert statuses == {"PendingManualApproval"}


def test_a_group_the_pipeline_has_not_created_yet_is_named_in_one_line(dev_config: Config) -> None:
    result = registry("list")

    assert result.exit_code == 1
    assert f"model package group {pipeline_name(dev_config)} does not exist yet" in result.output
    assert "batches.pipeline upsert" in result.output
    assert "Traceback" not in result.output


def test_upsert_creates_the_group_empty_until_the_pipeline_registers(dev_config: Config) -> None:
    upserted = CliRunner().invoke(pipeline_app, ["--env", "dev", "upsert"])
    assert upserted.exit_code == 0, upserted.output

    assert registry_ok("list").stdout == f"{pipeline_name(dev_config)}: no version registered yet\n"
    assert json.loads(registry_ok("list", "--json").stdout) == []


@pytest.mark.usefixtures("fake_container")
def test_inference_on_the_approved_model_says_which_version_and_uses_its_model(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter
) -> None:
    run_chain(run_batch, "training")
    first = latest(dev_db, JobType.TRAINING).output_uris["model"]
    run_ok(run_batch, "training")
    second = latest(dev_db, JobType.TRAINING).output_uris["model"]
    register_versions(dev_config, 2, [first, second])
    registry_ok("approve", "1")

    result = run_ok(run_batch, "inference", "--approved-model")

    group = pipeline_name(dev_config)
    assert f"model: version 1 of {group} (Approved), {first}" in result.output
    inference = latest(dev_db, JobType.INFERENCE)
    assert inference.input_uris["model"] == first
    assert set(inference.upstream_run_ids) == {"collection"}
    assert inference.metrics["predictions"] > 0


@pytest.mark.usefixtures("fake_container")
def test_inference_without_an_approved_version_names_the_approve_command_and_records_nothing(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter
) -> None:
    run_chain(run_batch, "training")
    register_versions(dev_config, 1)

    refused = run_batch("inference", "--env", "dev", "--approved-model")
    latest_training = run_ok(run_batch, "inference", "--latest-training")

    assert refused.exit_code == 1
    assert "has no approved version" in refused.output
    assert "batches.registry --env dev approve VERSION" in refused.output
    training = latest(dev_db, JobType.TRAINING)
    assert f"model: training run {training.run_id}" in latest_training.output
    models = [job.input_uris["model"] for job in dev_db.list_jobs(JobType.INFERENCE)]
    assert models == [training.output_uris["model"]]
