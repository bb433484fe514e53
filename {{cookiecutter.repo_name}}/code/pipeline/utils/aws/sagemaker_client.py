"""Submit SageMaker training and processing jobs, on AWS or in local mode, and wait for them.

The only module that imports the SageMaker Python SDK (v3), so the next API move is a one-file change. Every
location a job can write to (outputs, checkpoints, anything the SDK stages) is passed in explicitly; the
Session's default bucket and prefix point into the run's own folder so that even an SDK default lands there.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sagemaker.core.config.config_manager import SageMakerConfig
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.local.local_session import LocalSession
from sagemaker.core.processing import Processor
from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
from sagemaker.core.training.configs import (
    CheckpointConfig,
    Compute,
    InputData,
    MetricDefinition,
    OutputDataConfig,
    StoppingCondition,
)
from sagemaker.train.model_trainer import Mode, ModelTrainer

from utils.aws.local_containers import containers_verdict, job_containers, remove_containers
from utils.aws.sagemaker_jobs import job_state
from utils.aws.session import EndpointSession
from utils.config_reader import Config, JobSettings
from utils.db.enum import JobStatus
from utils.errors import one_line
from utils.job_specs import MODEL_ARCHIVE, MODEL_FILE
from utils.layout import RunLayout

__all__ = [
    "SDK_CONFIG",
    "JobResult",
    "ModelTrainer",
    "ProcessingInput",
    "ProcessingRequest",
    "ProcessingS3Input",
    "Processor",
    "SageMakerClient",
    "TrainingRequest",
]

# Handed to every Session instead of the user's SDK config files: telemetry off, and no SDK-wide defaults
# (buckets, roles, tags) from a laptop's ~/.config can change where a job writes.
SDK_CONFIG: dict[str, Any] = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}

# SDK 3.27 checks the whole SDK config against its JSON schema on every config lookup (about a second each, a
# dozen lookups a job). SDK_CONFIG never changes: it is checked once here, any other config on each lookup.
# Canary: test_sagemaker_client.py::test_the_sdk_still_checks_its_config_on_every_lookup.
_check_sdk_config = SageMakerConfig.validate_sagemaker_config
_check_sdk_config(SDK_CONFIG)


def _check_once(sagemaker_config: dict[str, Any] | None = None) -> None:
    if sagemaker_config != SDK_CONFIG:
        _check_sdk_config(sagemaker_config)


SageMakerConfig.validate_sagemaker_config = staticmethod(_check_once)


class StatusCallback(Protocol):
    """Told each status a job reaches; at SUBMITTED also the name SageMaker knows the job by."""

    def __call__(
        self, status: JobStatus, message: str | None = None, *, job_name: str | None = None
    ) -> None: ...


@dataclass(frozen=True)
class JobResult:
    job_name: str
    status: JobStatus
    failure_reason: str | None = None
    output_uris: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status is JobStatus.COMPLETED


@dataclass(frozen=True)
class ProcessingRequest:
    """A processing job. Inputs and outputs map a name to (location, container path)."""

    job_name: str
    image_uri: str
    entrypoint: list[str]
    inputs: dict[str, tuple[str, str]]
    outputs: dict[str, tuple[str, str]]
    settings: JobSettings
    run: RunLayout
    arguments: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingRequest:
    """A training job: channels map a channel name to a location (S3 prefix or local folder).

    The SDK names the job `{base_job_name}-{YYYYmmddHHMMSS}`; the result carries the final name.
    """

    base_job_name: str
    image_uri: str
    channels: dict[str, str]
    hyperparameters: dict[str, str | int | float | bool]
    settings: JobSettings
    run: RunLayout
    metric_regexes: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)


class _LocalInputsProcessor(Processor):  # type: ignore[misc]  # the SDK ships no type hints
    """Keeps `file://` inputs local in local mode; the stock Processor uploads them to the default bucket."""

    def _normalize_inputs(self, inputs: Any = None, kms_key: Any = None) -> Any:
        if getattr(self.sagemaker_session, "local_mode", False):
            return list(inputs or [])
        return super()._normalize_inputs(inputs, kms_key)


@contextmanager
def _role_validation_disabled(disabled: bool) -> Iterator[None]:
    """Skip the SDK's IAM policy simulation, which AWS stand-ins such as moto cannot answer."""
    if not disabled:
        yield
        return
    previous = os.environ.get("SAGEMAKER_VALIDATE_ROLE")
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("SAGEMAKER_VALIDATE_ROLE", None)
        else:
            os.environ["SAGEMAKER_VALIDATE_ROLE"] = previous


def model_archive_problem(archive: Path) -> str | None:
    """Why a training job's model archive cannot be used (missing, unreadable, without the model file)."""
    if not archive.is_file():
        return f"the job wrote no {archive}"
    try:
        with tarfile.open(archive, "r:gz") as tar:
            files = {Path(member.name).name for member in tar.getmembers() if member.isfile()}
    except (OSError, tarfile.TarError) as exc:
        return f"its model archive {archive} is unreadable: {one_line(exc)}"
    if MODEL_FILE not in files:
        held = ", ".join(sorted(files)) if files else "nothing"
        return f"its model archive {archive} holds no {MODEL_FILE} (it holds {held})"
    return None


def empty_output_problem(outputs: dict[str, str]) -> str | None:
    """Why a processing job's outputs cannot be used: a named output folder missing or without any file."""
    for name, folder in outputs.items():
        path = Path(folder)
        if not path.is_dir() or not any(item.is_file() for item in path.rglob("*")):
            return f"the job wrote nothing to its {name} output ({folder})"
    return None


def hand_back_ownership(container_root: str, image_uri: str) -> None:
    """Local-mode containers run as root (as on SageMaker), so files they write under runs/ are root's;
    chown them back to the user running the batch, from inside the same image, so runs/ stays removable."""
    if not hasattr(os, "getuid") or os.getuid() == 0 or not Path(container_root).is_dir():
        return
    try:
        subprocess.run(
            [
                "docker",
                "run",
                "--rm",
                "--network",
                "none",
                "--entrypoint",
                "chown",
                "--volume",
                f"{container_root}:/run-root",
                image_uri,
                "-R",
                f"{os.getuid()}:{os.getgid()}",
                "/run-root",
            ],
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        # Ownership is a convenience for deleting runs/ later; it never fails the job.
        return


class _LogTail(io.TextIOBase):
    """Passes the job's log (local mode streams the containers' output to stdout) through, keeping its end."""

    def __init__(self, target: io.TextIOBase | Any, keep: int = 200) -> None:
        self.target = target
        self.lines: deque[str] = deque(maxlen=keep)

    def write(self, text: str) -> int:
        self.target.write(text)
        self.lines.extend(text.splitlines())
        return len(text)

    def flush(self) -> None:
        # Also called when the tail is collected (io's finaliser), possibly after the stream it wraps closed.
        if not getattr(self.target, "closed", False):
            self.target.flush()


# A job's own error line (`ERROR: ...`, see code/container/<model>/utils/job.py), behind Compose's prefix.
_ERROR_LINE = re.compile(r"(?:^|\|\s*)ERROR:\s*(?P<reason>\S.*)$")
_COLOURS = re.compile(r"\x1b\[[0-9;]*m")


@contextmanager
def _log_tail() -> Iterator[_LogTail]:
    # The containers' log is progress, like the batch's own messages: stderr, leaving stdout to results.
    tail = _LogTail(sys.stderr)
    with redirect_stdout(tail):
        yield tail


def local_failure_reason(exc: BaseException, container_root: str, log: _LogTail) -> str:
    """What SageMaker would show as FailureReason: the training job's failure file (local mode copies
    /opt/ml/output to artifacts/output), else the job's last `ERROR:` log line, else the local-mode error."""
    failure = Path(container_root) / "artifacts" / "output" / "failure"
    if failure.is_file():
        text = " ".join(failure.read_text(encoding="utf-8", errors="replace").split())
        if text:
            return text[:1000]
    for line in reversed(log.lines):
        match = _ERROR_LINE.search(_COLOURS.sub("", line))
        if match:
            return match.group("reason").strip()[:1000]
    return one_line(exc)


def run_local_job(
    start: Callable[[], object], container_root: str, image_uri: str
) -> tuple[JobStatus, str | None]:
    """Run one local-mode job to its end and say how it ended: Failed with the job's reason when the SDK
    raises, else by its containers' own exits (`containers_verdict`). The containers never outlive the call:
    on Ctrl-C or SIGTERM (which pass through as BaseException) they are removed while still running."""
    try:
        with _log_tail() as log:
            start()
    except Exception as exc:  # any local-mode failure is the job's failure
        return JobStatus.FAILED, local_failure_reason(exc, container_root, log)
    finally:
        ended = job_containers(container_root)
        remove_containers(ended)
        hand_back_ownership(container_root, image_uri)
    return containers_verdict(ended) or (JobStatus.COMPLETED, None)


def discard_scratch(container_root: str) -> None:
    """After a completed local job, the SDK's working copies under the container root (inputs, model and
    output folders, the compose file) serve nothing more: the run folder keeps the job's outputs only. A
    failed or stopped job keeps them, for its logs and failure file."""
    shutil.rmtree(container_root, ignore_errors=True)


def _file_uri(path: str) -> str:
    return Path(path).resolve().as_uri()


class SageMakerClient:
    def __init__(self, config: Config, poll_seconds: float = 15.0) -> None:
        self.config = config
        self.poll_seconds = poll_seconds
        self.boto_session = EndpointSession(config.aws.region, config.aws.endpoint_url)

    # Sessions

    def _session(self, run: RunLayout) -> Session:
        return Session(
            boto_session=self.boto_session,
            default_bucket=run.bucket,
            default_bucket_prefix=run.sdk_staging_key_prefix,
            sagemaker_config=SDK_CONFIG,
        )

    def _local_session(self, run: RunLayout) -> LocalSession:
        container_root = Path(run.local_container_root)
        container_root.mkdir(parents=True, exist_ok=True)
        session = LocalSession(boto_session=self.boto_session, sagemaker_config=SDK_CONFIG)
        session.config = {"local": {"local_code": False, "container_root": str(container_root)}}
        return session

    # Processing

    def run_processing(
        self, request: ProcessingRequest, on_status: StatusCallback | None = None
    ) -> JobResult:
        notify = on_status or _ignore_status
        local = self.config.is_local
        session: Session = self._local_session(request.run) if local else self._session(request.run)
        settings = request.settings
        processor = _LocalInputsProcessor(
            role=None if local else self.config.aws.role_arn,
            image_uri=request.image_uri,
            instance_count=settings.instance_count,
            instance_type=settings.instance_type,
            entrypoint=request.entrypoint,
            volume_size_in_gb=settings.volume_size_gb,
            max_runtime_in_seconds=settings.max_runtime_seconds,
            base_job_name=request.job_name,
            sagemaker_session=session,
            env=request.environment or None,
        )
        inputs = [
            ProcessingInput(
                input_name=name,
                s3_input=ProcessingS3Input(
                    s3_uri=_file_uri(source) if local else source,
                    local_path=container_path,
                    s3_data_type="S3Prefix",
                    s3_input_mode="File",
                    s3_data_distribution_type="FullyReplicated",
                ),
            )
            for name, (source, container_path) in request.inputs.items()
        ]
        outputs = [
            ProcessingOutput(
                output_name=name,
                s3_output=ProcessingS3Output(
                    s3_uri=_file_uri(target) if local else target,
                    local_path=container_path,
                    s3_upload_mode="EndOfJob",
                ),
            )
            for name, (target, container_path) in request.outputs.items()
        ]
        output_uris = {name: target for name, (target, _) in request.outputs.items()}
        if local:
            for target, _ in request.outputs.values():
                Path(target).mkdir(parents=True, exist_ok=True)
            notify(JobStatus.IN_PROGRESS, "running in local mode (Docker)")
            status, reason = run_local_job(
                lambda: processor.run(
                    inputs=inputs,
                    outputs=outputs,
                    arguments=request.arguments or None,
                    # The local client runs the job to its end inside run(); waiting would only add the
                    # SDK's first 10-second poll.
                    wait=False,
                    logs=False,  # logs=True reads CloudWatch even in local mode
                    job_name=request.job_name,
                ),
                request.run.local_container_root,
                request.image_uri,
            )
            if status is JobStatus.COMPLETED and (problem := empty_output_problem(output_uris)):
                status, reason = JobStatus.FAILED, problem
            if status is JobStatus.COMPLETED:
                discard_scratch(request.run.local_container_root)
            return JobResult(request.job_name, status, reason, output_uris)

        processor.run(
            inputs=inputs,
            outputs=outputs,
            arguments=request.arguments or None,
            wait=False,
            logs=False,
            job_name=request.job_name,
        )
        notify(JobStatus.SUBMITTED, f"processing job {request.job_name} created", job_name=request.job_name)
        description = self._wait(
            lambda: session.sagemaker_client.describe_processing_job(ProcessingJobName=request.job_name),
            "ProcessingJobStatus",
            notify,
        )
        return self._result(request.job_name, description, "ProcessingJobStatus", output_uris)

    # Training

    def run_training(self, request: TrainingRequest, on_status: StatusCallback | None = None) -> JobResult:
        notify = on_status or _ignore_status
        settings = request.settings
        run = request.run
        common: dict[str, Any] = {
            "training_image": request.image_uri,
            "base_job_name": request.base_job_name,
            "hyperparameters": dict(request.hyperparameters),
            "environment": dict(request.environment),
            "stopping_condition": StoppingCondition(max_runtime_in_seconds=settings.max_runtime_seconds),
            "compute": Compute(
                instance_type=settings.instance_type,
                instance_count=settings.instance_count,
                volume_size_in_gb=settings.volume_size_gb,
            ),
        }
        if self.config.is_local:
            return self._run_local_training(request, common, notify)

        session = self._session(run)
        with _role_validation_disabled(self.config.aws.endpoint_url is not None):
            trainer = ModelTrainer(
                training_mode=Mode.SAGEMAKER_TRAINING_JOB,
                sagemaker_session=session,
                role=self.config.aws.role_arn,
                output_data_config=OutputDataConfig(s3_output_path=run.model_output),
                checkpoint_config=CheckpointConfig(s3_uri=run.checkpoints),
                **common,
            )
            if request.metric_regexes:
                trainer.with_metric_definitions(
                    [
                        MetricDefinition(name=name, regex=regex)
                        for name, regex in request.metric_regexes.items()
                    ]
                )
            channels = [
                InputData(channel_name=name, data_source=uri) for name, uri in request.channels.items()
            ]
            trainer.train(input_data_config=channels, wait=False, logs=False)
        # ModelTrainer appends its own timestamp to the base name; the real name is the one to follow.
        name = str(trainer._latest_training_job.training_job_name)
        notify(JobStatus.SUBMITTED, f"training job {name} created", job_name=name)
        description = self._wait(
            lambda: session.sagemaker_client.describe_training_job(TrainingJobName=name),
            "TrainingJobStatus",
            notify,
        )
        artifact = description.get("ModelArtifacts", {}).get("S3ModelArtifacts") or run.model_artifact(
            name, False
        )
        return self._result(name, description, "TrainingJobStatus", {"model": artifact})

    def _run_local_training(
        self, request: TrainingRequest, common: dict[str, Any], notify: StatusCallback
    ) -> JobResult:
        run = request.run
        container_root = Path(run.local_container_root)
        container_root.mkdir(parents=True, exist_ok=True)
        trainer = ModelTrainer(
            training_mode=Mode.LOCAL_CONTAINER,
            sagemaker_session=Session(boto_session=self.boto_session, sagemaker_config=SDK_CONFIG),
            local_container_root=str(container_root),
            **common,
        )
        channels = [
            InputData(channel_name=name, data_source=str(Path(path).resolve()))
            for name, path in request.channels.items()
        ]
        artifact = run.model_artifact(request.base_job_name, True)
        notify(JobStatus.IN_PROGRESS, "running in local mode (Docker)")
        status, reason = run_local_job(
            lambda: trainer.train(input_data_config=channels, wait=True, logs=False),
            run.local_container_root,
            request.image_uri,
        )
        if status is not JobStatus.COMPLETED:
            return JobResult(request.base_job_name, status, reason)
        # Local mode ignores output_data_config; the archive lands in the container root. The SDK packs it
        # even from an empty model folder, so only its content shows the job finished its work.
        produced = container_root / "compressed_artifacts" / MODEL_ARCHIVE
        if problem := model_archive_problem(produced):
            return JobResult(request.base_job_name, JobStatus.FAILED, problem)
        Path(artifact).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(produced, artifact)
        discard_scratch(run.local_container_root)
        return JobResult(request.base_job_name, JobStatus.COMPLETED, None, {"model": artifact})

    # Waiting

    def _wait(self, describe: Any, status_key: str, notify: StatusCallback) -> dict[str, Any]:
        reported: JobStatus | None = None
        while True:
            description: dict[str, Any] = describe()
            status = job_state(description, status_key).status
            if status is not reported:
                reported = status
                if not status.is_terminal:
                    notify(status, description.get("SecondaryStatus"))
            if status.is_terminal:
                return description
            time.sleep(self.poll_seconds)

    @staticmethod
    def _result(
        name: str, description: dict[str, Any], status_key: str, outputs: dict[str, str]
    ) -> JobResult:
        state = job_state(description, status_key)
        return JobResult(name, state.status, state.failure_reason, outputs, state.metrics)


def _ignore_status(status: JobStatus, message: str | None = None, *, job_name: str | None = None) -> None:
    pass
