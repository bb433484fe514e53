"""The path of every batch's job, top to bottom: refuse what cannot run, record the job, run it with its
executor (SageMaker or local mode), record how it ended.

    run_job(ctx, job)         job: a `utils.job_definition.JobDefinition`
      refuse ...              bad parameters, an unmountable runs folder: RefusedError, nothing recorded
      JobRecord.create        the job's database record, before anything starts
      JobRecord.run(work)     runs `work` under Ctrl-C/SIGTERM handling; any failure is recorded
        executor.run(job)     utils/aws/sagemaker_client.py or utils/aws/local_mode.py
      JobRecord.finish        the end: status, outputs, metrics, failure reason

Errors leave as `utils.errors` exceptions; `batches.cli` turns them into an error line and an exit code.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from batches.cli import BatchContext, console
from utils.aws.local_mounts import refusal
from utils.config_reader import REPO_ROOT
from utils.db.enum import JobStatus, JobType
from utils.errors import JobError, PipelineError, RefusedError, one_line
from utils.job_definition import Executor, JobDefinition, JobResult
from utils.layout import RunLayout

if TYPE_CHECKING:
    from utils.db.schema import Job

# Reads a completed job's outputs (report, predictions) and returns metrics to record; raising fails the job.
AfterCompletion = Callable[[JobResult], dict[str, Any]]

# Seconds between status polls of a submitted job; tests shorten it.
POLL_SECONDS = 15.0


def run_job(
    ctx: BatchContext, job: JobDefinition, *, upstream: Sequence[Job], after: AfterCompletion | None = None
) -> Job:
    """Record the job, run it to its end, record how it ended; anything but Completed raises."""
    refuse_unmountable_runs_folder(ctx)
    refuse_parameters_the_job_would(ctx, job)
    record = JobRecord.create(
        ctx,
        job.job_type,
        job.run,
        job.name,
        upstream=upstream,
        input_uris={name: data.uri for name, data in job.inputs.items()},
        output_uris={name: data.uri for name, data in job.outputs.items()},
        parameters=job.parameters,
        image_uri=job.image_uri,
        instance_type=job.resources.instance_type,
    )

    def work() -> Job:
        result = executor(ctx).run(job, record.status)
        metrics = dict(result.metrics)
        if result.succeeded and after is not None:
            try:
                metrics.update(after(result))
            except Exception as exc:  # a broken output is this job's failure
                reason = f"the job completed but its output is unusable: {type(exc).__name__}: {exc}"
                return record.finish(
                    JobStatus.FAILED, job_name=result.job_name, output_uris=result.output_uris, reason=reason
                )
        return record.finish(
            result.status,
            job_name=result.job_name,
            output_uris=result.output_uris,
            metrics=metrics,
            reason=result.failure_reason,
        )

    return record.run(work)


# The jobs whose runs are logged to MLflow (utils/tracking.py): the model's training and its evaluation.
TRACKED_JOBS = (JobType.TRAINING, JobType.EVALUATION)


def track(ctx: BatchContext, job: Job) -> None:
    """Log an ended job as an MLflow run: under the search that started it (PIPELINE_TRACKING_PARENT_RUN) or
    its lifecycle's run folder, with its parameters, metrics and, for a local evaluation, the report and
    plots. Nothing is logged without a tracking URI; a tracking failure is a warning, never the job's."""
    if job.job_type not in TRACKED_JOBS:
        return
    from utils import tracking

    tracker = tracking.tracker(ctx.config)
    if tracker is None:
        return

    def log() -> None:
        parent = os.environ.get(tracking.ENV_PARENT_RUN) or (
            tracker.parent_for_run_folder(ctx.config.run_folder) if ctx.config.run_folder else None
        )
        run_id = tracker.start(job.job_name, parent=parent)
        report = job.output_uris.get("report")
        artifacts = sorted(Path(report).glob("*")) if report and ctx.config.is_local else []
        tracker.log(
            run_id,
            params=job.parameters,
            metrics=job.metrics,
            tags={
                "job_type": job.job_type.value,
                "job_name": job.job_name,
                "run_id": job.run_id,
                "status": job.status.value,
                "image": job.image_uri or "",
                "environment": job.environment,
                "model": job.model_name,
                **{f"output.{name}": uri for name, uri in job.output_uris.items()},
            },
            artifacts=artifacts,
        )
        tracker.end(run_id, job.status is JobStatus.COMPLETED)

    tracking.safely(log)


def executor(ctx: BatchContext) -> Executor:
    """Local mode or SageMaker, as the config says. Imported here, not at the top: the SDK takes seconds to
    import, and `--help`, a config error or a refused parameter must not wait for it."""
    if ctx.config.is_local:
        from utils.aws.local_mode import LocalModeExecutor

        return LocalModeExecutor(ctx.config)
    from utils.aws.sagemaker_client import SageMakerExecutor

    return SageMakerExecutor(ctx.config, POLL_SECONDS)


def refuse_unmountable_runs_folder(ctx: BatchContext) -> None:
    """Local mode refuses to mount some folders (under /root, ~/.config, ...): say so before any record or
    container, rather than as the job's failure."""
    if ctx.config.is_local and (message := refusal(ctx.config.runs_dir)):
        raise RefusedError(message)


def refuse_parameters_the_job_would(ctx: BatchContext, job: JobDefinition) -> None:
    """Ask the job's own argument parser (`python -m utils.arguments` of the model's project, when it is
    installed on this machine) before any record, container or API call: a bad or misspelt parameter fails in
    a fraction of a second with the job's own message. Where the project is not installed (the pipeline
    image), the job itself still refuses them."""
    project = REPO_ROOT / "code" / "container" / ctx.config.model_name
    python = project / ".venv" / "bin" / "python"
    if not python.is_file():
        return
    check = subprocess.run(
        [str(python), "-m", "utils.arguments", job.job_type.value, *job.arguments],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    # Exit 1 with the job's message on stdout; anything else (an older model project without the module)
    # leaves the check to the job.
    if check.returncode == 1 and (problem := check.stdout.strip()):
        raise RefusedError(
            f"the {job.job_type} job would refuse its parameters, so nothing was started: {problem}"
        )


class Interrupted(BaseException):
    """SIGINT (Ctrl-C) or SIGTERM arrived while a job ran. A BaseException like KeyboardInterrupt, so that no
    `except Exception` on the way up mistakes it for the job's own failure."""

    def __init__(self, signal_number: int) -> None:
        self.signal_number = signal_number
        super().__init__(signal.Signals(signal_number).name)


@contextmanager
def signals_interrupt() -> Iterator[list[int]]:
    """SIGINT and SIGTERM raise `Interrupted` (Python would die of SIGTERM without any clean-up) and are
    kept in the list this yields; a second one is ignored so that the clean-up finishes: one Ctrl-C in a
    terminal reaches the batch twice when a local-run script hands it on too."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # only the main thread takes signals
        yield received
        return

    def interrupt(number: int, _frame: FrameType | None) -> None:
        if not received:
            received.append(number)
            raise Interrupted(number)

    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class JobRecord:
    """One job's database record, kept in step with what happens to the job, with progress on the console."""

    def __init__(self, ctx: BatchContext, job: Job) -> None:
        self.ctx = ctx
        self.run_id = job.run_id
        self.job_type = job.job_type
        self.job_name = job.job_name
        # The name SageMaker knows the job by, once it was created there (it outlives this process).
        self.submitted_as: str | None = None

    @classmethod
    def create(
        cls,
        ctx: BatchContext,
        job_type: JobType,
        run: RunLayout,
        job_name: str,
        *,
        upstream: Sequence[Job] = (),
        input_uris: dict[str, str] | None = None,
        output_uris: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
        image_uri: str | None = None,
        instance_type: str | None = None,
    ) -> JobRecord:
        job = ctx.db.create_job(
            run_id=run.run_id,
            job_type=job_type,
            job_name=job_name,
            model_name=ctx.config.model_name,
            environment=ctx.config.environment.value,
            image_uri=image_uri,
            instance_type=instance_type,
            upstream_run_ids={source.job_type.value: source.run_id for source in upstream},
            input_uris=input_uris,
            output_uris=output_uris,
            parameters=parameters,
        )
        console.print(
            f"[cyan]{job_name}[/]: {job_type} run {run.run_id} in {ctx.config.environment}", highlight=False
        )
        return cls(ctx, job)

    def status(self, status: JobStatus, message: str | None = None, *, job_name: str | None = None) -> None:
        if job_name is not None and not self.ctx.config.is_local:
            self.submitted_as = job_name
        self.ctx.db.update_job(self.run_id, status, message=message, job_name=job_name)
        console.print(
            f"[cyan]{self.job_name}[/]: {status}" + (f" ({message})" if message else ""), highlight=False
        )

    def finish(
        self,
        status: JobStatus,
        *,
        job_name: str | None = None,
        output_uris: dict[str, str] | None = None,
        metrics: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> Job:
        job = self.ctx.db.update_job(
            self.run_id,
            status,
            job_name=job_name,
            output_uris=output_uris,
            metrics=metrics,
            failure_reason=reason,
            message=reason,
        )
        track(self.ctx, job)
        if status is JobStatus.COMPLETED:
            console.print(f"[green]{job.job_name}: Completed[/] run id {job.run_id}", highlight=False)
            for name, uri in job.output_uris.items():
                console.print(f"  {name}: {uri}", highlight=False)
            if job.metrics:
                console.print(f"  metrics: {job.metrics}", highlight=False)
        return job

    def run(self, work: Callable[[], Job]) -> Job:
        """Run `work` (which finishes the record); an unexpected error marks the job Failed with a one-line
        reason, except an AWS error after SageMaker created the job: the job runs on, so its record is left
        for `utils.db sync`. SIGINT or SIGTERM stops the job (local mode: its containers are removed on the
        way up; SageMaker: it is asked to stop) and records it Stopped. Anything but Completed raises
        `JobError` naming the record; a signal's has the shell's exit code for it (130, 143)."""
        with signals_interrupt() as received:
            try:
                job = work()
            except PipelineError:
                raise
            except Interrupted as stop:
                self._stop(stop.signal_number)
            except (BotoCoreError, ClientError) as exc:
                if self.submitted_as is None:  # nothing runs in SageMaker: the job failed to start
                    reason = one_line(exc)
                    self.finish(JobStatus.FAILED, reason=reason)
                    raise JobError(f"{self.job_name} failed: {reason}; {self._record_hint()}") from None
                # Waiting failed, not the job (an expired credential, a lost network): it runs on.
                raise JobError(
                    f"lost contact with SageMaker while waiting for {self.submitted_as} ({one_line(exc)}); "
                    f"it may still be running and its record stays unfinished: {self._sync_hint()}"
                ) from None
            except Exception as exc:  # the database must never keep a job "in progress" by mistake
                reason = one_line(exc)
                self.finish(JobStatus.FAILED, reason=reason)
                raise JobError(f"{self.job_name} failed: {reason}; {self._record_hint()}") from None
            if received:
                # Workaround: in sagemaker-train 1.27 ModelTrainer.train returns as if nothing happened when
                # interrupted (sagemaker-core 2.27's telemetry decorator returns from a `finally`, which
                # swallows the exception). The job's containers have told `work` how it really ended
                # (local_containers.containers_verdict); the signal still ends the batch.
                self._stop(received[0])
        if job.status is not JobStatus.COMPLETED:
            reason = job.failure_reason or "no reason given"
            raise JobError(f"{job.job_name} ended {job.status}: {reason}; {self._record_hint()}")
        return job

    def _stop(self, signal_number: int) -> None:
        """Local mode: the job's containers are gone, so it is Stopped. SageMaker: the job runs on without
        this process, so SageMaker is asked to stop it first (with --detach it is left running); if it cannot
        be asked, the record stays unfinished. Always raises."""
        name = signal.Signals(signal_number).name
        code = 128 + signal_number
        if self.submitted_as is not None and self.ctx.detach:
            self.status(JobStatus.IN_PROGRESS, f"left running in SageMaker on {name} (--detach)")
            raise JobError(
                f"{self.submitted_as} left running in SageMaker ({name}, --detach); its record stays "
                f"unfinished: {self._sync_hint()}",
                exit_code=code,
            )
        if self.submitted_as is not None:
            from utils.aws.sagemaker_jobs import stop_job
            from utils.aws.session import EndpointSession

            config = self.ctx.config
            try:
                stop_job(
                    EndpointSession(config.aws.region, config.aws.endpoint_url),
                    self.job_type,
                    self.submitted_as,
                )
            except (BotoCoreError, ClientError) as exc:
                raise JobError(
                    f"{self.submitted_as} may still be running in SageMaker: asking it to stop failed "
                    f"({one_line(exc)}); {self._sync_hint()}",
                    exit_code=code,
                ) from None
            job = self._record_stopped(f"stopped by {name}: SageMaker was asked to stop it")
            raise JobError(
                f"{job.job_name} stopped by {name}; SageMaker was asked to stop it; recorded {job.status}",
                exit_code=code,
            )
        job = self._record_stopped(f"stopped by {name} before it finished")
        raise JobError(f"{job.job_name} stopped by {name}; recorded {job.status}", exit_code=code)

    def _record_stopped(self, reason: str) -> Job:
        """Record the job Stopped, unless its record is final already (it ended just before the signal)."""
        job = self.ctx.db.get_job(self.run_id)
        if job is not None and job.status.is_terminal:
            return job
        return self.finish(JobStatus.STOPPED, reason=reason)

    def _record_hint(self) -> str:
        env = self.ctx.config.environment
        return f"its record: `python -m utils.db jobs --env {env} --run-id {self.run_id}`"

    def _sync_hint(self) -> str:
        return f"`python -m utils.db sync --env {self.ctx.config.environment}` records how it ends"
