"""Plugin discovery through the ``distributor.plugins`` entry-point group.

Listing reads package metadata only: no plugin code is imported. Loading imports exactly the
plugin asked for. A broken plugin never breaks the host: `inspect_plugins` reports it and goes
on; `load_plugin` raises a `PluginLoadError` naming entry point, distribution and version.
``DISTRIBUTOR_DISABLED_PLUGINS=a,b`` hides plugins from both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from distributor.exceptions import (
    PluginConflictError,
    PluginContractError,
    PluginError,
    PluginLoadError,
    PluginNotFoundError,
)
from distributor.logs import get_logger
from distributor.plugin import ENTRY_POINT_GROUP, Plugin

if TYPE_CHECKING:
    from importlib import metadata

__all__ = [
    "DISABLED_PLUGINS_ENV",
    "PluginInfo",
    "PluginStatus",
    "available_plugins",
    "check_plugin",
    "inspect_plugins",
    "load_plugin",
]

log = get_logger(__name__)

DISABLED_PLUGINS_ENV = "DISTRIBUTOR_DISABLED_PLUGINS"

_QUEUE_MEMBERS = (
    "validate_resources",
    "coerce_resources",
    "parameters",
    "queue_name",
    "queue_id",
    "required_resources",
)
_DISTRIBUTOR_MEMBERS = (
    "worker_node_entry_point",
    "cluster_name",
    "start",
    "stop",
    "get_queueing_errors",
    "get_submitted_or_running",
    "terminate_task_instances",
    "get_remote_exit_info",
    "submit_to_batch_distributor",
    "submit_array_to_batch_distributor",
    "build_worker_node_command",
)
_WORKER_MEMBERS = (
    "distributor_id",
    "array_step_id",
    "get_usage_stats",
    "get_exit_info",
    "initialize_logfile",
)


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """What metadata says about an installed plugin (nothing is imported to learn it)."""

    name: str
    value: str
    """The entry-point value, ``module:attribute``."""
    distribution: str
    version: str


@dataclass(frozen=True, slots=True)
class PluginStatus:
    """The outcome of trying to load one installed plugin."""

    name: str
    state: Literal["ok", "broken", "conflict"]
    info: tuple[PluginInfo, ...]
    """The declaring entry point(s): more than one only for a conflict."""
    reason: str = ""
    description: str = ""


def _disabled() -> frozenset[str]:
    raw = os.environ.get(DISABLED_PLUGINS_ENV, "")
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def _scan() -> dict[str, list[tuple[PluginInfo, metadata.EntryPoint]]]:
    """Group the entry points by plugin name, dropping duplicates of one distribution."""
    from importlib import metadata  # here: importing it costs more than the whole package

    found: dict[str, list[tuple[PluginInfo, metadata.EntryPoint]]] = {}
    disabled = _disabled()
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name in disabled:
            continue
        dist = entry_point.dist
        info = PluginInfo(
            name=entry_point.name,
            value=entry_point.value,
            distribution=dist.name if dist is not None else "(unknown distribution)",
            version=dist.version if dist is not None else "(unknown version)",
        )
        claims = found.setdefault(entry_point.name, [])
        # One distribution can be visible twice on sys.path; that is not a conflict.
        if all(
            (seen.distribution.lower(), seen.value) != (info.distribution.lower(), info.value)
            for seen, _ in claims
        ):
            claims.append((info, entry_point))
    return found


def available_plugins() -> Mapping[str, PluginInfo]:
    """Return the installed, enabled plugins by name, without importing any of them.

    Names claimed by two distributions are left out (and logged); `inspect_plugins` reports them.
    """
    result: dict[str, PluginInfo] = {}
    for name, claims in sorted(_scan().items()):
        if len(claims) > 1:
            log.warning(
                "plugin_conflict",
                plugin=name,
                distributions=[f"{i.distribution} {i.version}" for i, _ in claims],
            )
            continue
        result[name] = claims[0][0]
    return result


def load_plugin(name: str) -> Plugin:
    """Import and return the plugin called `name`.

    Raises:
        PluginNotFoundError: no enabled plugin has that name (the message lists those installed).
        PluginConflictError: two distributions declare it.
        PluginLoadError: importing it raised; the cause is chained.
        PluginContractError: the entry point does not name a well-formed `Plugin`.
    """
    found = _scan()
    claims = found.get(name)
    if not claims:
        raise PluginNotFoundError(name, sorted(found), ENTRY_POINT_GROUP)
    if len(claims) > 1:
        raise PluginConflictError(name, [f"{i.distribution} {i.version}" for i, _ in claims])
    info, entry_point = claims[0]
    try:
        obj = entry_point.load()
    except Exception as exc:
        raise PluginLoadError(
            name, info.value, info.distribution, info.version, f"{type(exc).__name__}: {exc}"
        ) from exc
    check_plugin(obj, expected_name=name)
    assert isinstance(obj, Plugin)  # check_plugin guarantees it; narrows for mypy
    log.debug("plugin_loaded", plugin=name, distribution=info.distribution, version=info.version)
    return obj


def check_plugin(obj: object, expected_name: str | None = None) -> None:
    """Raise `PluginContractError` listing every contract member `obj` lacks.

    Checks that `obj` is a `Plugin`, that its name matches its entry point, and that each
    factory builds a class with every member of its protocol (by name: signatures are mypy's job).
    """
    label = f"plugin {expected_name!r}" if expected_name else repr(obj)
    if not isinstance(obj, Plugin):
        raise PluginContractError(
            label, ["a distributor.Plugin object"], f"the entry point names a {type(obj).__name__}"
        )
    missing: list[str] = []
    if expected_name is not None and obj.name != expected_name:
        missing.append(f"name (is {obj.name!r}, entry point says {expected_name!r})")
    for part, members in (
        ("queue", _QUEUE_MEMBERS),
        ("distributor", _DISTRIBUTOR_MEMBERS),
        ("worker_node", _WORKER_MEMBERS),
    ):
        factory = getattr(obj, part)
        if not callable(factory):
            missing.append(f"{part} (not callable)")
            continue
        if isinstance(factory, type):  # a factory function is checked by mypy alone
            missing.extend(f"{part}.{member}" for member in members if not hasattr(factory, member))
    if missing:
        raise PluginContractError(label, missing)


def inspect_plugins() -> list[PluginStatus]:
    """Try to load every enabled plugin and report each one's state; never raises for a plugin."""
    statuses: list[PluginStatus] = []
    for name, claims in sorted(_scan().items()):
        infos = tuple(info for info, _ in claims)
        try:
            plugin = load_plugin(name)
        except PluginConflictError as exc:
            statuses.append(PluginStatus(name, "conflict", infos, str(exc)))
        except PluginError as exc:
            log.warning("plugin_load_failed", plugin=name, error=str(exc))
            statuses.append(PluginStatus(name, "broken", infos, str(exc)))
        else:
            statuses.append(PluginStatus(name, "ok", infos, description=plugin.description))
    return statuses
