"""Job types and statuses stored in the database."""

from __future__ import annotations

from enum import StrEnum


class JobType(StrEnum):
    COLLECTION = "collection"
    PREPROCESS = "preprocess"
    TRAINING = "training"
    EVALUATION = "evaluation"
    INFERENCE = "inference"


class JobStatus(StrEnum):
    """Lifecycle of a job record; SageMaker's own statuses map onto the last four."""

    CREATED = "Created"
    SUBMITTED = "Submitted"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"

    @property
    def is_terminal(self) -> bool:
        return self in {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED}
