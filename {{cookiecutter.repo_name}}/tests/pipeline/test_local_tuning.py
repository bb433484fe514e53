"""A local hyperparameter search (`batches.tuning --env local`): real local-mode training trials in Docker,
drawn by Optuna, two at a time. Docker tier: `poetry run pytest -m docker` (fails, never skips, without
Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from support.local_runs import leftover_containers, run_module, run_script

from utils.config_reader import load_config
from utils.db.db_adapter import DbAdapter
from utils.db.enum import JobStatus, JobType
from utils.tracking import PARENT_TAG
from utils.tuning import search_space

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def runs_dir(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


def test_a_local_search_of_three_trials_records_each_and_makes_the_best_the_next_model(
    runs_dir: Path,
) -> None:
    for job in ("collection", "preprocess"):
        made = run_script("local_mode.sh", job, runs_dir=runs_dir)
        assert made.returncode == 0, made.stderr[-4000:]

    tracking = f"sqlite:///{runs_dir / 'tracking.sqlite3'}"
    searched = run_module(
        runs_dir,
        "batches.tuning",
        "--env",
        "local",
        "--max-trials",
        "3",
        env={"MLFLOW_TRACKING_URI": tracking},
        timeout=900,
    )

    assert searched.returncode == 0, searched.stderr[-4000:]
    space = search_space(load_config("local"), max_trials=3)
    db = DbAdapter(f"sqlite:///{runs_dir / 'local.sqlite3'}")
    try:
        trainings = db.list_jobs(JobType.TRAINING)
        best = db.find_upstream(JobType.TRAINING)
    finally:
        db.close()
    trials = [job for job in trainings if job.run_id != best.run_id]
    assert len(trials) == 3
    assert all(job.status is JobStatus.COMPLETED for job in trials)
    scores = [float(job.metrics[space.objective]) for job in trials]
    top = max(scores) if space.direction == "maximize" else min(scores)
    assert best.metrics[space.objective] == pytest.approx(top)
    assert best.metrics["trials"] == 3
    # Trials may tie on the objective: the best model is one of the top-scoring trials'.
    winners = {job.output_uris["model"] for job in trials if float(job.metrics[space.objective]) == top}
    assert best.output_uris["model"] in winners
    assert Path(best.output_uris["model"]).is_file()
    assert leftover_containers(runs_dir) == []
    # MLflow: the search is one parent run, each trial a child holding its hyperparameters and metrics.
    client = MlflowClient(tracking)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    runs = client.search_runs(experiments)
    parents = [run for run in runs if PARENT_TAG not in run.data.tags]
    assert len(parents) == 1
    children = [run for run in runs if run.data.tags.get(PARENT_TAG) == parents[0].info.run_id]
    assert sorted(run.data.tags["run_id"] for run in children) == sorted(job.run_id for job in trials)
    for run in children:
        assert set(space.ranges) <= set(run.data.params)
        assert space.objective in run.data.metrics
    assert parents[0].data.metrics[space.objective] == pytest.approx(top)
