"""Errors raised by the service, all under `distributor.exceptions.DistributorError`::

DistributorError
└── ServiceError
    ├── ConfigError (ValueError)           a service or cluster setting out of range
    ├── TaskSpecError (ValueError)         a task definition that cannot be accepted
    ├── DuplicateTaskError (ValueError)    a name already in the journal, defined otherwise
    ├── UnknownTaskError (LookupError)     a task name the journal does not hold
    ├── UnknownClusterError (LookupError)  a task names a cluster the service was not given
    └── JournalError                       the journal cannot be opened or is not ours
        └── JournalLockedError             another controller holds the journal
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from distributor.exceptions import DistributorError

__all__ = [
    "ConfigError",
    "DuplicateTaskError",
    "JournalError",
    "JournalLockedError",
    "ServiceError",
    "TaskSpecError",
    "UnknownClusterError",
    "UnknownTaskError",
]


class ServiceError(DistributorError):
    """Something the embeddable service refuses or cannot do."""


class ConfigError(ServiceError, ValueError):
    """A service or cluster setting is out of range.

    Attributes:
        setting: the setting's name; value: its value as given; reason: what is wrong.
    """

    def __init__(self, setting: str, value: object, reason: str) -> None:
        self.setting = setting
        self.value = value
        self.reason = reason
        super().__init__(f"{setting}={value!r}: {reason}")


class TaskSpecError(ServiceError, ValueError):
    """A task definition is malformed.

    Attributes:
        task: the task's name (or its repr when the name itself is bad); field: the offending
        field; value: its value as given; reason: what is wrong.
    """

    def __init__(self, task: str, field: str, value: object, reason: str) -> None:
        self.task = task
        self.field = field
        self.value = value
        self.reason = reason
        shown = repr(value)
        if len(shown) > 200:
            shown = shown[:200] + "…"
        super().__init__(f"task {task!r}: {field}={shown}: {reason}")


class DuplicateTaskError(ServiceError, ValueError):
    """A task of this name is already in the journal with a different definition.

    Attributes:
        task: the name; fields: the fields whose values differ.
    """

    def __init__(self, task: str, fields: Sequence[str]) -> None:
        self.task = task
        self.fields = tuple(fields)
        super().__init__(
            f"task {task!r} is already in the journal with a different "
            f"{', '.join(self.fields)}; task names are unique per journal — rename the new task "
            "or start a new journal"
        )


class UnknownTaskError(ServiceError, LookupError):
    """No task of this name is in the journal.

    Attributes:
        task: the name asked for.
    """

    def __init__(self, task: str) -> None:
        self.task = task
        super().__init__(f"no task named {task!r} in the journal")


class UnknownClusterError(ServiceError, LookupError):
    """A task names a cluster this service was not configured with.

    Attributes:
        cluster: the name asked for; known: the configured cluster names.
    """

    def __init__(self, cluster: str, known: Sequence[str]) -> None:
        self.cluster = cluster
        self.known = tuple(known)
        listing = ", ".join(self.known) or "(none)"
        super().__init__(
            f"cluster {cluster!r} is not configured in this service (configured: {listing})"
        )


class JournalError(ServiceError):
    """The journal file cannot be used.

    Attributes:
        path: the journal file; reason: why.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"journal {str(self.path)!r}: {reason}")


class JournalLockedError(JournalError):
    """Another live controller holds the journal's lock; two controllers would submit twice.

    Attributes:
        holder: what the lock file says about its holder (host and pid), if readable.
    """

    def __init__(self, path: Path | str, holder: str) -> None:
        self.holder = holder
        super().__init__(
            path,
            f"held by another controller ({holder or 'unknown holder'}); stop it, or use "
            "read-only access (status) or a control request (cancel) instead",
        )
