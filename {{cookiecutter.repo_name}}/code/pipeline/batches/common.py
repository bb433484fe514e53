"""What every batch shares: the `--env` option, opening config/DB/clients, and recording a job's life."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from utils.config_reader import Config, ConfigError, load_config
from utils.db.enum import JobStatus, JobType
from utils.errors import DatabaseError, one_line
from utils.layout import Layout, RunLayout, new_run_id

if TYPE_CHECKING:
    from utils.aws.s3_client import S3Client
    from utils.aws.session import EndpointSession
    from utils.db.db_adapter import DbAdapter
    from utils.db.schema import Job

EnvOption = Annotated[
    str,
    typer.Option(
        "--env", envvar="PIPELINE_ENV", help="Environment: local (Docker), dev or prod.", show_default=False
    ),
]

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        envvar="PIPELINE_MODEL",
        help="Model whose settings (models.<name> in configs/<env>.yaml) and image to use; needed only when "
        "the config has settings for several models.",
        show_default=False,
    ),
]

DetachOption = Annotated[
    bool,
    typer.Option(
        "--detach",
        help="SageMaker only: on Ctrl-C (or SIGTERM) while the batch waits, leave the job running in "
        "SageMaker instead of asking it to stop; its record stays unfinished until `utils.db sync`.",
    ),
]

ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "--hyperparameter",
        "-p",
        metavar="NAME=VALUE",
        help="Override one of the job's parameters from configs/<env>.yaml (repeatable). The value is read "
        "as JSON when it parses (2, 0.5, true), else as text; the job itself validates it.",
        show_default=False,
    ),
]

console = Console(stderr=True, soft_wrap=True)


def job_parameters(
    configured: dict[str, str | int | float | bool], overrides: list[str] | None
) -> dict[str, str | int | float | bool]:
    """The configured parameters with `NAME=VALUE` overrides applied; a malformed one ends the batch."""
    parameters = dict(configured)
    for item in overrides or []:
        name, separator, text = item.partition("=")
        if not separator or not name.strip():
            fail(f"--param {item!r}: expected NAME=VALUE", code=2)
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        if not isinstance(value, str | int | float | bool):
            value = text
        parameters[name.strip()] = value
    return parameters


def fail(message: str, code: int = 1) -> NoReturn:
    """One readable line on stderr and a non-zero exit, never a traceback."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@dataclass
class BatchContext:
    config: Config
    layout: Layout
    db: DbAdapter
    s3: S3Client
    image_uri: str
    # --detach: an interrupted wait leaves the SageMaker job running rather than stopping it.
    detach: bool = False

    def new_run(self, job_type: JobType) -> tuple[RunLayout, str]:
        run_id = new_run_id()
        run = self.layout.run(job_type, run_id)
        if self.layout.local and Path(run.root).exists():
            # One lifecycle folder holds each stage once: a second run of a stage goes to a new folder.
            fail(f"{run.root} exists already; run {job_type} in a new run folder (another PIPELINE_RUN_ID)")
        return run, self.layout.job_name(job_type, run_id)

    def upstream(self, job_type: JobType, run_id: str | None) -> Job:
        """The named upstream run, else the latest completed one: in this lifecycle's local run folder if
        it has one, otherwise anywhere."""
        within = None
        if run_id is None and self.layout.local and self.config.run_id:
            within = (self.config.runs_dir / self.config.run_id).as_posix()
        try:
            return self.db.find_upstream(job_type, run_id, within=within, model_name=self.config.model_name)
        except DatabaseError as exc:
            fail(str(exc))


@contextmanager
def open_context(
    env: str, model: str | None, needs_image: bool = True, *, detach: bool = False
) -> Iterator[BatchContext]:
    """Config, database and clients of one batch run; a problem with any of them ends it with one line.
    The database and AWS libraries are imported once the config is read: `--help` and a config error never
    wait for them."""
    try:
        config = load_config(env, model=model)
        if detach and config.is_local:
            raise ConfigError("--detach is for SageMaker jobs: a local job runs in this process's containers")
        config.jobs  # noqa: B018 - ends the batch now when the model is ambiguous
        image_uri = config.image_uri() if needs_image else ""
        database_url = config.database.url
    except ConfigError as exc:
        fail(str(exc), code=2)
    from utils.aws.s3_client import S3Client
    from utils.aws.session import EndpointSession
    from utils.db.db_adapter import DbAdapter

    db = DbAdapter(database_url)
    try:
        try:
            db.require_schema()
        except DatabaseError as exc:
            fail(str(exc))
        session = EndpointSession(config.aws.region, config.aws.endpoint_url)
        if needs_image and not config.is_local:
            require_pushed_image(session, image_uri, config)
        yield BatchContext(
            config=config,
            layout=Layout(config),
            db=db,
            s3=S3Client(session),
            image_uri=image_uri,
            detach=detach,
        )
    finally:
        db.close()


def require_pushed_image(session: EndpointSession, image_uri: str, config: Config) -> None:
    """End the batch before any job exists when SageMaker could not pull the image from ECR."""
    from utils.aws.ecr_client import EcrImage, ImageCheckError, image_is_pushed

    image = EcrImage.parse(image_uri)
    if image is None:  # not an ECR registry: nothing to ask
        return
    try:
        pushed = image_is_pushed(session, image)
    except ImageCheckError as exc:
        fail(f"{exc}; no job was created")
    if not pushed:
        scripts = "scripts/docker/container"
        flags = f"--env {config.environment.value} "
        if config.images.tag is None:  # the tag of this tree's build inputs: build and push them
            model = config.model_name
            how = f"{scripts}/build.sh {flags}{model} && {scripts}/push.sh {flags}{model}"
        else:
            how = f"{scripts}/push.sh {flags}--tag {image.tag} {config.model_name}"
        fail(f"image {image_uri} is not in ECR, so no job was created; push it first: {how}")


class JobRecorder:
    """Keeps the job's database record in step with what happens, and reports progress."""

    def __init__(self, ctx: BatchContext, job: Job) -> None:
        self.ctx = ctx
        self.run_id = job.run_id
        self.job_type = job.job_type
        self.job_name = job.job_name
        # The name SageMaker knows the job by, once it was created there (it outlives this process).
        self.submitted_as: str | None = None

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
        failure_reason: str | None = None,
    ) -> Job:
        job = self.ctx.db.update_job(
            self.run_id,
            status,
            job_name=job_name,
            output_uris=output_uris,
            metrics=metrics,
            failure_reason=failure_reason,
            message=failure_reason,
        )
        if status is JobStatus.COMPLETED:
            console.print(f"[green]{job.job_name}: Completed[/] run id {job.run_id}", highlight=False)
            for name, uri in job.output_uris.items():
                console.print(f"  {name}: {uri}", highlight=False)
            if job.metrics:
                console.print(f"  metrics: {job.metrics}", highlight=False)
        return job

    def stop(self, reason: str) -> Job:
        """Record the job Stopped, unless its record is final already (it ended just before the signal)."""
        job = self.ctx.db.get_job(self.run_id)
        if job is not None and job.status.is_terminal:
            return job
        return self.finish(JobStatus.STOPPED, failure_reason=reason)


def record_job(
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
) -> JobRecorder:
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
    return JobRecorder(ctx, job)


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


def _record_hint(recorder: JobRecorder) -> str:
    env = recorder.ctx.config.environment
    return f"its record: `python -m utils.db jobs --env {env} --run-id {recorder.run_id}`"


def _sync_hint(recorder: JobRecorder) -> str:
    return f"`python -m utils.db sync --env {recorder.ctx.config.environment}` records how it ends"


def _stop_and_exit(recorder: JobRecorder, signal_number: int) -> NoReturn:
    """Local mode: the job's containers are gone, so it is Stopped. SageMaker: the job runs on without this
    process, so SageMaker is asked to stop it first (with --detach it is left running); if it cannot be asked,
    the record stays unfinished."""
    name = signal.Signals(signal_number).name
    code = 128 + signal_number
    if recorder.submitted_as is not None and recorder.ctx.detach:
        recorder.status(JobStatus.IN_PROGRESS, f"left running in SageMaker on {name} (--detach)")
        fail(
            f"{recorder.submitted_as} left running in SageMaker ({name}, --detach); its record stays "
            f"unfinished: {_sync_hint(recorder)}",
            code=code,
        )
    if recorder.submitted_as is not None:
        from utils.aws.sagemaker_jobs import stop_job
        from utils.aws.session import EndpointSession

        config = recorder.ctx.config
        try:
            stop_job(
                EndpointSession(config.aws.region, config.aws.endpoint_url),
                recorder.job_type,
                recorder.submitted_as,
            )
        except (BotoCoreError, ClientError) as exc:
            fail(
                f"{recorder.submitted_as} may still be running in SageMaker: asking it to stop failed "
                f"({one_line(exc)}); {_sync_hint(recorder)}",
                code=code,
            )
        job = recorder.stop(f"stopped by {name}: SageMaker was asked to stop it")
        fail(
            f"{job.job_name} stopped by {name}; SageMaker was asked to stop it; recorded {job.status}",
            code=code,
        )
    job = recorder.stop(f"stopped by {name} before it finished")
    fail(f"{job.job_name} stopped by {name}; recorded {job.status}", code=code)


def run_recorded(recorder: JobRecorder, work: Callable[[], Job]) -> Job:
    """Run `work`; any unexpected error marks the job Failed with a one-line reason, then exits non-zero,
    except an AWS error after SageMaker created the job: the job runs on, so its record is left for
    `utils.db sync`.
    SIGINT or SIGTERM stops the job (local mode: its containers are removed on the way up; SageMaker: it is
    asked to stop) and records it Stopped, then exits with the shell's code for that signal (130, 143)."""
    with signals_interrupt() as received:
        try:
            job = work()
        except typer.Exit:
            raise
        except Interrupted as stop:
            _stop_and_exit(recorder, stop.signal_number)
        except (BotoCoreError, ClientError) as exc:
            if recorder.submitted_as is None:  # nothing runs in SageMaker: the job failed to start
                reason = one_line(exc)
                recorder.finish(JobStatus.FAILED, failure_reason=reason)
                fail(f"{recorder.job_name} failed: {reason}; {_record_hint(recorder)}")
            # Waiting failed, not the job (an expired credential, a lost network): it runs on in SageMaker.
            fail(
                f"lost contact with SageMaker while waiting for {recorder.submitted_as} ({one_line(exc)}); "
                f"it may still be running and its record stays unfinished: {_sync_hint(recorder)}"
            )
        except Exception as exc:  # the database must never keep a job "in progress" by mistake
            reason = one_line(exc)
            recorder.finish(JobStatus.FAILED, failure_reason=reason)
            fail(f"{recorder.job_name} failed: {reason}; {_record_hint(recorder)}")
        if received:
            # Workaround: in sagemaker-train 1.27 ModelTrainer.train returns as if nothing happened when
            # interrupted (sagemaker-core 2.27's telemetry decorator returns from a `finally`, which swallows
            # the exception). The job's containers have told `work` how it really ended
            # (sagemaker_client.containers_verdict); the signal still ends the batch.
            _stop_and_exit(recorder, received[0])
    if job.status is not JobStatus.COMPLETED:
        reason = job.failure_reason or "no reason given"
        fail(f"{job.job_name} ended {job.status}: {reason}; {_record_hint(recorder)}")
    return job
