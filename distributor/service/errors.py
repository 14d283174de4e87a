"""Errors raised by the service, all under `distributor.exceptions.DistributorError`::

DistributorError
└── ServiceError
    ├── ConfigError (ValueError)           a service or cluster setting out of range
    │   └── DependencyError                depends_on names an unknown task, or a cycle
    ├── OptionError (ValueError)           command-line options that cannot go together
    ├── TaskSpecError (ValueError)         a task definition that cannot be accepted
    ├── DuplicateTaskError (ValueError)    a name already in the journal, defined otherwise
    ├── UnknownTaskError (LookupError)     a task name the journal does not hold
    ├── NothingMatchedError (LookupError)  a selection (names, a tag) that matches no task
    ├── NotRetriableError (ValueError)     a task asked to be retried that did not fail
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
    "DependencyError",
    "DuplicateTaskError",
    "JournalError",
    "JournalLockedError",
    "NotRetriableError",
    "NothingMatchedError",
    "OptionError",
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


class DependencyError(ConfigError):
    """``depends_on`` names a task that does not exist, or the dependencies form a cycle.

    Attributes:
        tasks: the tasks concerned: the dependant and the unknown names, or the cycle in order
            (its first task repeated at the end); source: the tasks file, if there is one.
    """

    def __init__(self, tasks: Sequence[str], reason: str, source: str | None = None) -> None:
        self.tasks = tuple(tasks)
        self.source = source
        self.setting, self.value, self.reason = "depends_on", list(self.tasks), reason
        where = f"{source}: " if source else ""
        # ConfigError's "setting=value: reason" would repeat the names the reason gives
        super(ConfigError, self).__init__(f"{where}depends_on: {reason}")


class OptionError(ServiceError, ValueError):
    """Command-line options of the service's commands that cannot be used (together).

    Attributes:
        option: the option as typed (``--array``); reason: what is wrong and what to do.
    """

    def __init__(self, option: str, reason: str) -> None:
        self.option = option
        self.reason = reason
        super().__init__(f"{option}: {reason}")


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


class NothingMatchedError(ServiceError, LookupError):
    """A selection of tasks (names, a tag, ``--failed``) matches no task of the journal.

    Attributes:
        journal: the journal file; selection: what was asked for, as a phrase
            (``"tag 'nightly'"``, ``"task name 'x'"``).
    """

    def __init__(self, journal: Path | str, selection: str) -> None:
        self.journal = Path(journal)
        self.selection = selection
        super().__init__(f"nothing matched {selection} in journal {str(self.journal)!r}")


class NotRetriableError(ServiceError, ValueError):
    """A task asked to be retried has not failed (it is done, or still active).

    Attributes:
        task: the name; status: its status.
    """

    def __init__(self, task: str, status: str) -> None:
        self.task = task
        self.status = status
        super().__init__(
            f"task {task!r} is {status}: only failed or cancelled tasks can be retried"
        )


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
