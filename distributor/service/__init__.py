"""The embeddable service: drive tasks to completion through any plugin, and lose nothing.

A workflow engine builds a `Service` on a journal file and one or more `Cluster` objects,
adds `TaskSpec` objects, and runs cycles (`Service.run`, `Service.wait` or `Service.step`).
Every transition is recorded in the journal before it is acted on, so a new `Service` on the
same journal after a crash picks up everything in flight. See ``docs/service.md``.
"""

from distributor.service.config import Cluster, InDoubtPolicy, ServiceConfig, Throttle
from distributor.service.errors import (
    ConfigError,
    DependencyError,
    DuplicateTaskError,
    JournalError,
    JournalLockedError,
    NothingMatchedError,
    NotRetriableError,
    OptionError,
    ServiceError,
    TaskSpecError,
    UnknownClusterError,
    UnknownTaskError,
)
from distributor.service.events import AttemptOutcome, Event, EventKind, EventSink
from distributor.service.extensions import SupportsLookupByName
from distributor.service.model import (
    TERMINAL_TASK_STATES,
    AttemptInfo,
    Summary,
    TaskInfo,
    TaskSpec,
    TaskStatus,
)
from distributor.service.policy import FairQueue
from distributor.service.service import Service, StepReport

__all__ = [
    "AttemptInfo",
    "AttemptOutcome",
    "Cluster",
    "ConfigError",
    "DependencyError",
    "DuplicateTaskError",
    "Event",
    "EventKind",
    "EventSink",
    "FairQueue",
    "InDoubtPolicy",
    "JournalError",
    "JournalLockedError",
    "NotRetriableError",
    "NothingMatchedError",
    "OptionError",
    "Service",
    "ServiceConfig",
    "ServiceError",
    "StepReport",
    "Summary",
    "SupportsLookupByName",
    "TERMINAL_TASK_STATES",
    "TaskInfo",
    "TaskSpec",
    "TaskSpecError",
    "TaskStatus",
    "Throttle",
    "UnknownClusterError",
    "UnknownTaskError",
]
