"""What a workflow engine hands the service (`TaskSpec`) and what it gets back (`TaskInfo`).

A *task* is a unit of work with a unique name; each attempt to run it is a *task instance* with
one of Jobmon's status codes (`distributor.exit_info.TaskInstanceStatus`). A task ends in exactly
one terminal `TaskStatus`: ``done``, ``failed`` or ``cancelled``.
"""

from __future__ import annotations

import enum
import json
import math
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from distributor.exceptions import ResourceError
from distributor.exit_info import TaskInstanceStatus
from distributor.resources import parse_runtime
from distributor.service.errors import TaskSpecError
from distributor.service.events import AttemptOutcome
from distributor.service.staging import STAGING_FIELDS, check_staging

__all__ = [
    "AttemptInfo",
    "DEFAULT_MAX_ATTEMPTS",
    "TERMINAL_TASK_STATES",
    "Summary",
    "TaskInfo",
    "TaskSpec",
    "TaskStatus",
    "parse_delay",
]

_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_NAME = 255
_MAX_ATTEMPTS_CAP = 100
_MAX_RETRY_DELAY = 7 * 86400.0
DEFAULT_MAX_ATTEMPTS = 3
"""Attempts a task gets when neither it nor `ServiceConfig.max_attempts` says otherwise."""


class TaskStatus(enum.StrEnum):
    """Where a task stands; the last three are terminal."""

    ACTIVE = "active"
    """Waiting for, or running, an attempt."""
    DONE = "done"
    FAILED = "failed"
    """An attempt ended in a state that is not retried, or attempts were exhausted."""
    CANCELLED = "cancelled"


TERMINAL_TASK_STATES: frozenset[TaskStatus] = frozenset(
    {TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED}
)


def _text(task: str, key: str, value: object, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise TaskSpecError(task, key, value, f"must be a string, not {type(value).__name__}")
    if not allow_empty and not value:
        raise TaskSpecError(task, key, value, "must not be empty")
    if _CONTROL.search(value):
        raise TaskSpecError(task, key, value, "must not contain control characters")
    return value


def _command(task: str, value: object) -> str:
    """Return the command as one shell command line (an argv list is quoted and joined)."""
    if isinstance(value, str):
        if not value.strip():
            raise TaskSpecError(task, "command", value, "must not be empty")
        text = value
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        argv = list(value)
        if not argv or not all(isinstance(arg, str) for arg in argv):
            raise TaskSpecError(task, "command", value, "an argv list must be non-empty strings")
        text = shlex.join(argv)
    else:
        raise TaskSpecError(
            task, "command", value, "must be a string (run by sh -c) or an argv list of strings"
        )
    if "\0" in text:
        raise TaskSpecError(task, "command", value, "must not contain a NUL byte")
    return text


def parse_delay(value: object) -> float:
    """Seconds from a number (``0``, ``2.5``) or a duration (``"30s"``, ``"2m"``, ``"1h"``).

    Raises:
        ValueError: not a finite, non-negative duration of at most a week.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    number: float
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            try:
                number = float(parse_runtime(value))
            except ResourceError as exc:
                raise ValueError(f"{value!r} is not a duration (use 30, 30s, 2m or 1h)") from exc
    else:
        raise ValueError(f"{value!r} is not a duration (use 30, 30s, 2m or 1h)")
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{value!r} must be zero or more seconds")
    if number > _MAX_RETRY_DELAY:
        raise ValueError(f"{value!r} is longer than a week")
    return number


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One task as the caller defines it; validated and normalised on construction.

    Attributes:
        name: unique within a journal; printable, at most 255 characters.
        command: a command line run by ``/bin/sh -c``, or an argv list (quoted and joined).
        cluster: the configured cluster to run on; None means the service's first cluster.
        queue: the queue (partition) to request; None means the cluster's default queue.
        resources: ``memory``, ``runtime``, ``cores``, ``gpus`` and the plugin's pass-through keys,
            as accepted by the queue's ``coerce_resources``.
        max_attempts: attempts allowed in total (1 = never retried), 1 to 100; None means
            `ServiceConfig.max_attempts` (3 unless configured), fixed when the task is added.
        retry_delay: seconds (or a duration such as ``"30s"``) before the first retry of a
            failed attempt; each further retry waits `ServiceConfig.retry_backoff` times longer,
            up to `ServiceConfig.retry_delay_max`. None means `ServiceConfig.retry_delay`.
        depends_on: names of tasks that must end ``done`` before this one is submitted; if one
            fails or is cancelled, this task ends ``cancelled`` without running.
        priority: higher goes first; each step up weighs more (see `ServiceConfig.priority_base`).
        tags: labels for cancelling, waiting and filtering events.
        owner: the workflow or user this task belongs to; capacity is shared fairly between owners.
        env: extra environment variables for the command (names are shell identifiers).
        cwd: the absolute directory the command runs in (default: the scheduler's own choice,
            usually the submitter's working directory); not with `inputs` or `outputs`.
        inputs: absolute local files or directories uploaded into the task's directory before
            each submission; the task then runs there (`distributor.service.staging`).
        outputs: glob patterns, relative to the task's directory, of the files to fetch.
        output_dir: the absolute local directory the outputs and logs of the attempt that
            ended ``D`` are fetched into. Staging needs a cluster with
            `distributor.protocols.SupportsResults` (the batch plugins).

    Raises:
        TaskSpecError: any field is malformed; the message names task, field and value.
    """

    name: str
    command: str | Sequence[str]
    cluster: str | None = None
    queue: str | None = None
    resources: Mapping[str, Any] = field(default_factory=dict)
    max_attempts: int | None = None
    priority: int = 0
    tags: frozenset[str] | Sequence[str] = frozenset()
    owner: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    retry_delay: float | str | None = None
    depends_on: Sequence[str] = ()
    inputs: Sequence[str] = ()
    outputs: Sequence[str] = ()
    output_dir: str | None = None

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not name or len(name) > _MAX_NAME:
            raise TaskSpecError(
                repr(name), "name", name, f"must be a non-empty string of at most {_MAX_NAME} chars"
            )
        _text(name, "name", name)
        object.__setattr__(self, "command", _command(name, self.command))
        for key in ("cluster", "queue"):
            value = getattr(self, key)
            if value is not None:
                _text(name, key, value)
        _text(name, "owner", self.owner, allow_empty=True)
        attempts = self.max_attempts
        if attempts is not None:
            if isinstance(attempts, bool) or not isinstance(attempts, int):
                raise TaskSpecError(name, "max_attempts", attempts, "must be a whole number")
            if not 1 <= attempts <= _MAX_ATTEMPTS_CAP:
                raise TaskSpecError(
                    name, "max_attempts", attempts, f"must be between 1 and {_MAX_ATTEMPTS_CAP}"
                )
        if self.retry_delay is not None:
            try:
                object.__setattr__(self, "retry_delay", parse_delay(self.retry_delay))
            except ValueError as exc:
                raise TaskSpecError(name, "retry_delay", self.retry_delay, str(exc)) from None
        depends = self.depends_on
        if isinstance(depends, str) or not isinstance(depends, Sequence | frozenset | set):
            raise TaskSpecError(name, "depends_on", depends, "must be a list of task names")
        for other in depends:
            _text(name, "depends_on", other)
            if other == name:
                raise TaskSpecError(name, "depends_on", other, "a task cannot depend on itself")
        object.__setattr__(self, "depends_on", tuple(sorted(set(depends))))
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise TaskSpecError(name, "priority", self.priority, "must be a whole number")
        if not -1000 <= self.priority <= 1000:
            raise TaskSpecError(name, "priority", self.priority, "must be between -1000 and 1000")
        if isinstance(self.tags, str):
            raise TaskSpecError(name, "tags", self.tags, "must be a collection of strings")
        tags = frozenset(self.tags)
        for tag in tags:
            _text(name, "tags", tag)
        object.__setattr__(self, "tags", tags)
        if not isinstance(self.resources, Mapping):
            raise TaskSpecError(name, "resources", self.resources, "must be a mapping")
        for key, value in self.resources.items():
            if not isinstance(key, str):
                raise TaskSpecError(name, "resources", key, "resource keys must be strings")
            if key in STAGING_FIELDS:
                raise TaskSpecError(name, f"resources[{key!r}]", value,
                                    f"staging is a field of its own: {key}=…")  # fmt: skip
            if value is not None and not isinstance(value, str | int | float):
                raise TaskSpecError(
                    name, f"resources[{key!r}]", value, "must be a string or a number"
                )
        object.__setattr__(self, "resources", dict(self.resources))
        if not isinstance(self.env, Mapping):
            raise TaskSpecError(name, "env", self.env, "must be a mapping of names to strings")
        for key, value in self.env.items():
            if not isinstance(key, str) or not _ENV_KEY.match(key):
                raise TaskSpecError(name, "env", key, "variable names must be shell identifiers")
            if not isinstance(value, str) or "\0" in value:
                raise TaskSpecError(name, f"env[{key!r}]", value, "must be a string without NUL")
        object.__setattr__(self, "env", dict(self.env))
        cwd = self.cwd
        if cwd is not None and (not isinstance(cwd, str) or not cwd.startswith("/") or "\0" in cwd):
            raise TaskSpecError(name, "cwd", cwd, "must be an absolute path")
        inputs, outputs, _ = check_staging(name, self.inputs, self.outputs, self.output_dir, cwd)
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "outputs", outputs)

    @property
    def retry_delay_seconds(self) -> float | None:
        """`retry_delay` in seconds (None when unset)."""
        assert not isinstance(self.retry_delay, str)  # normalised in __post_init__
        return self.retry_delay

    @property
    def command_line(self) -> str:
        """The command as the shell line that is run."""
        assert isinstance(self.command, str)  # normalised in __post_init__
        return self.command

    def to_json(self, *, default_max_attempts: int | None = None) -> str:
        """The canonical JSON of the definition: equal definitions give equal text.

        Args:
            default_max_attempts: written as ``max_attempts`` when the spec leaves it None
                (the service records definitions with their attempts fixed).
        """
        attempts = self.max_attempts if self.max_attempts is not None else default_max_attempts
        return json.dumps(
            {
                "name": self.name,
                "command": self.command_line,
                "cluster": self.cluster,
                "queue": self.queue,
                "resources": self.resources,
                **({"max_attempts": attempts} if attempts is not None else {}),
                "priority": self.priority,
                "tags": sorted(self.tags),
                "owner": self.owner,
                "env": self.env,
                **({"cwd": self.cwd} if self.cwd is not None else {}),
                **({"retry_delay": self.retry_delay} if self.retry_delay is not None else {}),
                **({"depends_on": list(self.depends_on)} if self.depends_on else {}),
                **({"inputs": list(self.inputs)} if self.inputs else {}),
                **({"outputs": list(self.outputs)} if self.outputs else {}),
                **({"output_dir": self.output_dir} if self.output_dir is not None else {}),
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> TaskSpec:
        """Rebuild a definition from `to_json` output."""
        data = json.loads(text)
        return cls(**data)

    def differences(self, other: TaskSpec) -> list[str]:
        """Names of the fields whose values differ from `other`."""
        mine, theirs = json.loads(self.to_json()), json.loads(other.to_json())
        return sorted(
            key for key in mine.keys() | theirs.keys() if mine.get(key) != theirs.get(key)
        )


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """A task's state as recorded in the journal.

    Attributes:
        status: the task's `TaskStatus`.
        instance_status: the latest attempt's status code (None before the first attempt exists).
        attempts: attempts created so far (including one waiting to be submitted).
        message: why the task ended (or the latest attempt's message while active).
        distributor_id: the scheduler's id of the latest attempt, once submitted.
        step: the latest attempt's step in its array submission.
        outcome: what the latest attempt did and where its output is, once it ended (where
            the distributor can tell).
        waiting_for: while active, the dependencies that have not ended ``done`` yet (the task
            has no attempt until they have).
        next_attempt_at: while a retry waits out its delay, when it may be submitted (seconds
            since the epoch).
    """

    name: str
    status: TaskStatus
    instance_status: TaskInstanceStatus | None
    attempts: int
    max_attempts: int
    message: str
    distributor_id: str | None
    tags: frozenset[str]
    owner: str
    cluster: str
    step: int | None = None
    outcome: AttemptOutcome | None = None
    waiting_for: tuple[str, ...] = ()
    next_attempt_at: float | None = None

    @property
    def terminal(self) -> bool:
        """True once the task has ended (done, failed or cancelled)."""
        return self.status in TERMINAL_TASK_STATES


@dataclass(frozen=True, slots=True)
class AttemptInfo:
    """One attempt of a task, as recorded in the journal.

    Attributes:
        attempt: 1, 2, …; status: its `TaskInstanceStatus` code; message: what happened.
        distributor_id / step: the scheduler's id and the array step, once submitted.
        queue: the queue it asked for; created_at / submitted_at / status_at: seconds since
            the epoch (created, sent to the scheduler, last changed).
        outcome: what it did and where its output is, once it ended.
    """

    attempt: int
    status: TaskInstanceStatus
    message: str
    distributor_id: str | None
    step: int | None
    queue: str | None
    created_at: float
    submitted_at: float | None
    status_at: float
    outcome: AttemptOutcome | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts over every task in the journal.

    Attributes:
        tasks: tasks by `TaskStatus` value (every status present, zero included).
        active: active tasks by their latest attempt's status code (``"waiting"`` for tasks
            waiting for dependencies, which have no attempt yet).
        total: all tasks.
    """

    tasks: Mapping[str, int]
    active: Mapping[str, int]
    total: int

    @property
    def finished(self) -> bool:
        """True when every task is terminal."""
        return self.tasks.get(TaskStatus.ACTIVE.value, 0) == 0

    @property
    def all_done(self) -> bool:
        """True when every task ended ``done``."""
        return self.tasks.get(TaskStatus.DONE.value, 0) == self.total
