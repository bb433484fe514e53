"""Submitting a batch's SageMaker job and recording its outcome; the only bridge to `sagemaker_client`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from batches.common import BatchContext, JobRecorder
from utils.aws.sagemaker_client import JobResult, ProcessingRequest, SageMakerClient, TrainingRequest
from utils.db.enum import JobStatus, JobType
from utils.db.schema import Job
from utils.job_specs import PROCESSING_SPECS, TRAINING_METRICS
from utils.layout import RunLayout

# Reads a completed job's outputs (report, predictions) and returns metrics to record; raising fails the job.
AfterCompletion = Callable[[JobResult], dict[str, Any]]

# Seconds between status polls of a submitted job; tests shorten it.
POLL_SECONDS = 15.0


def processing_arguments(parameters: Mapping[str, str | int | float | bool]) -> list[str]:
    """`--name value` pairs, booleans spelled `true`/`false` so the job can parse them without guessing."""
    arguments: list[str] = []
    for name, value in sorted(parameters.items()):
        text = str(value).lower() if isinstance(value, bool) else str(value)
        arguments += [f"--{name}", text]
    return arguments


def _finish(recorder: JobRecorder, result: JobResult, after: AfterCompletion | None) -> Job:
    metrics = dict(result.metrics)
    if result.succeeded and after is not None:
        try:
            metrics.update(after(result))
        except Exception as exc:  # a broken output is this job's failure
            reason = f"the job completed but its output is unusable: {type(exc).__name__}: {exc}"
            return recorder.finish(
                JobStatus.FAILED,
                job_name=result.job_name,
                output_uris=result.output_uris,
                failure_reason=reason,
            )
    return recorder.finish(
        result.status,
        job_name=result.job_name,
        output_uris=result.output_uris,
        metrics=metrics,
        failure_reason=result.failure_reason,
    )


def run_processing_job(
    ctx: BatchContext,
    recorder: JobRecorder,
    job_type: JobType,
    run: RunLayout,
    inputs: dict[str, str],
    outputs: dict[str, str],
    after: AfterCompletion | None = None,
    parameters: Mapping[str, str | int | float | bool] | None = None,
) -> Job:
    """Run a processing job with `parameters` (default: the configured ones) as its arguments."""
    spec = PROCESSING_SPECS[job_type]
    settings = getattr(ctx.config.jobs, job_type.value)
    request = ProcessingRequest(
        job_name=recorder.job_name,
        image_uri=ctx.image_uri,
        entrypoint=spec.entrypoint,
        inputs={name: (uri, spec.input_path(name)) for name, uri in inputs.items()},
        outputs={name: (uri, spec.output_path(name)) for name, uri in outputs.items()},
        settings=settings,
        run=run,
        arguments=processing_arguments(settings.parameters if parameters is None else parameters),
    )
    result = SageMakerClient(ctx.config, POLL_SECONDS).run_processing(request, recorder.status)
    return _finish(recorder, result, after)


def run_training_job(
    ctx: BatchContext,
    recorder: JobRecorder,
    run: RunLayout,
    channels: dict[str, str],
    hyperparameters: Mapping[str, str | int | float | bool] | None = None,
) -> Job:
    """Run a training job with `hyperparameters` (default: the configured ones)."""
    settings = ctx.config.jobs.training
    request = TrainingRequest(
        base_job_name=recorder.job_name,
        image_uri=ctx.image_uri,
        channels=channels,
        hyperparameters=dict(settings.parameters if hyperparameters is None else hyperparameters),
        settings=settings,
        run=run,
        metric_regexes=TRAINING_METRICS,
    )
    result = SageMakerClient(ctx.config, POLL_SECONDS).run_training(request, recorder.status)
    return _finish(recorder, result, None)
