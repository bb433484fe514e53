"""Submitting a batch's SageMaker job and recording its outcome; the only bridge to `sagemaker_client`."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from batches.common import BatchContext, JobRecorder, fail, job_parameters, record_job, run_recorded
from utils.aws.local_mounts import refusal
from utils.config_reader import REPO_ROOT, JobSettings
from utils.db.enum import JobStatus, JobType
from utils.job_specs import PROCESSING_SPECS, TRAINING_METRICS
from utils.layout import RunLayout

if TYPE_CHECKING:
    from utils.aws.sagemaker_client import JobResult
    from utils.db.schema import Job

# Reads a completed job's outputs (report, predictions) and returns metrics to record; raising fails the job.
AfterCompletion = Callable[["JobResult"], dict[str, Any]]

# Seconds between status polls of a submitted job; tests shorten it.
POLL_SECONDS = 15.0


def processing_arguments(parameters: Mapping[str, str | int | float | bool]) -> list[str]:
    """`--name value` pairs, booleans spelled `true`/`false` so the job can parse them without guessing."""
    arguments: list[str] = []
    for name, value in sorted(parameters.items()):
        text = str(value).lower() if isinstance(value, bool) else str(value)
        arguments += [f"--{name}", text]
    return arguments


def _require_mountable_runs_dir(ctx: BatchContext) -> None:
    """Local mode refuses to mount some folders (under /root, ~/.config, ...): say so before any record or
    container, rather than as the job's failure."""
    if ctx.config.is_local and (message := refusal(ctx.config.runs_dir)):
        fail(message, code=2)


def _require_arguments_the_job_accepts(
    ctx: BatchContext, job_type: JobType, parameters: Mapping[str, str | int | float | bool]
) -> None:
    """Ask the job's own argument parser (`python -m utils.arguments` of the model's project, when it is
    installed on this machine) before any record, container or API call: a bad or misspelt parameter fails in
    a fraction of a second with the job's own message. Where the project is not installed (the pipeline
    image), the job itself still refuses them."""
    project = REPO_ROOT / "code" / "container" / ctx.config.model_name
    python = project / ".venv" / "bin" / "python"
    if not python.is_file():
        return
    check = subprocess.run(
        [str(python), "-m", "utils.arguments", job_type.value, *processing_arguments(parameters)],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    # Exit 1 with the job's message on stdout; anything else (an older model project without the module)
    # leaves the check to the job.
    if check.returncode == 1 and (problem := check.stdout.strip()):
        fail(f"the {job_type} job would refuse its parameters, so nothing was started: {problem}", code=2)


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


def _record(
    ctx: BatchContext,
    job_type: JobType,
    run: RunLayout,
    job_name: str,
    upstream: Sequence[Job],
    inputs: dict[str, str],
    outputs: dict[str, str],
    overrides: list[str] | None,
) -> tuple[JobRecorder, JobSettings, dict[str, str | int | float | bool]]:
    """The job's settings and parameters (configured, then `--param` overrides), recorded before it starts."""
    settings: JobSettings = getattr(ctx.config.jobs, job_type.value)
    parameters = job_parameters(settings.parameters, overrides)
    _require_arguments_the_job_accepts(ctx, job_type, parameters)
    recorder = record_job(
        ctx,
        job_type,
        run,
        job_name,
        upstream=upstream,
        input_uris=inputs,
        output_uris=outputs,
        parameters=parameters,
        image_uri=ctx.image_uri,
        instance_type=settings.instance_type,
    )
    return recorder, settings, parameters


def submit_processing_job(
    ctx: BatchContext,
    job_type: JobType,
    run: RunLayout,
    job_name: str,
    *,
    upstream: Sequence[Job],
    inputs: dict[str, str],
    outputs: dict[str, str],
    overrides: list[str] | None,
    after: AfterCompletion | None = None,
) -> Job:
    """Record a processing job, run it with its parameters as `--name value` arguments, record its end."""
    _require_mountable_runs_dir(ctx)
    recorder, settings, parameters = _record(
        ctx, job_type, run, job_name, upstream, inputs, outputs, overrides
    )
    spec = PROCESSING_SPECS[job_type]

    def work() -> Job:
        # Imported here, not at the top: the SDK takes seconds to import, and `--help`, a config error or a
        # refused parameter must not wait for it.
        from utils.aws.sagemaker_client import ProcessingRequest, SageMakerClient

        request = ProcessingRequest(
            job_name=recorder.job_name,
            image_uri=ctx.image_uri,
            entrypoint=spec.entrypoint,
            inputs={name: (uri, spec.input_path(name)) for name, uri in inputs.items()},
            outputs={name: (uri, spec.output_path(name)) for name, uri in outputs.items()},
            settings=settings,
            run=run,
            arguments=processing_arguments(parameters),
        )
        result = SageMakerClient(ctx.config, POLL_SECONDS).run_processing(request, recorder.status)
        return _finish(recorder, result, after)

    return run_recorded(recorder, work)


def submit_training_job(
    ctx: BatchContext,
    run: RunLayout,
    job_name: str,
    *,
    upstream: Sequence[Job],
    channels: dict[str, str],
    overrides: list[str] | None,
) -> Job:
    """Record a training job, run it with its parameters as hyperparameters, record its end."""
    _require_mountable_runs_dir(ctx)
    outputs = {"model_output": run.model_output}
    if not ctx.config.is_local:  # SageMaker syncs /opt/ml/checkpoints to S3; local mode does not
        outputs["checkpoints"] = run.checkpoints
    recorder, settings, parameters = _record(
        ctx, JobType.TRAINING, run, job_name, upstream, channels, outputs, overrides
    )

    def work() -> Job:
        from utils.aws.sagemaker_client import SageMakerClient, TrainingRequest

        request = TrainingRequest(
            base_job_name=recorder.job_name,
            image_uri=ctx.image_uri,
            channels=channels,
            hyperparameters=parameters,
            settings=settings,
            run=run,
            metric_regexes=TRAINING_METRICS,
        )
        result = SageMakerClient(ctx.config, POLL_SECONDS).run_training(request, recorder.status)
        return _finish(recorder, result, None)

    return run_recorded(recorder, work)
