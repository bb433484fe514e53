"""`batches.pipeline --env local` and `batches.registry --env local` without Docker: what is refused before
anything runs, the local run's own S3, and the local model registry on each database backend. The execution
itself runs in the Docker tier (test_local_sagemaker_pipeline.py)."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from support.batches import BatchRunner
from typer.testing import CliRunner

from batches.pipeline.batch import app as pipeline_app
from batches.registry.batch import app as registry_app
from utils.aws.local_pipeline import local_s3
from utils.config_reader import load_config
from utils.db.db_adapter import DbAdapter
from utils.registry import LocalModelRegistry
from utils.workflow import pipeline_name


def pipeline(*args: str) -> Any:
    return CliRunner().invoke(pipeline_app, ["--env", "local", *args])


def registry(*args: str) -> Any:
    return CliRunner().invoke(registry_app, ["--env", "local", *args])


@pytest.fixture
def collected(database_url: str, run_batch: BatchRunner) -> str:
    result = run_batch("collection", "--env", "local")
    assert result.exit_code == 0, result.output
    return database_url


def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exit_code: int) -> None:
    """A `docker` command that answers every call with `exit_code`."""
    folder = tmp_path / "bin"
    folder.mkdir()
    docker = folder / "docker"
    docker.write_text(f"#!/bin/sh\nexit {exit_code}\n")
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def test_local_start_before_any_collection_run_names_the_command_that_makes_one(database_url: str) -> None:
    result = pipeline("start")

    assert result.exit_code == 1
    assert "run `batches.collection --env local` first" in result.output
    assert "Traceback" not in result.output


@pytest.mark.usefixtures("collected")
def test_local_start_without_the_image_says_how_to_build_it_and_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runs_dir: Path
) -> None:
    fake_docker(tmp_path, monkeypatch, exit_code=1)
    model = load_config("local").model_name

    result = pipeline("start", "--wait")

    assert result.exit_code == 1
    assert f"build it with `scripts/docker/container/build.sh --env local {model}`" in result.output
    assert list(runs_dir.glob("*/pipeline-execution.json")) == []
    assert list(runs_dir.glob("*/preprocess")) == []


@pytest.mark.usefixtures("database_url")
def test_local_input_data_must_be_a_folder_on_this_machine(tmp_path: Path) -> None:
    result = pipeline("start", "--parameter", f"InputData={tmp_path / 'nowhere'}")

    assert result.exit_code == 2
    assert "--env local reads a folder on this machine" in result.output


def test_local_upsert_is_refused_in_one_line_pointing_at_start() -> None:
    result = pipeline("upsert")

    assert result.exit_code == 2
    assert "`start --env local` runs the definition" in result.output


@pytest.mark.usefixtures("runs_dir")
def test_local_status_before_any_execution_says_how_to_start_one() -> None:
    result = pipeline("status")

    assert result.exit_code == 1
    assert "no local execution yet" in result.output


def test_a_local_runs_s3_answers_on_loopback_for_every_client_and_is_gone_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "a-real-account")
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(variable, "us-east-1")
    with local_s3() as endpoint:
        assert endpoint.startswith("http://127.0.0.1:")
        assert "AWS_PROFILE" not in os.environ
        # A client made with no endpoint and no credentials of its own still lands there.
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="scratch")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["scratch"]

    assert os.environ["AWS_PROFILE"] == "a-real-account"
    assert "AWS_ENDPOINT_URL" not in os.environ
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{endpoint}/", timeout=2)  # noqa: S310 - a local address


def register(count: int) -> list[int]:
    local = LocalModelRegistry(load_config("local"), "group")
    return [
        local.register(
            f"/runs/{n}/model.tar.gz", f"/runs/{n}/evaluation.json", {"roc_auc": 0.9 + n / 100}, f"E{n}"
        ).version
        for n in range(1, count + 1)
    ]


def test_the_local_registry_numbers_versions_lists_them_newest_first_and_keeps_decisions(
    db: DbAdapter,
) -> None:
    assert register(3) == [1, 2, 3]
    group = pipeline_name(load_config("local"))

    approved = registry("approve", "2", "--note", "beats version 1 on the March data")
    rejected = registry("reject", "3")
    listed = json.loads(registry("list", "--json").stdout)
    table = registry("list").stdout

    assert approved.exit_code == 0, approved.output
    assert f"{group} version 2: Approved" in approved.output
    assert rejected.exit_code == 0, rejected.output
    assert [(v["version"], v["status"]) for v in listed] == [
        (3, "Rejected"),
        (2, "Approved"),
        (1, "PendingManualApproval"),
    ]
    assert listed[1]["note"] == "beats version 1 on the March data"
    assert listed[1]["model_data"] == "/runs/2/model.tar.gz"
    assert listed[1]["metrics"] == {"roc_auc": pytest.approx(0.92)}
    assert table.splitlines()[0] == f"{group}:"
    assert "(beats version 1 on the March data)" in table


@pytest.mark.usefixtures("db")
def test_a_decision_on_a_version_the_local_registry_lacks_is_refused_naming_the_versions() -> None:
    register(2)

    result = registry("approve", "7")

    assert result.exit_code == 2
    assert "has no version 7 (versions: 2, 1)" in result.output


@pytest.mark.usefixtures("db")
def test_an_empty_local_registry_says_so() -> None:
    group = pipeline_name(load_config("local"))

    assert registry("list").stdout == f"{group}: no version registered yet\n"
    assert json.loads(registry("list", "--json").stdout) == []
