"""The pipeline's own errors, and how any exception reads in a job record's failure reason and in a batch's
error line. Imports nothing, so a module that only raises or catches these stays light.

Library code raises these; only the command line (`batches.cli`) turns them into an error line and an exit
code.
"""

from __future__ import annotations

FAILURE_REASON_LIMIT = 1000  # characters kept; SageMaker's own FailureReason is at most 1024


class PipelineError(Exception):
    """A problem worded for the person who runs a batch; `exit_code` is the batch's exit status."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class RefusedError(PipelineError):
    """Bad input (an option, a parameter, a folder local mode cannot mount), refused before any record, job
    or container was made."""

    exit_code = 2


class DatabaseError(PipelineError):
    """A database state the person running a batch has to act on."""


class JobError(PipelineError):
    """The job did not complete: it failed, was stopped, or its end is unknown (the message says which and
    where its record is)."""


def one_line(exc: BaseException) -> str:
    """`Type: message` on one line (whitespace collapsed), cut to what a record keeps."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:FAILURE_REASON_LIMIT]
