"""Errors whose message is meant for the person who started the job, not a stack trace."""


class JobError(Exception):
    """The job cannot go on because of its input; the message says what to fix."""


class MissingInputError(JobError):
    """An input channel or folder the job needs was not given or is empty."""
