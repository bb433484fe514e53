"""Search the training job's hyperparameters (models.<model>.tuning): a SageMaker hyperparameter tuning job in
dev and prod; locally, real local-mode training jobs drawn by Optuna over the same ranges, in parallel up to
max_parallel_jobs. The best trial's model is then recorded as a training run, the one batches.evaluation
takes next."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from batches import jobs
from batches.cli import (
    BatchContext,
    EnvOption,
    InputOption,
    ModelOption,
    console,
    errors_as_exit,
    open_context,
)
from utils import tuning
from utils.config_reader import ENV_RUN_FOLDER, PIPELINE_DIR, load_config
from utils.db.enum import JobStatus, JobType
from utils.errors import JobError, PipelineError
from utils.job_definition import channel_sources, define_job, training_inputs
from utils.layout import RunLayout
from utils.tracking import ENV_PARENT_RUN
from utils.tuning import Chosen, SearchSpace, Trial, best_trial, search_space, shown, tuning_job_name

if TYPE_CHECKING:
    from utils.db.schema import Job

app = typer.Typer(add_completion=False, help=__doc__)

# A local trial is a `batches.training` run; its record's run id is in the line it starts with.
_TRIAL_RUN_ID = re.compile(r": training run (\S+) in ")


@dataclass(frozen=True)
class Best:
    """The best trial: its training job, model, objective value and hyperparameters."""

    job_name: str
    model_uri: str
    value: float
    parameters: dict[str, Any]
    trials: int
    metrics: dict[str, Any]


@app.command()
def main(
    env: EnvOption,
    model: ModelOption = None,
    max_trials: Annotated[
        int | None,
        typer.Option(help="Run at most this many trials (default: models.<model>.tuning.max_jobs).", min=1),
    ] = None,
    preprocess_run_id: Annotated[
        str | None,
        typer.Option(help="Preprocess run whose splits to train on (default: the latest completed one)."),
    ] = None,
    source: InputOption = None,
) -> None:
    """Run the search and record its best model as a training run."""
    with errors_as_exit():  # a search or a channel that cannot work stops before any AWS call
        config = load_config(env, model=model)
        space = search_space(config, max_trials)
        sources = channel_sources(config, source)
    with open_context(env, model) as ctx:
        preprocess = ctx.upstream(JobType.PREPROCESS, preprocess_run_id)
        run, _ = ctx.new_run(JobType.TRAINING)
        name = tuning_job_name(ctx.config.model_name)
        inputs = training_inputs(sources, preprocess.output_uris)
        console.print(
            f"[cyan]{name}[/]: {space.strategy} search of {space.objective} ({space.direction}), "
            f"{space.max_jobs} trials, {space.max_parallel_jobs} at a time, in {ctx.config.environment}",
            highlight=False,
        )
        search = SearchRun.start(ctx, name, space)
        try:
            if ctx.config.is_local:
                best = local_search(ctx, space, name, run, preprocess, source or [], search.run_id)
            else:
                best = sagemaker_search(ctx, space, name, run, inputs)
                search.log_trials(ctx, name)
        except KeyboardInterrupt:
            search.end(None)
            raise PipelineError(f"{name} stopped", exit_code=130) from None
        except PipelineError:
            search.end(None)
            raise
        record_best(ctx, run, name, best, preprocess, inputs, space)
        search.end(best)


@dataclass
class SearchRun:
    """The search's MLflow parent run (utils/tracking.py): its trials are its children, and it ends with the
    best trial's hyperparameters and objective. Nothing when no tracking URI is configured."""

    tracker: Any
    run_id: str | None
    space: SearchSpace

    @classmethod
    def start(cls, ctx: BatchContext, name: str, space: SearchSpace) -> SearchRun:
        from utils import tracking

        tracker = tracking.tracker(ctx.config)
        tags = {
            "search": name,
            "strategy": space.strategy,
            "objective": space.objective,
            "model": ctx.config.model_name,
        }
        run_id = tracking.safely(lambda: tracker.start(name, tags=tags)) if tracker else None
        return cls(tracker, run_id, space)

    def log_trials(self, ctx: BatchContext, name: str) -> None:
        """SageMaker's trials, as children (locally each trial logs itself)."""
        if self.run_id is None:
            return
        from utils import tracking
        from utils.aws.tuning import SageMakerTuning

        def log() -> None:
            for trial in SageMakerTuning(ctx.config).trials(name):
                objective = trial.get("FinalHyperParameterTuningJobObjectiveMetric", {})
                self.tracker.ended(
                    trial["TrainingJobName"],
                    parent=self.run_id,
                    succeeded=trial.get("TrainingJobStatus") == "Completed",
                    params=trial.get("TunedHyperParameters", {}),
                    metrics={self.space.objective: objective["Value"]} if "Value" in objective else {},
                    tags={"job_name": trial["TrainingJobName"], "status": trial.get("TrainingJobStatus", "")},
                )

        tracking.safely(log)

    def end(self, best: Best | None) -> None:
        if self.run_id is None:
            return
        from utils import tracking

        def log() -> None:
            if best is not None:
                self.tracker.log(
                    self.run_id,
                    params=best.parameters,
                    metrics={self.space.objective: best.value, "trials": best.trials},
                    tags={"best_training_job": best.job_name, "best_model": best.model_uri},
                )
            self.tracker.end(self.run_id, best is not None)

        tracking.safely(log)


def sagemaker_search(
    ctx: BatchContext, space: SearchSpace, name: str, run: RunLayout, inputs: dict[str, str]
) -> Best:
    from utils.aws.tuning import SageMakerTuning

    outputs = {"model_output": run.model_output, "checkpoints": run.checkpoints}
    job = define_job(
        ctx.config, JobType.TRAINING, run, name, image_uri=ctx.image_uri, inputs=inputs, outputs=outputs
    )
    jobs.refuse_parameters_the_job_would(ctx, job)
    tuning = SageMakerTuning(ctx.config)
    tuning.start(job, space, name)
    console.print(f"[cyan]{name}[/]: tuning job created", highlight=False)
    seen: tuple[str, tuple[tuple[str, int], ...]] | None = None
    try:
        while True:
            state = tuning.state(name)
            now = (state.status, tuple(sorted(state.counters.items())))
            if now != seen:
                seen = now
                counts = ", ".join(
                    f"{count} {status}" for status, count in sorted(state.counters.items()) if count
                )
                console.print(f"[cyan]{name}[/]: {state.status}" + (f" (trials: {counts})" if counts else ""))
            if state.finished:
                break
            time.sleep(jobs.POLL_SECONDS)
    except KeyboardInterrupt:
        tuning.stop(name)
        raise
    if state.status != "Completed" or state.best_job is None or state.best_value is None:
        reason = state.failure_reason or "no trial completed"
        raise JobError(f"tuning job {name} ended {state.status}: {reason}")
    return Best(
        job_name=state.best_job,
        model_uri=run.model_artifact(state.best_job, local=False),
        value=state.best_value,
        parameters={**job.parameters, **state.best_parameters},
        trials=sum(state.counters.values()),
        metrics={space.objective: state.best_value},
    )


def local_search(
    ctx: BatchContext,
    space: SearchSpace,
    name: str,
    run: RunLayout,
    preprocess: Job,
    sources: list[str],
    parent_run: str | None,
) -> Best:
    """Each trial is a `batches.training` run of its own (a record, a local-mode job) whose objective is read
    by the job's regex from its log; Optuna asks and is told (`utils.tuning.local_search`), up to
    `max_parallel_jobs` trials at once."""
    logs = Path(run.root) / "trials"
    logs.mkdir(parents=True, exist_ok=True)

    records: dict[int, Job | None] = {}

    def run_trial(number: int, chosen: Chosen) -> float | None:
        record = records[number] = _trial(
            ctx, chosen, preprocess, sources, logs / f"trial-{number}.log", parent_run
        )
        value = record.metrics.get(space.objective) if record is not None else None
        if record is None or record.status is not JobStatus.COMPLETED or value is None:
            return None
        return float(value)

    def started(number: int, chosen: Chosen) -> None:
        console.print(f"[cyan]{name}[/]: trial {number} started: {shown(chosen)}", highlight=False)

    ended: list[int] = []

    def finished(trial: Trial) -> None:
        ended.append(trial.number)
        record = records.get(trial.number)
        if trial.value is None or record is None:
            why = record.failure_reason if record is not None else "it left no record"
            log = logs / f"trial-{trial.number}.log"
            console.print(f"[red]{name}[/]: trial {trial.number} failed: {why} (log: {log})")
            return
        console.print(
            f"[cyan]{name}[/]: trial {trial.number} ({len(ended)}/{space.max_jobs}): {space.objective} "
            f"{trial.value} (training run {record.run_id})",
            highlight=False,
        )

    trials = tuning.local_search(space, run_trial, started, finished)
    best = best_trial(space, trials)
    record = records.get(best.number) if best is not None else None
    if best is None or best.value is None or record is None:
        raise JobError(f"{name}: none of its {space.max_jobs} trials completed; see their logs in {logs}")
    return Best(
        job_name=record.job_name,
        model_uri=str(record.output_uris["model"]),
        value=best.value,
        parameters=dict(record.parameters),
        trials=len(trials),
        metrics=dict(record.metrics),
    )


def _trial(
    ctx: BatchContext,
    chosen: Chosen,
    preprocess: Job,
    sources: list[str],
    log: Path,
    parent_run: str | None,
) -> Job | None:
    """One trial: `batches.training --env local` with the trial's hyperparameters, its output in `log`, its
    MLflow run a child of `parent_run`; its record, or None when it made none."""
    command = [
        sys.executable,
        "-m",
        "batches.training",
        "--env",
        "local",
        "--model",
        ctx.config.model_name,
        "--preprocess-run-id",
        preprocess.run_id,
        *(argument for name, value in chosen.items() for argument in ("-p", f"{name}={value}")),
        *(argument for item in sources for argument in ("--input", item)),
    ]
    # Each trial opens a run folder of its own: a lifecycle's run folder holds one training run.
    env = {key: value for key, value in os.environ.items() if key != ENV_RUN_FOLDER}
    if parent_run is not None:
        env[ENV_PARENT_RUN] = parent_run
    with log.open("w", encoding="utf-8") as out:
        subprocess.run(command, cwd=PIPELINE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    match = _TRIAL_RUN_ID.search(log.read_text(encoding="utf-8", errors="replace"))
    return ctx.db.get_job(match.group(1)) if match else None


def record_best(
    ctx: BatchContext,
    run: RunLayout,
    name: str,
    best: Best,
    preprocess: Job,
    inputs: dict[str, str],
    space: SearchSpace,
) -> None:
    """The best model as a completed training run of its own (the search's), so that the next evaluation
    takes it."""
    ctx.db.create_job(
        run_id=run.run_id,
        job_type=JobType.TRAINING,
        job_name=name,
        model_name=ctx.config.model_name,
        environment=ctx.config.environment.value,
        image_uri=ctx.image_uri,
        instance_type=ctx.config.jobs.training.instance_type,
        upstream_run_ids={JobType.PREPROCESS.value: preprocess.run_id},
        input_uris=inputs,
        output_uris={"model": best.model_uri},
        parameters=best.parameters,
    )
    message = f"best of {best.trials} trials of {name}: training job {best.job_name}"
    ctx.db.update_job(
        run.run_id, JobStatus.COMPLETED, message=message, metrics={**best.metrics, "trials": best.trials}
    )
    console.print(
        f"[green]{name}: Completed[/] run id {run.run_id}: {message}, {space.objective} {best.value}",
        highlight=False,
    )
    console.print(f"  model: {best.model_uri}", highlight=False)
    console.print(f"  hyperparameters: {shown(best.parameters)}", highlight=False)
