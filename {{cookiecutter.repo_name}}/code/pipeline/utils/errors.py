"""The pipeline's own errors, and how any exception reads in a job record's failure reason and in a batch's
error line. Imports nothing, so a module that only raises or catches these stays light."""

from __future__ import annotations

FAILURE_REASON_LIMIT = 1000  # characters kept; SageMaker's own FailureReason is at most 1024


class DatabaseError(Exception):
    """A database state the person running a batch has to act on."""


def one_line(exc: BaseException) -> str:
    """`Type: message` on one line (whitespace collapsed), cut to what a record keeps."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:FAILURE_REASON_LIMIT]
