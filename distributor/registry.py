"""Plugin discovery through the ``distributor.plugins`` entry-point group.

Listing reads package metadata only: no plugin code is imported. Loading imports exactly the
plugin asked for. The scan of entry points is kept until ``sys.path``, one of its directories
(a distribution installed or removed) or ``DISTRIBUTOR_DISABLED_PLUGINS`` changes. A broken
plugin never breaks the host: `inspect_plugins` reports it and goes on; `load_plugin` raises
a `PluginLoadError` naming entry point, distribution and version.
``DISTRIBUTOR_DISABLED_PLUGINS=a,b`` hides plugins from both.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

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


_Scan = dict[str, list[tuple[PluginInfo, "metadata.EntryPoint"]]]
_cache: tuple[object, _Scan] | None = None


def _scan_key() -> object:
    """What a scan depends on: the disabled names, and each ``sys.path`` entry with its
    modification time (installing or removing a distribution changes its directory's)."""
    stamps = []
    for entry in sys.path:
        try:
            stamps.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            stamps.append((entry, 0))
    return (os.environ.get(DISABLED_PLUGINS_ENV, ""), tuple(stamps))


def _scan() -> _Scan:
    """The entry points grouped by plugin name (duplicates of one distribution dropped),
    from the cache while `_scan_key` is unchanged."""
    global _cache
    key = _scan_key()
    if _cache is None or _cache[0] != key:
        _cache = (key, _scan_entry_points())
    return _cache[1]


def _scan_entry_points() -> _Scan:
    from importlib import metadata  # here: importing it costs more than the whole package

    found: _Scan = {}
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


def _protocol_members(protocol: Any) -> list[str]:
    """The members a class must have to satisfy `protocol`, read from the protocol itself."""
    if sys.version_info >= (3, 13):
        from typing import get_protocol_members
    else:  # the backport, imported here: only checking a plugin needs it
        from typing_extensions import get_protocol_members
    return sorted(get_protocol_members(protocol))


def check_plugin(obj: object, expected_name: str | None = None) -> None:
    """Raise `PluginContractError` listing every contract member `obj` lacks.

    Checks that `obj` is a `Plugin`, that its name matches its entry point, and that each
    factory builds a class with every member of its protocol (the members of
    `ClusterQueue`, `ClusterDistributor` and `ClusterWorkerNode`, by name: signatures are
    mypy's job).
    """
    from distributor.protocols import ClusterDistributor, ClusterQueue, ClusterWorkerNode

    label = f"plugin {expected_name!r}" if expected_name else repr(obj)
    if not isinstance(obj, Plugin):
        raise PluginContractError(
            label, ["a distributor.Plugin object"], f"the entry point names a {type(obj).__name__}"
        )
    missing: list[str] = []
    if expected_name is not None and obj.name != expected_name:
        missing.append(f"name (is {obj.name!r}, entry point says {expected_name!r})")
    for part, protocol in (
        ("queue", ClusterQueue),
        ("distributor", ClusterDistributor),
        ("worker_node", ClusterWorkerNode),
    ):
        members = _protocol_members(protocol)
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
