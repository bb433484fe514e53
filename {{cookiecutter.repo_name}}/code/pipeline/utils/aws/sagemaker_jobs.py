"""What SageMaker says of a job, asked with boto3 alone (no SDK import): how a Describe*Job answer reads (used
by the batches while they wait and by `python -m utils.db sync`, which settles the records of jobs whose
batch ended first: Ctrl-C, a closed laptop, an expired credential), and the stop request."""

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
class JobState:
    """A job as one Describe*Job answer tells it."""

    status: JobStatus
    sagemaker_status: str
    failure_reason: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)


def job_state(description: dict[str, Any], key: str) -> JobState:
    """Read a DescribeTrainingJob / DescribeProcessingJob answer (`key`: its status field). A status this
    table does not know counts as still running; an end other than Completed always has a reason."""
    raw = str(description.get(key))
    status = SAGEMAKER_STATUSES.get(raw, JobStatus.IN_PROGRESS)
    reason = description.get("FailureReason") or (
        f"job ended as {raw}" if status.is_terminal and status is not JobStatus.COMPLETED else None
    )
    metrics = {
        metric["MetricName"]: float(metric["Value"])
        for metric in description.get("FinalMetricDataList", [])
        if "Value" in metric
    }
    return JobState(status, raw, reason, metrics)


def describe_job(session: boto3.Session, job_type: JobType, job_name: str) -> JobState | None:
    """The job's state in SageMaker; None when SageMaker has no job of that name (it answers
    ValidationException). Other API errors (credentials, network, permissions) propagate."""
    client = session.client("sagemaker")
    try:
        if job_type is JobType.TRAINING:
            description, key = client.describe_training_job(TrainingJobName=job_name), "TrainingJobStatus"
        else:
            description = client.describe_processing_job(ProcessingJobName=job_name)
            key = "ProcessingJobStatus"
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationException":
            return None
        raise
    return job_state(description, key)


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
