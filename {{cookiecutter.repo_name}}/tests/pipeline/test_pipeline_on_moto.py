"""`batches.pipeline upsert | start | status` with `--env dev` against the moto server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.aws import aws_client, root_uri
from support.batches import BatchRunner, latest, run_ok
from typer.testing import CliRunner

from batches.pipeline.batch import app
from utils.config_reader import Config
from utils.db.db_adapter import DbAdapter
from utils.db.enum import JobType
from utils.workflow import pipeline_name

pytestmark = pytest.mark.usefixtures("fake_container")


def pipeline(*args: str) -> Any:
    return CliRunner().invoke(app, ["--env", "dev", *args])


def pipeline_ok(*args: str) -> Any:
    result = pipeline(*args)
    assert result.exit_code == 0, result.output
    return result


def test_upsert_creates_the_pipeline_and_its_model_package_group_then_updates(dev_config: Config) -> None:
    name = pipeline_name(dev_config)
    sagemaker = aws_client(dev_config, "sagemaker")

    created = pipeline_ok("upsert")
    again = pipeline_ok("upsert")

    described = sagemaker.describe_pipeline(PipelineName=name)
    assert described["PipelineArn"] in created.output and described["PipelineArn"] in again.output
    assert described["RoleArn"] == dev_config.aws.role_arn
    assert json.loads(described["PipelineDefinition"]) == json.loads(pipeline_ok("definition").stdout)
    groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [group["ModelPackageGroupName"] for group in groups] == [name]


def test_upsert_without_the_pushed_image_creates_nothing(dev_config: Config) -> None:
    ecr = aws_client(dev_config, "ecr")
    for repository in ecr.describe_repositories()["repositories"]:
        ecr.delete_repository(repositoryName=repository["repositoryName"], force=True)

    result = pipeline("upsert")

    assert result.exit_code == 1
    assert "is not in ECR" in result.output and "push.sh" in result.output
    assert aws_client(dev_config, "sagemaker").list_pipelines()["PipelineSummaries"] == []


def test_start_runs_an_execution_with_the_given_parameters_and_status_shows_it(dev_config: Config) -> None:
    pipeline_ok("upsert")
    raw = f"{root_uri(dev_config)}/elsewhere/raw"

    started = pipeline_ok(
        "start", "--parameter", f"InputData={raw}", "--parameter", "QualityThreshold=0.95", "--wait"
    )
    status = pipeline_ok("status")

    sagemaker = aws_client(dev_config, "sagemaker")
    [execution] = sagemaker.list_pipeline_executions(PipelineName=pipeline_name(dev_config))[
        "PipelineExecutionSummaries"
    ]
    arn = execution["PipelineExecutionArn"]
    assert arn in started.output and f"execution: {arn}" in status.stdout
    listed = sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    parameters = {item["Name"]: item["Value"] for item in listed["PipelineParameters"]}
    assert parameters == {"InputData": raw, "QualityThreshold": "0.95"}
    assert "parameter QualityThreshold: 0.95" in status.stdout
    assert f"status: {execution['PipelineExecutionStatus']}" in status.stdout


def test_start_reads_the_latest_collection_run_when_no_input_data_is_given(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter
) -> None:
    pipeline_ok("upsert")
    run_ok(run_batch, "collection")
    raw = latest(dev_db, JobType.COLLECTION).output_uris["raw"]

    started = pipeline_ok("start")

    assert f"InputData: {raw} (the latest collection run)" in started.output
    sagemaker = aws_client(dev_config, "sagemaker")
    [execution] = sagemaker.list_pipeline_executions(PipelineName=pipeline_name(dev_config))[
        "PipelineExecutionSummaries"
    ]
    parameters = sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )["PipelineParameters"]
    assert {"Name": "InputData", "Value": raw} in parameters


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--parameter", "Threshold=0.9"], "NAME one of InputData, "),
        (["--parameter", "QualityThreshold=high"], "QualityThreshold takes a number"),
        ([], "run `batches.collection --env dev` first or pass --parameter InputData=s3://..."),
    ],
    ids=["unknown-name", "not-a-number", "no-input-data"],
)
def test_a_start_that_cannot_work_is_refused_before_any_execution(
    dev_config: Config, args: list[str], expected: str
) -> None:
    pipeline_ok("upsert")

    result = pipeline("start", *args)

    assert result.exit_code != 0
    assert expected in result.output and "Traceback" not in result.output
    sagemaker = aws_client(dev_config, "sagemaker")
    executions = sagemaker.list_pipeline_executions(PipelineName=pipeline_name(dev_config))
    assert executions["PipelineExecutionSummaries"] == []


def test_start_before_upsert_says_to_upsert_first(dev_config: Config) -> None:
    result = pipeline("start", "--parameter", "InputData=s3://bucket/raw")

    assert result.exit_code == 1
    assert "batches.pipeline upsert" in result.output
