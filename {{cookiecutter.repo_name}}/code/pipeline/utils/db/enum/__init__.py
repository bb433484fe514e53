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

    def can_become(self, status: JobStatus) -> bool:
        """A job moves forward until it ends; an ended job's status is final (a late signal or poll cannot
        turn a Completed job Stopped, nor a Stopped one Completed)."""
        return status == self or not self.is_terminal
