"""What SageMaker itself says of a job, asked with boto3 alone (no SDK import): the status map the batches
use while they wait, and the look-up that `python -m utils.db sync` uses to settle the records of jobs whose
batch ended first (Ctrl-C, a closed laptop, an expired credential)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from utils.db.enum import JobStatus, JobType

SAGEMAKER_STATUSES = {
    "InProgress": JobStatus.IN_PROGRESS,
    "Stopping": JobStatus.IN_PROGRESS,
    "Completed": JobStatus.COMPLETED,
    "Failed": JobStatus.FAILED,
    "Stopped": JobStatus.STOPPED,
}


@dataclass(frozen=True)
class RemoteJob:
    """A job as SageMaker describes it."""

    status: JobStatus
    sagemaker_status: str
    failure_reason: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)


def _metrics(description: dict[str, Any]) -> dict[str, float]:
    return {
        metric["MetricName"]: float(metric["Value"])
        for metric in description.get("FinalMetricDataList", [])
        if "Value" in metric
    }


def describe_job(session: boto3.Session, job_type: JobType, job_name: str) -> RemoteJob | None:
    """The job's state in SageMaker; None when SageMaker has no job of that name. Other API errors
    (credentials, network, permissions) propagate: they say nothing about the job."""
    client = session.client("sagemaker")
    try:
        if job_type is JobType.TRAINING:
            description = client.describe_training_job(TrainingJobName=job_name)
            raw = str(description.get("TrainingJobStatus"))
        else:
            description = client.describe_processing_job(ProcessingJobName=job_name)
            raw = str(description.get("ProcessingJobStatus"))
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if (
            error.get("Code") in {"ValidationException", "ResourceNotFound"}
            and "not" in str(error.get("Message", "")).lower()
        ):
            return None
        raise
    status = SAGEMAKER_STATUSES.get(raw, JobStatus.IN_PROGRESS)
    reason = description.get("FailureReason") or (
        None if status in {JobStatus.COMPLETED, JobStatus.IN_PROGRESS} else f"job ended as {raw}"
    )
    return RemoteJob(status, raw, reason, _metrics(description) if job_type is JobType.TRAINING else {})


def stop_job(session: boto3.Session, job_type: JobType, job_name: str) -> None:
    """Ask SageMaker to stop the job (it goes Stopping, then Stopped); a job that already ended is left."""
    client = session.client("sagemaker")
    try:
        if job_type is JobType.TRAINING:
            client.stop_training_job(TrainingJobName=job_name)
        else:
            client.stop_processing_job(ProcessingJobName=job_name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ValidationException":  # e.g. it completed meanwhile
            raise
