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
from utils.aws.local_pipeline import SearchingClient, local_s3
from utils.config_reader import Config, load_config
from utils.db.db_adapter import DbAdapter
from utils.errors import PipelineError
from utils.registry import LocalModelRegistry
from utils.tuning import search_space
from utils.workflow import JobStep, pipeline_name, plan_pipeline


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


class TrainingJobs:
    """The local runner's client for training jobs: a job prints its objective as the training job does (the
    closer its learning rate to 0.1, the higher), or, when its name ends with one of `failing`, fails with the
    job's error line."""

    def __init__(self, objective: str, failing: tuple[str, ...]) -> None:
        self.objective = objective
        self.failing = failing
        self.requests: dict[str, dict[str, Any]] = {}

    def create_training_job(self, name: str, **request: Any) -> None:
        self.requests[name] = request
        if name.endswith(self.failing):
            print("algo-1-x7k2p  | ERROR: the model did not converge")
            raise RuntimeError("Failed to run: ['docker-compose', 'up'], Process exited with code: 1")
        rate = float(request["HyperParameters"]["learning_rate"])
        print(f"algo-1-x7k2p  | epoch=1;{self.objective}={1 - abs(rate - 0.1):.4f};")

    def describe_training_job(self, name: str) -> dict[str, Any]:
        return {
            "TrainingJobName": name,
            "ModelArtifacts": {"S3ModelArtifacts": f"s3://b/{name}/model.tar.gz"},
        }

    def describe_processing_job(self, name: str) -> dict[str, Any]:
        return {"ProcessingJobName": name}


def search_step(config: Config) -> JobStep:
    """The training step of `config`'s pipeline with pipeline.tuning set: the model's search."""
    tuned = config.model_copy(update={"pipeline": config.pipeline.model_copy(update={"tuning": True})})
    step = plan_pipeline(tuned, "image:1").search_step
    assert step is not None
    return step


def test_a_local_tuning_step_runs_the_search_and_hands_on_the_best_trials_job(tmp_path: Path) -> None:
    config = load_config("local")
    space = search_space(config)
    jobs = TrainingJobs(space.objective, failing=("-2",))
    heard: list[str] = []
    client = SearchingClient(jobs, search_step(config), tmp_path, heard.append)

    client.create_training_job(
        "Tuning-2027-01-04", HyperParameters={"random_state": "7", "learning_rate": "0.1"}
    )

    names = [f"Tuning-2027-01-04-{number}" for number in range(1, space.max_jobs + 1)]
    assert sorted(jobs.requests) == names
    assert sorted(trial.job_name for trial in client.trials) == names
    for trial in client.trials:
        sent = jobs.requests[trial.job_name]["HyperParameters"]
        assert sent["random_state"] == "7"  # what the search does not range over stays as the step gave it
        assert {name: sent[name] for name in space.ranges} == {
            name: str(value) for name, value in trial.parameters.items()
        }
    [failed] = [trial for trial in client.trials if trial.number == 2]
    assert failed.value is None
    assert failed.failure_reason == "the model did not converge"
    scored = [trial for trial in client.trials if trial.value is not None]
    assert len(scored) == space.max_jobs - 1
    for trial in scored:
        assert trial.value == pytest.approx(1 - abs(float(trial.parameters["learning_rate"]) - 0.1), abs=1e-4)
    best = max(scored, key=lambda trial: (trial.value or 0.0, -trial.number))
    # The step's job is the best trial's: the runner hands its model on to the evaluation.
    assert client.describe_training_job("Tuning-2027-01-04")["TrainingJobName"] == best.job_name
    assert f"best: trial {best.number} ({best.job_name})" in heard[-1]
    assert client.describe_processing_job("Preprocess-1") == {"ProcessingJobName": "Preprocess-1"}


def test_a_local_search_where_no_trial_completes_fails_its_step_with_each_reason(tmp_path: Path) -> None:
    config = load_config("local")
    client = SearchingClient(TrainingJobs("validation_roc_auc", ("",)), search_step(config), tmp_path, print)

    with pytest.raises(PipelineError, match=r"none of the \d+ trials of the search completed") as raised:
        client.create_training_job("Tuning-2027-01-04", HyperParameters={"learning_rate": "0.1"})

    assert "(trial 1: the model did not converge; trial 2: the model did not converge" in str(raised.value)
