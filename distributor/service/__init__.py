"""The embeddable service: drive tasks to completion through any plugin, and lose nothing.

A workflow engine builds a `Service` on a journal file and one or more `Cluster` objects,
adds `TaskSpec` objects, and runs cycles (`Service.run`, `Service.wait` or `Service.step`).
Every transition is recorded in the journal before it is acted on, so a new `Service` on the
same journal after a crash picks up everything in flight. See ``docs/service.md``.

Names load on first use (PEP 562): importing a submodule such as the command's parser does
not import the whole service.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from distributor.service.config import (
        Cluster,
        InDoubtPolicy,
        ServiceConfig,
        Throttle,
    )
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
    from distributor.service.events import (
        AttemptOutcome,
        Event,
        EventKind,
        EventSink,
    )
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
del TYPE_CHECKING

from distributor._lazy import attach as _attach  # noqa: E402  (after the type-only imports)

_WHERE = {
    "AttemptInfo": "distributor.service.model",
    "AttemptOutcome": "distributor.service.events",
    "Cluster": "distributor.service.config",
    "ConfigError": "distributor.service.errors",
    "DependencyError": "distributor.service.errors",
    "DuplicateTaskError": "distributor.service.errors",
    "Event": "distributor.service.events",
    "EventKind": "distributor.service.events",
    "EventSink": "distributor.service.events",
    "FairQueue": "distributor.service.policy",
    "InDoubtPolicy": "distributor.service.config",
    "JournalError": "distributor.service.errors",
    "JournalLockedError": "distributor.service.errors",
    "NotRetriableError": "distributor.service.errors",
    "NothingMatchedError": "distributor.service.errors",
    "OptionError": "distributor.service.errors",
    "Service": "distributor.service.service",
    "ServiceConfig": "distributor.service.config",
    "ServiceError": "distributor.service.errors",
    "StepReport": "distributor.service.service",
    "Summary": "distributor.service.model",
    "SupportsLookupByName": "distributor.service.extensions",
    "TERMINAL_TASK_STATES": "distributor.service.model",
    "TaskInfo": "distributor.service.model",
    "TaskSpec": "distributor.service.model",
    "TaskSpecError": "distributor.service.errors",
    "TaskStatus": "distributor.service.model",
    "Throttle": "distributor.service.config",
    "UnknownClusterError": "distributor.service.errors",
    "UnknownTaskError": "distributor.service.errors",
}


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

__getattr__, __dir__ = _attach(__name__, _WHERE, globals(), __all__)
