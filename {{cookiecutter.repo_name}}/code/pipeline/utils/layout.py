"""Every location of every run, on S3 and in local mode, and unique run ids and job names.

S3:    s3://{bucket}/{prefix}/{model}/{stage}/{run_id}/...     one folder per job run
local: {runs_dir}/{run folder}/{stage}/...                     one folder per lifecycle run

A local run folder holds every stage of one lifecycle: `scripts/local_run/pipeline.sh` names one and hands it
to each batch (PIPELINE_RUN_FOLDER); a batch run on its own opens a folder named after its own run id. Job
records keep their own run ids either way, so the database tells the stages apart.

Below a stage's root (S3: .../{stage}/{run_id}, local: .../{run folder}/{stage}):

    collection:  raw/data.csv
    preprocess:  {train,validation,test}/                    processing outputs, one folder per split
    training:    model/{job_name}/output/model.tar.gz          (local mode: model/model.tar.gz)
                 checkpoints/
    evaluation:  report/evaluation.json                        and the job's plots beside it
    inference:   predictions/data.csv                          one CSV per input file, named after it
    any stage:   sagemaker/                                    anything the SDK stages (code, local inputs)
                 container-{run_id}/                           local mode only: the SDK's container root
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from utils.aws.s3_client import join
from utils.config_reader import Config, StorageSettings
from utils.db.enum import JobType
from utils.job_specs import EVALUATION_REPORT, MODEL_ARCHIVE, RAW_DATA_FILE

JOB_NAME_MAX = 63
# Length of the `-YYYYmmddHHMMSS` that ModelTrainer appends to every training job's base name.
TRAINING_NAME_TIMESTAMP = 15
# Pipeline steps name their jobs `<prefix>-<random>`; a short prefix keeps the whole within JOB_NAME_MAX.
PIPELINE_JOB_PREFIX_MAX = 40


def new_run_id(now: datetime | None = None) -> str:
    """UTC time to the second plus 6 random hex digits: sortable, and two runs in one second still differ."""
    return f"{(now or datetime.now(UTC)):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def sagemaker_name(text: str, suffix: str = "", limit: int = JOB_NAME_MAX) -> str:
    """`text` in the letters, digits and hyphens SageMaker names allow, cut so that with `suffix` it has at
    most `limit` characters."""
    return re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-")[: limit - len(suffix)].strip("-") + suffix


def job_name(model_name: str, job_type: JobType, run_id: str) -> str:
    """A SageMaker job name (letters, digits, hyphens, at most 63) that embeds the run id.

    For training it is the base name only: the SDK's ModelTrainer always appends `-YYYYmmddHHMMSS`, so the
    base carries just the run id's random part and the final name is read back after submission.
    """
    if job_type is JobType.TRAINING:
        suffix, limit = (
            f"-{job_type.value}-{run_id.rsplit('-', 1)[-1]}",
            JOB_NAME_MAX - TRAINING_NAME_TIMESTAMP,
        )
    else:
        suffix, limit = f"-{job_type.value}-{run_id}", JOB_NAME_MAX
    return sagemaker_name(model_name, suffix, limit)


def pipeline_job_prefix(model_name: str, job_type: JobType) -> str:
    """`<model>-<stage>`, short enough to leave SageMaker Pipelines room for the part it appends."""
    return sagemaker_name(model_name, f"-{job_type.value}", PIPELINE_JOB_PREFIX_MAX)


@dataclass(frozen=True)
class RunLayout:
    """The locations of one run of one stage."""

    job_type: JobType
    run_id: str
    root: str
    bucket: str | None
    key_prefix: str | None

    def path(self, *parts: str) -> str:
        return join(self.root, *parts)

    # Collection
    @property
    def raw_data(self) -> str:
        return self.path("raw", RAW_DATA_FILE)

    @property
    def raw_dir(self) -> str:
        return self.path("raw")

    # Processing outputs (preprocess splits, evaluation report, predictions) by output name
    def output(self, name: str) -> str:
        return self.path(name)

    # Training
    @property
    def model_output(self) -> str:
        """Where a training job writes; SageMaker adds `{job_name}/output/model.tar.gz` below it."""
        return self.path("model")

    def model_artifact(self, name_of_job: str, local: bool) -> str:
        return (
            self.path("model", MODEL_ARCHIVE)
            if local
            else self.path("model", name_of_job, "output", MODEL_ARCHIVE)
        )

    @property
    def checkpoints(self) -> str:
        return self.path("checkpoints")

    # Reports
    @property
    def evaluation_report(self) -> str:
        return self.path("report", EVALUATION_REPORT)

    @property
    def predictions_dir(self) -> str:
        return self.path("predictions")

    # What the SDK stages: the Session's default bucket and key prefix point here
    @property
    def sdk_staging(self) -> str:
        return self.path("sagemaker")

    @property
    def sdk_staging_key_prefix(self) -> str | None:
        return join(self.key_prefix, "sagemaker") if self.key_prefix is not None else None

    @property
    def local_container_root(self) -> str:
        # Docker Compose names its project after this folder: a unique name keeps parallel runs apart.
        return self.path(f"container-{self.run_id}")


class Layout:
    """The locations of the config's environment; with `storage`, its S3 locations whatever the environment
    (the local pipeline run keeps its data in an S3 of its own)."""

    def __init__(self, config: Config, storage: StorageSettings | None = None) -> None:
        self.config = config
        storage = storage or (None if config.is_local else config.storage)
        if storage is None:
            self.local = True
            self.bucket: str | None = None
            self.prefix: str | None = None
            self.root = config.runs_dir.as_posix()
        else:
            self.local = False
            self.bucket = storage.bucket
            self.prefix = join(storage.prefix, config.model_name).lstrip("/")
            self.root = f"s3://{self.bucket}/{self.prefix}"

    def run(self, job_type: JobType, run_id: str) -> RunLayout:
        key_prefix = (
            join(self.prefix, job_type.value, run_id).lstrip("/") if self.prefix is not None else None
        )
        root = (
            join(self.root, self.run_folder(run_id), job_type.value)
            if self.local
            else join(self.root, job_type.value, run_id)
        )
        return RunLayout(
            job_type=job_type,
            run_id=run_id,
            root=root,
            bucket=self.bucket,
            key_prefix=key_prefix,
        )

    def run_folder(self, run_id: str) -> str:
        """Local mode: the lifecycle's folder name under the runs folder."""
        return self.config.run_folder or run_id

    def job_name(self, job_type: JobType, run_id: str) -> str:
        return job_name(self.config.model_name, job_type, run_id)

    def pipeline_job_prefix(self, job_type: JobType) -> str:
        """The name prefix of a pipeline step's jobs, `<model>-<stage>`: SageMaker adds the rest."""
        return pipeline_job_prefix(self.config.model_name, job_type)
