"""The SageMaker pipeline's definition run on this machine (`scripts/local_run/sagemaker_pipeline.sh`): real
images, SageMaker's local pipeline runner, the local run's in-memory S3, and the local model registry. Docker
tier: `poetry run pytest -m docker` (fails, never skips, without Docker)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient
from support.configs import edited_configs, every_model
from support.local_runs import leftover_containers, run_module, run_script, script_env

from utils.config_reader import load_config
from utils.job_specs import EVALUATION_METRICS_KEY
from utils.tracking import PARENT_TAG

pytestmark = pytest.mark.docker


@dataclass
class Run:
    folder: Path
    result: subprocess.CompletedProcess[str]

    @property
    def summary(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.folder / "pipeline-execution.json").read_text())
        return loaded


@pytest.fixture(scope="module")
def runs_dir(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


def pipeline_run(runs_dir: Path, run_folder: str, *parameters: str) -> Run:
    arguments = [item for parameter in parameters for item in ("--parameter", parameter)]
    result = run_script("sagemaker_pipeline.sh", "--run-folder", run_folder, *arguments, runs_dir=runs_dir)
    return Run(runs_dir / run_folder, result)


def registered_versions(runs_dir: Path) -> list[dict[str, Any]]:
    listed = run_module(runs_dir, "batches.registry", "--env", "local", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    versions: list[dict[str, Any]] = json.loads(listed.stdout)
    return versions


@pytest.fixture(scope="module")
def passed(runs_dir: Path) -> Run:
    run = pipeline_run(runs_dir, "gate-passes")
    if run.result.returncode != 0:
        pytest.fail(f"sagemaker_pipeline.sh exited {run.result.returncode}:\n{run.result.stderr[-4000:]}")
    return run


def test_a_local_execution_passes_the_gate_and_registers_a_version_pending_approval(
    passed: Run, runs_dir: Path
) -> None:
    summary = passed.summary
    steps = {step["name"]: step["status"] for step in summary["steps"]}
    assert steps == {
        "Preprocess": "Succeeded",
        "Training": "Succeeded",
        "Evaluation": "Succeeded",
        "QualityGate": "Succeeded",
        "Inference": "Succeeded",
    }
    [version] = [
        item for item in registered_versions(runs_dir) if item["version"] == summary["registered_version"]
    ]
    assert version["status"] == "PendingManualApproval"
    assert Path(version["model_data"]).is_relative_to(passed.folder)
    assert Path(version["model_data"]).is_file()
    report = json.loads((passed.folder / "evaluation" / "report" / "evaluation.json").read_text())
    metric = load_config("local").jobs.quality_gate.metric
    assert version["metrics"][metric] == report[EVALUATION_METRICS_KEY][metric]["value"]
    assert (
        f"approve it with `batches.registry --env local approve {version['version']}`" in passed.result.stderr
    )


def test_a_local_execution_copies_every_steps_outputs_into_its_run_folder(passed: Run) -> None:
    for folder in ("preprocess/train", "preprocess/test", "evaluation/report", "inference/predictions"):
        assert any(path.is_file() for path in (passed.folder / folder).rglob("*")), folder
    predictions = (passed.folder / "inference" / "predictions" / "data.csv").read_text().splitlines()
    raw = (passed.folder / "collection" / "raw" / "data.csv").read_text().splitlines()
    assert len(predictions) == len(raw)
    # The runner's working copies go; the outputs stay.
    assert not (passed.folder / "containers").exists()


def test_status_shows_the_latest_local_execution(passed: Run, runs_dir: Path) -> None:
    status = run_module(runs_dir, "batches.pipeline", "--env", "local", "status")

    assert status.returncode == 0, status.stderr
    assert f"execution: {passed.summary['execution']}" in status.stdout
    assert "status: Succeeded" in status.stdout
    assert "step QualityGate: Succeeded" in status.stdout


def test_the_execution_is_one_mlflow_parent_run_with_a_child_per_step(passed: Run, runs_dir: Path) -> None:
    client = MlflowClient(f"sqlite:///{runs_dir / 'mlflow.sqlite3'}")
    runs = client.search_runs([experiment.experiment_id for experiment in client.search_experiments()])
    [parent] = [run for run in runs if run.data.tags.get("execution") == passed.summary["execution"]]
    steps = {
        run.info.run_name: run.data.tags["status"]
        for run in runs
        if run.data.tags.get(PARENT_TAG) == parent.info.run_id
    }
    assert steps == {step["name"]: step["status"] for step in passed.summary["steps"]}
    assert load_config("local").jobs.quality_gate.metric in parent.data.metrics
    assert "evaluation.json" in [item.path for item in client.list_artifacts(parent.info.run_id)]


def test_with_tuning_the_local_execution_searches_and_evaluates_and_registers_the_best_trials_model(
    passed: Run, runs_dir: Path, tmp_path: Path
) -> None:
    from batches.pipeline.local import start_locally
    from utils.workflow import INPUT_DATA, plan_pipeline

    def tuned(raw: dict[str, Any]) -> None:
        raw["pipeline"]["tuning"] = True
        every_model("tuning", {"max_jobs": 2, "max_parallel_jobs": 1})(raw)

    folder = edited_configs(tmp_path, tuned, "local")
    environ = {**script_env(runs_dir), "PIPELINE_RUN_FOLDER": "tuned"}
    config = load_config("local", config_dir=folder, environ=environ)
    space = config.jobs.tuning
    assert space is not None

    start_locally(
        config,
        plan_pipeline(config, config.image_uri()),
        {INPUT_DATA: str(passed.folder / "collection" / "raw")},
    )

    run = Run(runs_dir / "tuned", passed.result)
    steps = {step["name"]: step["status"] for step in run.summary["steps"]}
    assert steps == {
        "Preprocess": "Succeeded",
        "Tuning": "Succeeded",
        "Evaluation": "Succeeded",
        "QualityGate": "Succeeded",
        "Inference": "Succeeded",
    }
    trials = run.summary["trials"]
    assert len(trials) == 2
    assert all(
        trial["value"] is not None and set(trial["parameters"]) == set(space.ranges) for trial in trials
    )
    top = (max if space.direction == "maximize" else min)(trial["value"] for trial in trials)
    # Each trial's model is kept; the evaluation took, and the registry holds, a top-scoring trial's.
    archives = sorted((run.folder / "training").rglob("model.tar.gz"))
    assert len(archives) == 2
    model = Path(run.summary["model"])
    assert model in archives
    assert any(trial["job_name"] in model.parts for trial in trials if trial["value"] == top)
    [version] = [
        item for item in registered_versions(runs_dir) if item["version"] == run.summary["registered_version"]
    ]
    assert Path(version["model_data"]) == model
    # In MLflow each trial is a child of the Tuning step's run, with its hyperparameters and objective.
    client = MlflowClient(f"sqlite:///{runs_dir / 'mlflow.sqlite3'}")
    runs = client.search_runs([experiment.experiment_id for experiment in client.search_experiments()])
    [parent] = [item for item in runs if item.data.tags.get("execution") == run.summary["execution"]]
    [step] = [
        item
        for item in runs
        if item.data.tags.get(PARENT_TAG) == parent.info.run_id and item.info.run_name == "Tuning"
    ]
    children = [item for item in runs if item.data.tags.get(PARENT_TAG) == step.info.run_id]
    assert sorted(item.info.run_name for item in children) == sorted(trial["job_name"] for trial in trials)
    for child in children:
        assert set(child.data.params) == set(space.ranges)
        assert space.objective in child.data.metrics
    assert leftover_containers(runs_dir) == []


def test_a_threshold_no_model_reaches_fails_at_the_gate_naming_it_and_leaves_no_container(
    passed: Run, runs_dir: Path
) -> None:
    gate = load_config("local").jobs.quality_gate
    # Above any score this model reaches (maximize), or below (minimize).
    threshold, shortfall = ("0.99999", "is below") if gate.direction == "maximize" else ("-1.0", "is above")
    registered = registered_versions(runs_dir)
    failed = pipeline_run(runs_dir, "gate-fails", f"QualityThreshold={threshold}")

    assert failed.result.returncode == 1
    [error] = [line for line in failed.result.stderr.splitlines() if line.startswith("error:")]
    assert "QualityGateFailed" in error
    assert f"{gate.metric} " in error
    assert f"{shortfall} QualityThreshold {threshold}" in error
    steps = {step["name"]: step["status"] for step in failed.summary["steps"]}
    assert steps["QualityGate"] == "Succeeded"
    assert steps["QualityGateFailed"] == "Failed"
    assert "Inference" not in steps
    assert failed.summary["registered_version"] is None
    assert leftover_containers(runs_dir) == []
    assert registered_versions(runs_dir) == registered
