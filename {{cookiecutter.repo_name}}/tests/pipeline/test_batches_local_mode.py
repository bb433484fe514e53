"""`--env local` plumbing without Docker: the SDK's local runners are replaced by stand-ins that act as the
job image would, so the test checks paths, local inputs and where results land (the image itself is tested
in Docker elsewhere)."""

from __future__ import annotations

import io
import json
import os
import signal
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
from sagemaker.core.processing import Processor
from sagemaker.train.model_trainer import ModelTrainer
from support.batches import BatchRunner
from typer.testing import CliRunner

from utils.config_reader import load_config
from utils.db.__main__ import app as db_app
from utils.db.db_adapter import DbAdapter
from utils.db.enum import JobStatus, JobType
from utils.registry import LocalModelRegistry
from utils.workflow import pipeline_name

OUTPUT_FILES = {
    "train": "train.csv",
    "validation": "validation.csv",
    "test": "test.csv",
    "report": "evaluation.json",
    "predictions": "data.csv",
}


def write_model_archive(container_root: Path, files: dict[str, bytes]) -> None:
    """What local mode leaves in the container root: compressed_artifacts/model.tar.gz of /opt/ml/model."""
    archive = container_root / "compressed_artifacts" / "model.tar.gz"
    archive.parent.mkdir(parents=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    archive.write_bytes(buffer.getvalue())


@pytest.fixture
def local_env(runs_dir: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    calls: dict[str, list[Any]] = {"processing": [], "training": []}

    def process(
        self: Processor, inputs: Any, outputs: Any, arguments: Any, wait: bool, logs: bool, job_name: str
    ) -> None:
        calls["processing"].append(
            {
                "inputs": inputs,
                "outputs": outputs,
                "arguments": arguments,
                "logs": logs,
                "session": self.sagemaker_session,
            }
        )
        for output in outputs:
            folder = Path(output.s3_output.s3_uri.removeprefix("file://"))
            body = (
                json.dumps({"binary_classification_metrics": {"accuracy": {"value": 1.0}}})
                if output.output_name == "report"
                else "id,prediction\n0,1\n"
            )
            (folder / OUTPUT_FILES[output.output_name]).write_text(body)

    def train(self: ModelTrainer, input_data_config: Any, wait: bool, logs: bool) -> None:
        calls["training"].append(
            {
                "channels": input_data_config,
                "root": self.local_container_root,
                "hyperparameters": self.hyperparameters,
            }
        )
        write_model_archive(Path(str(self.local_container_root)), {"model.joblib": b"stand-in model"})

    monkeypatch.setattr(Processor, "run", process)
    monkeypatch.setattr(ModelTrainer, "train", train)
    return calls


def test_a_local_chain_keeps_every_input_and_output_under_the_runs_folder(
    local_env: dict[str, list[Any]], run_batch: BatchRunner, runs_dir: Path, db: DbAdapter
) -> None:
    for name in ("collection", "preprocess", "training", "evaluation", "inference"):
        result = run_batch(name, "--env", "local")
        assert result.exit_code == 0, result.output

    for call in local_env["processing"]:
        assert call["logs"] is False
        assert call["session"].local_mode
        for item in call["inputs"]:
            assert item.s3_input.s3_uri.startswith(f"file://{runs_dir}/")
        for item in call["outputs"]:
            assert item.s3_output.s3_uri.startswith(f"file://{runs_dir}/")
    [training_call] = local_env["training"]
    splits = f"{runs_dir}/{db.find_upstream(JobType.PREPROCESS).run_id}/preprocess"
    assert {c.channel_name: c.data_source for c in training_call["channels"]} == {
        "train": f"{splits}/train",
        "validation": f"{splits}/validation",
    }
    training = db.find_upstream(JobType.TRAINING)
    assert training_call["root"] == f"{runs_dir}/{training.run_id}/training/container-{training.run_id}"
    assert Path(training.output_uris["model"]).is_file()
    assert list(runs_dir.glob("*/*/container-*")) == []  # completed jobs keep outputs, not the SDK's copies
    assert db.find_upstream(JobType.EVALUATION).metrics == {"accuracy": 1.0}
    jobs = db.list_jobs()
    assert all(job.status is JobStatus.COMPLETED for job in jobs)
    assert all(Path(uri).is_relative_to(runs_dir) for job in jobs for uri in job.output_uris.values())


def test_a_local_job_that_crashes_is_recorded_failed(
    local_env: dict[str, list[Any]], run_batch: BatchRunner, db: DbAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_batch("collection", "--env", "local").exit_code == 0

    def crash(*_: Any, **__: Any) -> None:
        raise RuntimeError("Failed to run: ['docker-compose', 'up'], Process exited with code: 1")

    monkeypatch.setattr(Processor, "run", crash)

    result = run_batch("preprocess", "--env", "local")

    assert result.exit_code == 1
    job = db.list_jobs(JobType.PREPROCESS)[0]
    assert job.status is JobStatus.FAILED
    assert (
        job.failure_reason
        == "RuntimeError: Failed to run: ['docker-compose', 'up'], Process exited with code: 1"
    )


LIFECYCLE = ("collection", "preprocess", "training", "evaluation", "inference")


def test_a_lifecycle_run_keeps_every_stage_in_one_folder_and_chains_its_own_outputs(
    local_env: dict[str, list[Any]],
    run_batch: BatchRunner,
    runs_dir: Path,
    db: DbAdapter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIPELINE_RUN_FOLDER", "life-a")
    for name in LIFECYCLE[:2]:
        assert run_batch(name, "--env", "local").exit_code == 0
    # A concurrent lifecycle finishes its preprocess in between: life-a must still train on its own splits.
    monkeypatch.setenv("PIPELINE_RUN_FOLDER", "life-b")
    for name in LIFECYCLE[:2]:
        assert run_batch(name, "--env", "local").exit_code == 0
    monkeypatch.setenv("PIPELINE_RUN_FOLDER", "life-a")
    for name in LIFECYCLE[2:]:
        result = run_batch(name, "--env", "local")
        assert result.exit_code == 0, result.output

    [training_call] = local_env["training"]
    assert {c.channel_name: c.data_source for c in training_call["channels"]} == {
        "train": f"{runs_dir}/life-a/preprocess/train",
        "validation": f"{runs_dir}/life-a/preprocess/validation",
    }
    life_a = [job for job in db.list_jobs() if "/life-a/" in next(iter(job.output_uris.values()))]
    assert sorted(job.job_type for job in life_a) == sorted(LIFECYCLE)
    assert all(
        Path(uri).is_relative_to(runs_dir / "life-a") for job in life_a for uri in job.output_uris.values()
    )
    assert len({job.run_id for job in life_a}) == len(LIFECYCLE)

    summary = CliRunner().invoke(db_app, ["folder", "life-a", "--env", "local"])
    assert summary.exit_code == 0, summary.output
    assert "training: Completed" in summary.output
    assert f"{runs_dir}/life-a/training/model/model.tar.gz" in summary.output
    assert f"{runs_dir}/life-a/evaluation/report/evaluation.json" in summary.output


def test_a_stage_never_runs_twice_into_one_run_folder(
    local_env: dict[str, list[Any]], run_batch: BatchRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_RUN_FOLDER", "life-a")
    assert run_batch("collection", "--env", "local").exit_code == 0

    again = run_batch("collection", "--env", "local")

    assert again.exit_code == 1
    assert "exists already" in again.output


def test_parameter_overrides_reach_the_jobs_and_the_records(
    local_env: dict[str, list[Any]], run_batch: BatchRunner, db: DbAdapter
) -> None:
    assert run_batch("collection", "--env", "local").exit_code == 0

    assert run_batch("preprocess", "--env", "local", "--param", "seed=7").exit_code == 0
    result = run_batch(
        "training", "--env", "local", "--hyperparameter", "learning_rate=0.05", "-p", "max_depth=5"
    )

    assert result.exit_code == 0, result.output
    [preprocess_call] = local_env["processing"]
    arguments = preprocess_call["arguments"]
    assert arguments[arguments.index("--seed") + 1] == "7"
    [training_call] = local_env["training"]
    assert training_call["hyperparameters"]["learning_rate"] == 0.05
    assert training_call["hyperparameters"]["max_depth"] == 5
    assert db.find_upstream(JobType.TRAINING).parameters["learning_rate"] == 0.05


def test_a_malformed_parameter_override_stops_the_batch_before_any_job(
    local_env: dict[str, list[Any]], run_batch: BatchRunner
) -> None:
    assert run_batch("collection", "--env", "local").exit_code == 0

    result = run_batch("preprocess", "--env", "local", "--param", "seed")

    assert result.exit_code == 2
    assert "expected NAME=VALUE" in result.output
    assert local_env["processing"] == []


def test_a_failed_local_training_job_reports_the_reason_its_container_wrote(
    local_env: dict[str, list[Any]], run_batch: BatchRunner, db: DbAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in LIFECYCLE[:2]:
        assert run_batch(name, "--env", "local").exit_code == 0

    def fail_like_the_toolkit(self: ModelTrainer, input_data_config: Any, wait: bool, logs: bool) -> None:
        failure = Path(str(self.local_container_root)) / "artifacts" / "output" / "failure"
        failure.parent.mkdir(parents=True)
        failure.write_text("learning_rate=-1.0 must be in (0, 1]\n")
        raise RuntimeError("Failed to run: ['docker-compose', 'up']. Process exited with code: 1")

    monkeypatch.setattr(ModelTrainer, "train", fail_like_the_toolkit)

    result = run_batch("training", "--env", "local")

    assert result.exit_code == 1
    assert "learning_rate=-1.0 must be in (0, 1]" in result.output
    job = db.list_jobs(JobType.TRAINING)[0]
    assert job.status is JobStatus.FAILED
    assert job.failure_reason == "learning_rate=-1.0 must be in (0, 1]"


def test_a_failed_local_processing_job_reports_its_error_line(
    local_env: dict[str, list[Any]], run_batch: BatchRunner, db: DbAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_batch("collection", "--env", "local").exit_code == 0

    def fail_with_a_log(*_: Any, **__: Any) -> None:
        print("\x1b[36malgo-1-abcde |\x1b[0m ERROR: python3 -m jobs.preprocess: argument --seed: invalid int")
        print("algo-1-abcde exited with code 1")
        raise RuntimeError("Failed to run: ['docker-compose', 'up']. Process exited with code: 1")

    monkeypatch.setattr(Processor, "run", fail_with_a_log)

    result = run_batch("preprocess", "--env", "local")

    assert result.exit_code == 1
    job = db.list_jobs(JobType.PREPROCESS)[0]
    assert job.failure_reason == "python3 -m jobs.preprocess: argument --seed: invalid int"


def test_a_local_training_job_whose_archive_has_no_model_fails_and_is_never_an_upstream(
    local_env: dict[str, list[Any]], run_batch: BatchRunner, db: DbAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in LIFECYCLE[:2]:
        assert run_batch(name, "--env", "local").exit_code == 0

    def train_nothing(self: ModelTrainer, input_data_config: Any, wait: bool, logs: bool) -> None:
        # What the SDK packs after an interrupted job: an archive of an empty /opt/ml/model.
        write_model_archive(Path(str(self.local_container_root)), {})

    monkeypatch.setattr(ModelTrainer, "train", train_nothing)

    result = run_batch("training", "--env", "local")

    assert result.exit_code == 1
    job = db.list_jobs(JobType.TRAINING)[0]
    assert job.status is JobStatus.FAILED
    assert job.failure_reason is not None
    assert job.failure_reason.endswith("holds no model.joblib (it holds nothing)")
    evaluation = run_batch("evaluation", "--env", "local")
    assert evaluation.exit_code == 1
    assert "no completed training run" in evaluation.output
    assert len(local_env["processing"]) == 1  # preprocess only: the evaluation never started a job


def test_a_local_processing_job_that_leaves_an_output_empty_fails_with_that_output_named(
    local_env: dict[str, list[Any]], run_batch: BatchRunner, db: DbAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_batch("collection", "--env", "local").exit_code == 0
    monkeypatch.setattr(Processor, "run", lambda *_, **__: None)

    result = run_batch("preprocess", "--env", "local")

    assert result.exit_code == 1
    job = db.list_jobs(JobType.PREPROCESS)[0]
    assert job.status is JobStatus.FAILED
    assert job.failure_reason is not None
    assert job.failure_reason.startswith("the job wrote nothing to its train output (")


@pytest.mark.parametrize(("signal_number", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_a_local_job_records_it_stopped_and_exits_with_the_signals_code(
    local_env: dict[str, list[Any]],
    run_batch: BatchRunner,
    db: DbAdapter,
    monkeypatch: pytest.MonkeyPatch,
    signal_number: int,
    exit_code: int,
) -> None:
    for name in LIFECYCLE[:2]:
        assert run_batch(name, "--env", "local").exit_code == 0
    handler_before = signal.getsignal(signal_number)

    def interrupted_twice(self: ModelTrainer, input_data_config: Any, wait: bool, logs: bool) -> None:
        try:
            os.kill(os.getpid(), signal_number)
            time.sleep(10)  # never reached: the signal interrupts the job here
        finally:
            # One Ctrl-C in a terminal reaches the batch again through the local-run script, mid clean-up.
            os.kill(os.getpid(), signal_number)

    monkeypatch.setattr(ModelTrainer, "train", interrupted_twice)

    result = run_batch("training", "--env", "local")

    assert result.exit_code == exit_code, result.output
    name = signal.Signals(signal_number).name
    assert f"stopped by {name}; recorded Stopped" in result.output
    job = db.list_jobs(JobType.TRAINING)[0]
    assert job.status is JobStatus.STOPPED
    assert job.failure_reason == f"stopped by {name} before it finished"
    assert signal.getsignal(signal_number) == handler_before


def test_local_inference_on_the_approved_model_says_which_version_and_predicts_with_it(
    local_env: dict[str, list[Any]], run_batch: BatchRunner, db: DbAdapter
) -> None:
    for name in ("collection", "preprocess", "training"):
        assert run_batch(name, "--env", "local").exit_code == 0
    model = db.find_upstream(JobType.TRAINING).output_uris["model"]
    config = load_config("local")
    registry = LocalModelRegistry(config, pipeline_name(config))
    registry.register(model, None, {}, "E1")
    registry.decide(1, "Approved")

    result = run_batch("inference", "--env", "local", "--approved-model")

    assert result.exit_code == 0, result.output
    assert f"model: version 1 of {pipeline_name(config)} (Approved), {model}" in result.output
    [call] = local_env["processing"][-1:]
    inputs = {item.input_name: item.s3_input.s3_uri for item in call["inputs"]}
    assert inputs["model"] == Path(model).as_uri()
