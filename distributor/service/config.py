"""How the service is tuned (`ServiceConfig`) and what it knows of each cluster (`Cluster`)."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from distributor.plugin import Plugin
from distributor.protocols import (
    ClusterDistributor,
    ClusterQueue,
    ClusterQueueFactory,
    SupportsLostTracking,
    SupportsResults,
    SupportsRunningQuery,
    SupportsTaskOutcome,
)
from distributor.registry import load_plugin
from distributor.service.errors import ConfigError
from distributor.service.extensions import SupportsLookupByName

__all__ = ["Cluster", "InDoubtPolicy", "ServiceConfig", "Throttle"]


class InDoubtPolicy(enum.StrEnum):
    """What to do with a submission whose outcome is unknown and cannot be looked up."""

    RETRY = "retry"
    """Mark the attempt ``U`` and retry if attempts allow: at-least-once (logged as a warning)."""
    FAIL = "fail"
    """Mark the attempt ``U`` and fail the task: at-most-once."""


def _positive(setting: str, value: float | None, *, allow_none: bool = True) -> None:
    if value is None:
        if not allow_none:
            raise ConfigError(setting, value, "is required")
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(setting, value, "must be a finite number")
    if value <= 0:
        raise ConfigError(setting, value, "must be greater than zero")


@dataclass(frozen=True, slots=True)
class Throttle:
    """Per-cluster limits, after IceProd's ``tasks_on_queue = [min, max, change]``.

    Attributes:
        max_queued: most instances waiting in the scheduler's queue (not yet running); needs a
            distributor with `SupportsRunningQuery` to be told apart from running ones, else
            every instance in the scheduler counts as queued. None = no limit.
        max_active: most instances in the scheduler, queued and running together. None = no limit.
        submit_chunk: most instances submitted in one cycle.
        max_array_size: most steps in one array submission (Slurm's ``MaxArraySize`` - 1).
    """

    max_queued: int | None = None
    max_active: int | None = None
    submit_chunk: int = 1000
    max_array_size: int = 1000

    def __post_init__(self) -> None:
        _positive("max_queued", self.max_queued)
        _positive("max_active", self.max_active)
        _positive("submit_chunk", self.submit_chunk, allow_none=False)
        _positive("max_array_size", self.max_array_size, allow_none=False)


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Service-wide settings; times are seconds.

    Attributes:
        poll_interval: longest pause between cycles in `Service.wait` (the pause starts at
            `min_poll_interval` after a cycle that changed something and grows by half each
            quiet cycle).
        max_active: global cap on instances in all schedulers (basf2 CAF's global job limit).
        exit_info_deadline: how long a non-finalized exit info is asked again before it is taken
            as final.
        lost_grace: how long an instance the scheduler no longer lists, and has no exit info
            for, stays in triage (``T``) before it becomes ``U`` (it is then terminated, in
            case it shows up again). Only for distributors without `SupportsLostTracking`:
            one that has it decides itself, within its own ``lost_grace``.
        max_queued_seconds / max_running_seconds: an instance queued (or running) longer is
            reset: terminated and marked ``U`` (retried if attempts allow). None = no limit.
            Without `SupportsRunningQuery` the two are added and applied to the time since
            submission.
        reconcile_interval: how often queueing errors and stray submissions are checked.
        running_interval: how often a distributor with `SupportsRunningQuery` is asked which
            instances have started (``O`` → ``R``); polls in between only ask what ended.
        scale_factor: memory and runtime multiplier for a retry after ``Z`` (resource error).
        max_attempts: attempts for tasks whose `TaskSpec.max_attempts` is None (fixed, with
            the task's definition, when it is added).
        retry_delay: seconds before the first retry of a failed attempt, for tasks whose
            `TaskSpec.retry_delay` is None (0 retries at once).
        retry_backoff: each further retry of a task waits this many times longer (≥ 1).
        retry_delay_max: no retry waits longer than this (or than the task's own first delay,
            if that is longer).
        retry_jitter: each delay is shortened by a random fraction up to this (0 to 1), so
            that tasks failing together do not all come back at the same moment.
        priority_base: each priority step multiplies a task's share of submissions by this.
        owner_weights: share weight of each owner (default 1).
        in_doubt: see `InDoubtPolicy`; used only for distributors without lookup by name.
        submit_backoff_max: longest pause before submitting again to a cluster that failed.
        max_command_bytes: longest command line of one array submission (the Linux limit for
            one argument is 128 KiB); longer groups are split.
        synchronous: SQLite's ``synchronous`` setting; ``FULL`` survives power loss, ``NORMAL``
            only a crash of the controller.
    """

    poll_interval: float = 5.0
    min_poll_interval: float = 0.05
    max_active: int | None = None
    exit_info_deadline: float = 120.0
    lost_grace: float = 300.0
    max_queued_seconds: float | None = None
    max_running_seconds: float | None = None
    reconcile_interval: float = 60.0
    running_interval: float = 1.0
    scale_factor: float = 1.5
    max_attempts: int = 3
    retry_delay: float = 10.0
    retry_backoff: float = 2.0
    retry_delay_max: float = 600.0
    retry_jitter: float = 0.1
    priority_base: float = 2.0
    owner_weights: Mapping[str, float] = field(default_factory=dict)
    in_doubt: InDoubtPolicy = InDoubtPolicy.RETRY
    submit_backoff_max: float = 60.0
    max_command_bytes: int = 100_000
    synchronous: Literal["FULL", "NORMAL"] = "FULL"

    def __post_init__(self) -> None:
        for setting in (
            "poll_interval",
            "min_poll_interval",
            "exit_info_deadline",
            "lost_grace",
            "reconcile_interval",
            "running_interval",
            "submit_backoff_max",
            "max_command_bytes",
        ):
            _positive(setting, getattr(self, setting), allow_none=False)
        for setting in ("max_active", "max_queued_seconds", "max_running_seconds"):
            _positive(setting, getattr(self, setting))
        _positive("scale_factor", self.scale_factor, allow_none=False)
        if self.scale_factor <= 1:
            raise ConfigError("scale_factor", self.scale_factor, "must be greater than 1")
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise ConfigError("max_attempts", self.max_attempts, "must be a whole number")
        if not 1 <= self.max_attempts <= 100:
            raise ConfigError("max_attempts", self.max_attempts, "must be between 1 and 100")
        for setting in ("retry_delay", "retry_jitter"):
            value = getattr(self, setting)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ConfigError(setting, value, "must be a finite number, zero or more")
        if self.retry_jitter > 1:
            raise ConfigError("retry_jitter", self.retry_jitter, "must be at most 1")
        _positive("retry_delay_max", self.retry_delay_max, allow_none=False)
        _positive("retry_backoff", self.retry_backoff, allow_none=False)
        if self.retry_backoff < 1:
            raise ConfigError("retry_backoff", self.retry_backoff, "must be at least 1")
        _positive("priority_base", self.priority_base, allow_none=False)
        if self.priority_base < 1:
            raise ConfigError("priority_base", self.priority_base, "must be at least 1")
        for owner, weight in self.owner_weights.items():
            _positive(f"owner_weights[{owner!r}]", weight, allow_none=False)
        object.__setattr__(self, "in_doubt", InDoubtPolicy(self.in_doubt))
        if self.synchronous not in ("FULL", "NORMAL"):
            raise ConfigError("synchronous", self.synchronous, "must be 'FULL' or 'NORMAL'")


class Cluster:
    """One cluster the service submits to: its distributor, its queues and its limits.

    Args:
        distributor: the plugin's distributor (started and stopped by the service).
        queue_factory: the plugin's queue class, used to check and clamp requests; None means
            requests are passed on unchecked (and ``Z`` retries are never clamped).
        queues: queue name → parameters for `queue_factory` (queues not listed get ``{}``).
        default_queue: the queue for tasks that name none; None sends no ``queue`` key.
        fallback_queues: queue name → bigger queues to try, in order, when a ``Z`` retry no
            longer fits that queue (see `fallbacks`).
        throttle: this cluster's limits.
        name: the name tasks use for this cluster (default: ``distributor.cluster_name``).
        defaults: resources for tasks that do not set them (a configured cluster's
            ``[clusters.NAME.defaults]``, namespaced keys such as ``slurm.account`` included;
            its ``queue`` is `default_queue`'s business).

    Raises:
        ConfigError: a fallback queue names itself.
    """

    def __init__(
        self,
        distributor: ClusterDistributor,
        *,
        queue_factory: ClusterQueueFactory | None = None,
        queues: Mapping[str, Mapping[str, Any]] | None = None,
        default_queue: str | None = None,
        fallback_queues: Mapping[str, Sequence[str]] | None = None,
        throttle: Throttle | None = None,
        name: str | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.distributor = distributor
        self.defaults: dict[str, Any] = dict(defaults or {})
        self.name = name or distributor.cluster_name
        self.queue_factory = queue_factory
        self.queue_parameters = {key: dict(value) for key, value in (queues or {}).items()}
        self.default_queue = default_queue
        self.fallback_queues = {key: tuple(value) for key, value in (fallback_queues or {}).items()}
        for queue, fallbacks in self.fallback_queues.items():
            if queue in fallbacks:
                raise ConfigError(f"fallback_queues[{queue!r}]", list(fallbacks), "names itself")
        self.throttle = throttle or Throttle()
        self.lookup: SupportsLookupByName | None = (
            distributor if isinstance(distributor, SupportsLookupByName) else None
        )
        self.running: SupportsRunningQuery | None = (
            distributor if isinstance(distributor, SupportsRunningQuery) else None
        )
        self.lost_owner: SupportsLostTracking | None = (
            distributor if isinstance(distributor, SupportsLostTracking) else None
        )
        self.outcome: SupportsTaskOutcome | None = (
            distributor if isinstance(distributor, SupportsTaskOutcome) else None
        )
        self.results: SupportsResults | None = (
            distributor if isinstance(distributor, SupportsResults) else None
        )
        self._queues: dict[str, ClusterQueue] = {}

    @classmethod
    def from_plugin(
        cls,
        plugin: str | Plugin,
        cluster_name: str,
        *,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Cluster:
        """Build a cluster from an installed plugin (by name) or a `Plugin` object.

        Args:
            plugin: the plugin's entry-point name (``"local"``, ``"slurm"``) or the object.
            cluster_name: passed to the plugin's distributor.
            options: keyword arguments for the plugin's distributor.
            **kwargs: the other arguments of `Cluster`.

        Raises:
            PluginNotFoundError, PluginLoadError: as `distributor.registry.load_plugin`.
        """
        loaded = load_plugin(plugin) if isinstance(plugin, str) else plugin
        distributor = loaded.distributor(cluster_name, **dict(options or {}))
        kwargs.setdefault("queue_factory", loaded.queue)
        return cls(distributor, **kwargs)

    def fallbacks(self, queue: str | None) -> tuple[str, ...]:
        """The queues to try after `queue`, in order.

        Its own entry in ``fallback_queues`` if it has one; else, if it appears in another
        queue's list, the queues after it there (``small: [medium, big]`` makes ``big`` the
        fallback of ``medium``); else none.
        """
        if queue is None:
            return ()
        if queue in self.fallback_queues:
            return self.fallback_queues[queue]
        for chain in self.fallback_queues.values():
            if queue in chain:
                return chain[chain.index(queue) + 1 :]
        return ()

    def queue(self, name: str | None) -> ClusterQueue | None:
        """The queue object for `name` (created on first use), or None without a factory."""
        if name is None or self.queue_factory is None:
            return None
        found = self._queues.get(name)
        if found is None:
            found = self.queue_factory(
                len(self._queues) + 1, name, self.queue_parameters.get(name, {})
            )
            self._queues[name] = found
        return found
