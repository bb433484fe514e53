"""The command line every batch shares: its options, opening its config, database and clients, and the one
place where the pipeline's errors become an error line and an exit code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from utils.config_reader import Config, ConfigError, load_config
from utils.db.enum import JobType
from utils.errors import PipelineError
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

InputOption = Annotated[
    list[str] | None,
    typer.Option(
        "--input",
        metavar="CHANNEL=URI",
        help="Read a training channel from s3://BUCKET/PREFIX or fsx://FILE-SYSTEM-ID/MOUNT-NAME/PATH "
        "in this run (repeatable), instead of models.<model>.training.channels or the preprocess run's "
        "split.",
        show_default=False,
    ),
]

console = Console(stderr=True, soft_wrap=True)


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
            raise PipelineError(
                f"{run.root} exists already; run {job_type} in a new run folder (another PIPELINE_RUN_FOLDER)"
            )
        return run, self.layout.job_name(job_type, run_id)

    def upstream(self, job_type: JobType, run_id: str | None) -> Job:
        """The named upstream run, else the latest completed one: in this lifecycle's local run folder if
        it has one, otherwise anywhere."""
        within = None
        if run_id is None and self.layout.local and self.config.run_folder:
            within = (self.config.runs_dir / self.config.run_folder).as_posix()
        return self.db.find_upstream(job_type, run_id, within=within, model_name=self.config.model_name)


@contextmanager
def open_context(
    env: str, model: str | None, needs_image: bool = True, *, detach: bool = False
) -> Iterator[BatchContext]:
    """Config, database and clients of one batch run. A `PipelineError` raised opening them or in the body
    ends the batch with its one line and exit code, never a traceback. The database and AWS libraries are
    imported once the config is read: `--help` and a config error never wait for them."""
    with errors_as_exit(), _open(env, model, needs_image, detach) as ctx:
        yield ctx


@contextmanager
def errors_as_exit() -> Iterator[None]:
    """A `PipelineError` raised inside ends the command with its one line and exit code."""
    try:
        yield
    except PipelineError as exc:
        fail(str(exc), code=exc.exit_code)


@contextmanager
def _open(env: str, model: str | None, needs_image: bool, detach: bool) -> Iterator[BatchContext]:
    config = load_config(env, model=model)
    if detach and config.is_local:
        raise ConfigError("--detach is for SageMaker jobs: a local job runs in this process's containers")
    config.jobs  # noqa: B018 - ends the batch now when the model is ambiguous
    image_uri = config.image_uri() if needs_image else ""
    database_url = config.database.url
    from utils.aws.s3_client import S3Client
    from utils.aws.session import EndpointSession
    from utils.db.db_adapter import DbAdapter

    db = DbAdapter(database_url)
    try:
        db.require_schema()
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
        raise PipelineError(f"{exc}; no job was created") from None
    if not pushed:
        scripts = "scripts/docker/container"
        flags = f"--env {config.environment.value} "
        if config.images.tag is None:  # the tag of this tree's build inputs: build and push them
            model = config.model_name
            how = f"{scripts}/build.sh {flags}{model} && {scripts}/push.sh {flags}{model}"
        else:
            how = f"{scripts}/push.sh {flags}--tag {image.tag} {config.model_name}"
        raise PipelineError(f"image {image_uri} is not in ECR, so no job was created; push it first: {how}")
