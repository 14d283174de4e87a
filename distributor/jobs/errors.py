"""Errors raised by `distributor.jobs`, all under `distributor.exceptions.DistributorError`::

DistributorError
└── JobError (ValueError)          a job definition that cannot be accepted (job, field, value)
    ├── SplitterError              a splitter that cannot split this job (no input files,
    │                              a generator past max_subjobs)
    └── JobFileError               a job file (TOML or CAF JSON) that cannot be read
"""

from __future__ import annotations

from distributor.exceptions import DistributorError

__all__ = ["JobError", "JobFileError", "SplitterError"]


class JobError(DistributorError, ValueError):
    """A job definition that cannot be accepted.

    Attributes:
        job: the job's name (or its place in a file).
        field: the offending field.
        value: the offending value.
        reason: what is wrong and, where it helps, what to do instead.
    """

    def __init__(self, job: str, field: str, value: object, reason: str) -> None:
        self.job = job
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"job {job!r}: {field}={value!r} {reason}")


class SplitterError(JobError):
    """A splitter that cannot split a job: a file splitter given a job without input files,
    an arguments generator that goes past ``max_subjobs``, a limit that is not a positive
    whole number."""


class JobFileError(JobError):
    """A job file that cannot be read: not TOML or JSON, an unknown key, a bad value; the
    message names the file and the key."""
