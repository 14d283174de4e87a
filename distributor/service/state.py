"""The controller's in-memory picture of the journal: rows of live tasks, instances and batches.

Only what is still in play is held (non-terminal tasks, non-final instances, batches with live
members); terminal tasks are counted, not kept, so memory stays flat for long journals. Rows are
mutable and are written back by `distributor.service.journal.Transaction`.
"""

from __future__ import annotations

import enum

from distributor.exit_info import TaskInstanceStatus
from distributor.service.model import TaskStatus

__all__ = ["LIVE_STATES", "BatchRow", "BatchState", "InstanceRow", "TaskRow"]

S = TaskInstanceStatus

LIVE_STATES: frozenset[TaskInstanceStatus] = frozenset(
    {S.QUEUED, S.INSTANTIATED, S.LAUNCHED, S.RUNNING, S.TRIAGING}
)
"""Instance states that are not final: ``Q`` waiting in the service, ``I`` being submitted
(intent recorded), ``O`` in the scheduler, ``R`` running, ``T`` ended but not yet classified."""


class BatchState(enum.StrEnum):
    """Where one submission stands."""

    INTENT = "intent"
    """Recorded, possibly sent: if the controller finds it at startup, it is *in doubt*."""
    SUBMITTED = "submitted"
    """The scheduler answered with ids, which are recorded."""
    REFUSED = "refused"
    """The scheduler refused it (members became ``W``)."""
    ABANDONED = "abandoned"
    """In doubt and not looked up: its members were marked ``U`` (see `InDoubtPolicy`)."""


class TaskRow:
    """A non-terminal task (or one that just became terminal in this transaction)."""

    __slots__ = (
        "attempts",
        "budget",
        "cancel_requested",
        "cluster",
        "id",
        "live",
        "max_attempts",
        "message",
        "name",
        "owner",
        "priority",
        "retry_delay",
        "status",
        "tags",
    )

    def __init__(
        self,
        id: int,
        name: str,
        *,
        cluster: str,
        owner: str,
        priority: int,
        max_attempts: int,
        tags: frozenset[str],
        status: TaskStatus = TaskStatus.ACTIVE,
        attempts: int = 0,
        cancel_requested: bool = False,
        message: str = "",
        retry_delay: float | None = None,
        budget: int | None = None,
    ) -> None:
        self.id = id
        self.name = name
        self.cluster = cluster
        self.owner = owner
        self.priority = priority
        self.max_attempts = max_attempts
        self.tags = tags
        self.status = status
        self.attempts = attempts
        self.cancel_requested = cancel_requested
        self.message = message
        self.retry_delay = retry_delay
        """The task's own first retry delay (None: the service's)."""
        self.budget = max_attempts if budget is None else budget
        """Attempts its definition allows; `max_attempts` grows by this on each `retry`."""
        self.live: int | None = None
        """The id of the task's non-final instance, if any."""


class InstanceRow:
    """One attempt of a task; `resources` is the canonical JSON of its request."""

    __slots__ = (
        "attempt",
        "batch_id",
        "created_at",
        "distributor_id",
        "id",
        "kill_pending",
        "message",
        "not_before",
        "queue",
        "resources",
        "status",
        "status_at",
        "step",
        "submitted_at",
        "task_id",
        "triage_since",
    )

    def __init__(
        self,
        id: int,
        task_id: int,
        attempt: int,
        *,
        queue: str | None,
        resources: str,
        created_at: float,
        status: TaskInstanceStatus = TaskInstanceStatus.QUEUED,
    ) -> None:
        self.id = id
        self.task_id = task_id
        self.attempt = attempt
        self.queue = queue
        self.resources = resources
        self.created_at = created_at
        self.status = status
        self.status_at = created_at
        self.message = ""
        self.batch_id: int | None = None
        self.step: int | None = None
        self.distributor_id: str | None = None
        self.submitted_at: float | None = None
        self.triage_since: float | None = None
        self.kill_pending = False
        self.not_before: float | None = None
        """A retry waiting out its delay (``Q``) is not submitted before this moment."""


class BatchRow:
    """One submission: its name, members (step → instance id) and, once known, their ids."""

    __slots__ = ("cluster", "id", "ids", "members", "name", "state")

    def __init__(
        self,
        id: int,
        name: str,
        cluster: str,
        members: dict[int, int],
        state: BatchState = BatchState.INTENT,
    ) -> None:
        self.id = id
        self.name = name
        self.cluster = cluster
        self.members = members
        self.state = state
        self.ids: dict[int, str] = {}
