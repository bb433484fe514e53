"""`batches.tuning`: the search space checked against the training job, the tuning request SageMaker gets
(against the moto server), and the local search's Optuna loop with stand-in trials (the real local-mode trials
run in the Docker tier, test_local_sagemaker_pipeline.py's neighbour test_local_tuning.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.batches import BatchRunner, run_chain
from support.configs import edited_configs, every_model
from support.fakes import SentRequests, install_fake_container
from typer.testing import CliRunner

from batches.tuning import batch as tuning_batch
from utils.config_reader import REPO_ROOT, Config, ConfigError, load_config
from utils.db.db_adapter import DbAdapter
from utils.db.enum import JobStatus, JobType
from utils.job_specs import TRAINING_METRICS
from utils.tuning import TUNING_JOB_NAME_MAX, search_space, tuning_job_name


def config_with(tmp_path: Path, env: str, tuning: dict[str, Any]) -> Config:
    """The `env` config with these tuning settings (merged into the configured ones) for every model."""
    return load_config(env, config_dir=edited_configs(tmp_path, every_model("tuning", tuning), env))


def tune(*args: str) -> Any:
    return CliRunner().invoke(tuning_batch.app, list(args))


def test_a_grid_search_over_a_continuous_range_is_refused_naming_the_range(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="strategy Grid cannot search the continuous range learning_rate"):
        config_with(tmp_path, "dev", {"strategy": "Grid"})


@pytest.mark.parametrize(
    ("tuning", "refusal"),
    [
        ({"objective": "train_accuracy"}, "objective: train_accuracy is not a metric the training job logs"),
        (
            {"ranges": {"learnin_rate": {"type": "continuous", "min": 0.01, "max": 0.3}}},
            "ranges: learnin_rate is not a hyperparameter of the training job",
        ),
    ],
)
def test_a_search_the_training_job_cannot_run_is_refused_by_name(
    tmp_path: Path, tuning: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(ConfigError, match=refusal):
        search_space(config_with(tmp_path, "dev", tuning))


@pytest.mark.parametrize(
    ("item", "refusal"),
    [
        ({"type": "integer", "min": 5, "max": 2}, "min below max"),
        ({"type": "categorical", "min": 1, "max": 2}, "takes values"),
        ({"type": "continuous", "min": 0, "max": 1, "scaling": "Logarithmic"}, "needs min above 0"),
    ],
)
def test_a_malformed_range_is_a_config_error(tmp_path: Path, item: dict[str, Any], refusal: str) -> None:
    with pytest.raises(ConfigError, match=refusal):
        config_with(tmp_path, "dev", {"ranges": {"max_depth": item}})


def test_max_trials_caps_the_search_for_one_run() -> None:
    configured = search_space(load_config("dev"))

    capped = search_space(load_config("dev"), max_trials=2)

    assert capped.max_jobs == min(2, configured.max_jobs)
    assert capped.max_parallel_jobs <= capped.max_jobs


def test_tuning_job_names_are_unique_within_a_second_and_short_enough() -> None:
    model = "a_model_name_far_longer_than_a_tuning_job_name_may_be"
    names = {tuning_job_name(model) for _ in range(20)}

    assert len(names) == 20
    assert all(len(name) <= TUNING_JOB_NAME_MAX and re.fullmatch(r"[A-Za-z0-9-]+", name) for name in names)


@pytest.mark.model_project
def test_every_metric_regex_reads_the_line_the_training_job_prints() -> None:
    model = load_config("dev").model_name
    project = REPO_ROOT / "code" / "container" / model
    values = {
        name.removeprefix("validation_"): 0.5 + index / 100 for index, name in enumerate(TRAINING_METRICS)
    }
    printed = subprocess.run(
        [
            str(project / ".venv" / "bin" / "python"),
            "-c",
            f"from utils.job import format_metrics; print(format_metrics({values!r}, prefix='validation_'))",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    for name, regex in TRAINING_METRICS.items():
        match = re.search(regex, printed)
        assert match is not None, (name, printed)
        assert float(match.group(1)) == pytest.approx(values[name.removeprefix("validation_")])


def test_a_sagemaker_search_sends_the_objective_its_regex_the_ranges_and_the_limits(
    dev_config: Config, run_batch: BatchRunner, sagemaker_requests: SentRequests, dev_db: DbAdapter
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        install_fake_container(patch)
        run_chain(run_batch, "preprocess")
    space = search_space(dev_config, max_trials=3)

    result = tune("--env", "dev", "--max-trials", "3")

    assert result.exit_code == 0, result.output
    [sent] = sagemaker_requests["CreateHyperParameterTuningJob"]
    name = sent["HyperParameterTuningJobName"]
    assert len(name) <= TUNING_JOB_NAME_MAX
    config = sent["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {
        "Type": space.objective_type,
        "MetricName": space.objective,
    }
    assert config["Strategy"] == space.strategy
    assert config["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 3
    assert config["ResourceLimits"]["MaxParallelTrainingJobs"] == space.max_parallel_jobs
    assert config["TrainingJobEarlyStoppingType"] == space.early_stopping
    ranges = config["ParameterRanges"]
    sent_ranges = {
        item["Name"]: kind
        for kind in ("ContinuousParameterRanges", "IntegerParameterRanges", "CategoricalParameterRanges")
        for item in ranges.get(kind, [])
    }
    kinds = {"continuous": "ContinuousParameterRanges", "integer": "IntegerParameterRanges"}
    assert sent_ranges == {
        name: kinds.get(item.type, "CategoricalParameterRanges") for name, item in space.ranges.items()
    }
    definition = sent["TrainingJobDefinition"]
    metrics = {
        item["Name"]: item["Regex"] for item in definition["AlgorithmSpecification"]["MetricDefinitions"]
    }
    assert metrics[space.objective] == space.regex
    assert definition["OutputDataConfig"]["S3OutputPath"].startswith(f"s3://{dev_config.storage.bucket}/")  # type: ignore[union-attr]
    # The search's best model is the latest training run, the one evaluation takes next.
    best = dev_db.find_upstream(JobType.TRAINING)
    assert best.job_name == name
    assert best.status is JobStatus.COMPLETED
    assert best.output_uris["model"].startswith(definition["OutputDataConfig"]["S3OutputPath"])


def test_a_local_search_runs_each_trial_tells_optuna_and_records_the_best(
    dev_db: DbAdapter, run_batch: BatchRunner, monkeypatch: pytest.MonkeyPatch, runs_dir: Path
) -> None:
    assert run_batch("collection", "--env", "local").exit_code == 0
    # A preprocess run to train on, and trials that score by learning rate alone (the higher the better).
    preprocess = dev_db.create_job(
        run_id="p1",
        job_type=JobType.PREPROCESS,
        job_name="p1",
        model_name=load_config("local").model_name,
        environment="local",
        output_uris={"train": str(runs_dir / "train"), "validation": str(runs_dir / "v")},
    )
    dev_db.update_job(preprocess.run_id, JobStatus.COMPLETED)
    space = search_space(load_config("local"), max_trials=3)
    started: list[dict[str, Any]] = []

    def trial(
        ctx: Any, chosen: dict[str, Any], upstream: Any, sources: list[str], log: Path, parent: Any
    ) -> Any:
        started.append(chosen)
        run_id = f"t{len(started)}"
        ctx.db.create_job(
            run_id=run_id,
            job_type=JobType.TRAINING,
            job_name=f"trial-{run_id}",
            model_name=ctx.config.model_name,
            environment="local",
            output_uris={"model": f"{runs_dir}/{run_id}/model.tar.gz"},
            parameters=chosen,
        )
        return ctx.db.update_job(
            run_id, JobStatus.COMPLETED, metrics={space.objective: chosen["learning_rate"]}
        )

    monkeypatch.setattr(tuning_batch, "_trial", trial)

    result = tune("--env", "local", "--max-trials", "3")

    assert result.exit_code == 0, result.output
    assert len(started) == 3
    best_rate = max(chosen["learning_rate"] for chosen in started)
    best = dev_db.find_upstream(JobType.TRAINING)
    assert best.metrics[space.objective] == pytest.approx(best_rate)
    assert best.metrics["trials"] == 3
    assert best.parameters["learning_rate"] == pytest.approx(best_rate)
    assert best.upstream_run_ids == {"preprocess": "p1"}
