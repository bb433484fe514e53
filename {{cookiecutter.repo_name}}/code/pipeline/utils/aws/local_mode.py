"""Run a job definition in SageMaker local mode: the same SDK objects as on SageMaker, run by the SDK's local
session as Docker containers on this machine, with every input and output a folder of the run.

Local mode hands back less than SageMaker does, so this executor also decides what SageMaker would have: how
the job ended (by its containers, `utils.aws.local_containers`), its failure reason, and whether its outputs
are usable (a training job's archive holds the model; a processing job wrote each output).
"""

from __future__ import annotations

import re
import shutil
import tarfile
from datetime import datetime
from pathlib import Path

from sagemaker.core.helper.session_helper import Session
from sagemaker.core.local.local_session import LocalSession
from sagemaker.train.model_trainer import Mode, ModelTrainer

from utils.aws import sdk_requests
from utils.aws.local_containers import run_local_job
from utils.aws.sdk_workarounds import SDK_CONFIG
from utils.aws.session import EndpointSession
from utils.config_reader import Config
from utils.db.enum import JobStatus
from utils.errors import one_line
from utils.job_definition import JobDefinition, JobResult, StatusCallback
from utils.job_specs import MODEL_ARCHIVE, MODEL_FILE


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


def logged_metrics(job: JobDefinition, log: list[str]) -> dict[str, float]:
    """What SageMaker would scrape from the job's log with its metric regexes: each metric's last value."""
    found: dict[str, float] = {}
    for name, regex in job.metric_regexes.items():
        pattern = re.compile(regex)
        for line in log:
            for match in pattern.finditer(line):
                try:
                    found[name] = float(match.group(1))
                except ValueError:
                    continue
    return found


def empty_output_problem(outputs: dict[str, str]) -> str | None:
    """Why a processing job's outputs cannot be used: a named output folder missing or without any file."""
    for name, folder in outputs.items():
        path = Path(folder)
        if not path.is_dir() or not any(item.is_file() for item in path.rglob("*")):
            return f"the job wrote nothing to its {name} output ({folder})"
    return None


def discard_scratch(container_root: str) -> None:
    """After a completed local job, the SDK's working copies under the container root (inputs, model and
    output folders, the compose file) serve nothing more: the run folder keeps the job's outputs only. A
    failed or stopped job keeps them, for its logs and failure file."""
    shutil.rmtree(container_root, ignore_errors=True)


class LocalModeExecutor:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.boto_session = EndpointSession(config.aws.region, config.aws.endpoint_url)

    def run(self, job: JobDefinition, on_status: StatusCallback) -> JobResult:
        container_root = Path(job.run.local_container_root)
        container_root.mkdir(parents=True, exist_ok=True)
        on_status(JobStatus.IN_PROGRESS, "running in local mode (Docker)")
        result = self._training(job, container_root) if job.is_training else self._processing(job)
        if result.succeeded:
            discard_scratch(job.run.local_container_root)
        return result

    def _processing(self, job: JobDefinition) -> JobResult:
        session = LocalSession(boto_session=self.boto_session, sagemaker_config=SDK_CONFIG)
        session.config = {"local": {"local_code": False, "container_root": job.run.local_container_root}}
        outputs = {name: data.uri for name, data in job.outputs.items()}
        for folder in outputs.values():
            Path(folder).mkdir(parents=True, exist_ok=True)
        processor = sdk_requests.processor(job, session, role=None)
        status, reason = run_local_job(
            lambda: processor.run(
                inputs=sdk_requests.processing_inputs(job, local=True),
                outputs=sdk_requests.processing_outputs(job, local=True),
                arguments=job.arguments or None,
                # The local client runs the job to its end inside run(); waiting would only add the SDK's
                # first 10-second poll.
                wait=False,
                logs=False,  # logs=True reads CloudWatch even in local mode
                job_name=job.name,
            ),
            job.run.local_container_root,
            job.image_uri,
        )
        if status is JobStatus.COMPLETED and (problem := empty_output_problem(outputs)):
            status, reason = JobStatus.FAILED, problem
        return JobResult(job.name, status, reason, outputs)

    def _training(self, job: JobDefinition, container_root: Path) -> JobResult:
        # Named as SageMaker names a training job: the base name and the time it starts.
        name = f"{job.name}-{datetime.now():%Y%m%d%H%M%S}"
        trainer = ModelTrainer(
            training_mode=Mode.LOCAL_CONTAINER,
            sagemaker_session=Session(boto_session=self.boto_session, sagemaker_config=SDK_CONFIG),
            local_container_root=str(container_root),
            **sdk_requests.trainer_settings(job),
        )
        log: list[str] = []
        status, reason = run_local_job(
            lambda: trainer.train(
                input_data_config=sdk_requests.training_channels(job, local=True), wait=True, logs=False
            ),
            job.run.local_container_root,
            job.image_uri,
            log,
        )
        if status is not JobStatus.COMPLETED:
            return JobResult(name, status, reason)
        # Local mode ignores output_data_config; the archive lands in the container root. The SDK packs it
        # even from an empty model folder, so only its content shows the job finished its work.
        produced = container_root / "compressed_artifacts" / MODEL_ARCHIVE
        if problem := model_archive_problem(produced):
            return JobResult(name, JobStatus.FAILED, problem)
        artifact = job.run.model_artifact(name, local=True)
        Path(artifact).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(produced, artifact)
        return JobResult(name, JobStatus.COMPLETED, None, {"model": artifact}, logged_metrics(job, log))
