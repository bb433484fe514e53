"""MLflow tracking (utils/tracking.py): parents and children as a lifecycle and a search make them, a tracking
server that does not answer, and the SageMaker tracking-server ARN path through the `sagemaker-mlflow` plugin
against MLflow's tracking server on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient
from support import mlflow_app
from support.aws import tracking_server_arn
from support.servers import free_port, wait_until_up
from support.tracking import mlflow_store

from utils.config_reader import PIPELINE_DIR, load_config
from utils.tracking import PARENT_TAG, Tracker, experiment_name, tracker, tracking_uri


def children_of(client: MlflowClient, experiment: str, parent: str) -> list[Any]:
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    return list(client.search_runs([found.experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{parent}'"))


def test_the_local_store_lives_in_the_runs_folder_and_mlflows_variable_overrides_it(runs_dir: Path) -> None:
    def uri(env: str, **environ: str) -> str | None:
        return tracking_uri(load_config(env, environ={"PIPELINE_RUNS_DIR": str(runs_dir), **environ}))

    assert uri("local") == f"sqlite:///{runs_dir}/mlflow.sqlite3"
    assert uri("local", MLFLOW_TRACKING_URI="http://mlflow.internal:5000") == "http://mlflow.internal:5000"
    assert uri("dev") is None  # dev logs nothing until told where


def test_a_lifecycle_is_one_parent_and_each_job_a_child_with_its_params_and_metrics(
    tmp_path: Path, migrated_mlflow_store: Path
) -> None:
    uri = mlflow_store(migrated_mlflow_store, tmp_path / "mlflow.sqlite3")
    runs = Tracker(uri, "experiment")
    parent = runs.parent_for_run_folder("20261206-120000-abcdef")
    for name, rate in (("training-a", 0.1), ("training-b", 0.05)):
        child = runs.start(name, parent=runs.parent_for_run_folder("20261206-120000-abcdef"))
        runs.log(
            child, params={"learning_rate": rate}, metrics={"validation_roc_auc": 0.9 + rate, "ok": True}
        )
        runs.end(child)

    children = children_of(MlflowClient(uri), "experiment", parent)

    assert sorted(run.info.run_name for run in children) == ["training-a", "training-b"]
    assert {run.data.params["learning_rate"] for run in children} == {"0.1", "0.05"}
    assert all(set(run.data.metrics) == {"validation_roc_auc"} for run in children)  # numbers only
    assert all(run.info.status == "FINISHED" for run in children)


def test_a_tracking_server_that_does_not_answer_is_one_warning_line_not_a_failure(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]  # nothing listens there once the socket is closed
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{closed}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

    started = time.monotonic()
    assert tracker(load_config("local")) is None

    assert time.monotonic() - started < 60
    assert "tracking: not logged" in capsys.readouterr().err


# What MLflow 3.17 takes for a CI or test run, where it sends no telemetry by itself (mlflow.telemetry.utils).
CI_VARIABLES = (
    *("PYTEST_CURRENT_TEST", "CI", "GITHUB_ACTIONS", "CIRCLECI", "GITLAB_CI", "JENKINS_URL", "TRAVIS"),
    *("TF_BUILD", "BITBUCKET_BUILD_NUMBER", "CODEBUILD_BUILD_ARN", "BUILDKITE", "TEAMCITY_VERSION"),
    *("CLOUD_RUN_EXECUTION", "RUNBOT_HOST_URL", "RUNBOT_BUILD_NAME", "RUNBOT_WORKER_ID"),
)


def test_logging_runs_sends_nothing_to_mlflows_usage_telemetry(
    tmp_path: Path, migrated_mlflow_store: Path
) -> None:
    uri = mlflow_store(migrated_mlflow_store, tmp_path / "mlflow.sqlite3")
    code = (
        "from utils.tracking import Tracker\n"
        f"Tracker({uri!r}, 'experiment')\n"
        "from mlflow.telemetry import get_telemetry_client\n"
        "print('telemetry client:', get_telemetry_client())\n"
    )
    env = {name: value for name, value in os.environ.items() if name not in CI_VARIABLES}
    env.pop("MLFLOW_DISABLE_TELEMETRY", None)  # as on a developer's machine

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PIPELINE_DIR, env=env, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "telemetry client: None"


@pytest.fixture
def mlflow_server(tmp_path: Path, migrated_mlflow_store: Path) -> Iterator[str]:
    """MLflow's tracking server on 127.0.0.1, SQLite-backed, for this test."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            str(Path(mlflow_app.__file__)),
            mlflow_store(migrated_mlflow_store, tmp_path / "server.sqlite3"),
            str(tmp_path / "artifacts"),
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_TRACKING_URI": ""},
    )
    try:
        wait_until_up(f"{url}/health", server, "the MLflow server", seconds=120)
        yield url
    finally:
        server.kill()  # a throwaway store: nothing to shut down gracefully
        server.wait(timeout=30)


def test_a_sagemaker_tracking_server_arn_logs_through_the_plugin(
    mlflow_server: str, monkeypatch: pytest.MonkeyPatch, runs_dir: Path
) -> None:
    # The plugin turns the ARN into the server's signed endpoint; its custom endpoint points it here.
    monkeypatch.setenv("SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT", mlflow_server)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server_arn(load_config("dev")))
    config = load_config("dev")

    runs = tracker(config)
    assert runs is not None
    parent = runs.start("search")
    child = runs.start("trial-1", parent=parent)
    runs.log(child, params={"max_depth": 3}, metrics={"validation_roc_auc": 0.97})
    runs.end(child)
    runs.end(parent)

    [logged] = children_of(MlflowClient(mlflow_server), experiment_name(config), parent)
    assert logged.info.run_name == "trial-1"
    assert logged.data.params == {"max_depth": "3"}
    assert logged.data.metrics == {"validation_roc_auc": 0.97}


def test_artifacts_of_a_sqlite_store_land_beside_it_not_where_the_batch_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_mlflow_store: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "runs" / "mlflow.sqlite3"
    report = tmp_path / "evaluation.json"
    report.write_text("{}\n")
    runs = Tracker(mlflow_store(migrated_mlflow_store, store), "experiment")

    run = runs.start("evaluation")
    runs.log(run, artifacts=[report])

    assert (store.parent / "mlflow-artifacts").is_dir()
    assert list((store.parent / "mlflow-artifacts").rglob("evaluation.json"))
    assert not (tmp_path / "mlruns").exists()
