"""Named clusters from configuration files: one resolution for the command, the service and
any program that embeds them.

Two TOML files are read, the nearer winning cluster by cluster (a cluster defined in both is
the project's, whole):

1. the user's: ``$XDG_CONFIG_HOME/distributor/config.toml`` (``~/.config/…`` by default);
2. the project's: ``distributor.toml`` in the working directory or the nearest parent with one.

``DISTRIBUTOR_CONFIG=FILE`` reads that one file instead of both (``DISTRIBUTOR_CONFIG=`` reads
none). A file::

    [clusters.hpc]
    plugin = "slurm"                       # the plugin's entry-point name (required)
    slurm_conf = "/etc/slurm/slurm.conf"   # keyword options of the plugin's distributor
    submit_root = "/scratch/me/distributor"

    [clusters.hpc.poll_policy]             # an option whose type is a dataclass: a table
    min_interval = 5.0

    [clusters.hpc.defaults]                # resources for tasks that do not set them
    queue = "short"
    memory = "2G"
    runtime = "1h"
    "slurm.account" = "proj42"             # the plugin's own keys, namespaced

Every mistake is a `ConfigFileError` naming the file and the line: a key that is not
``clusters``, a cluster without ``plugin``, a default that is not a resource or does not parse,
and — when the cluster is used and its plugin loaded — an option its distributor does not take.
`resolve_cluster` answers a configured cluster first, then an installed plugin by its name.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distributor.exceptions import ConfigFileError, ResourceError, UnknownClusterError
from distributor.registry import available_plugins, load_plugin
from distributor.resources import KNOWN_RESOURCES, parse_request

if TYPE_CHECKING:
    from distributor.plugin import Plugin
    from distributor.protocols import ClusterDistributor
    from distributor.service import Cluster

__all__ = [
    "CONFIG_ENV",
    "PROJECT_FILE",
    "ClusterConfig",
    "Configuration",
    "config_files",
    "load_config",
    "resolve_cluster",
]

CONFIG_ENV = "DISTRIBUTOR_CONFIG"
PROJECT_FILE = "distributor.toml"
_CLUSTER_KEYS = frozenset({"plugin", "defaults"})


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """A cluster as configured (or an installed plugin used by its name: no `source`).

    Attributes:
        name: what ``--cluster`` and tasks call it; also the distributor's cluster name.
        plugin: the plugin's entry-point name.
        options: keyword options for the plugin's distributor (tables already built into
            their dataclasses only by `load`).
        defaults: resources for tasks that do not set them (``queue`` among them).
        source: the file that defined it; line: the line of its table.
    """

    name: str
    plugin: str
    options: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    source: Path | None = None
    line: int | None = None
    key_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    """Line of each option and default, for messages."""

    @property
    def where(self) -> str:
        """``FILE:LINE`` of its definition, or that it is a plugin used by name."""
        if self.source is None:
            return f"the installed plugin {self.plugin!r}"
        return f"{self.source}:{self.line}"

    def _error(self, key: str, reason: str) -> ConfigFileError:
        line = self.key_lines.get(key, self.line)
        return ConfigFileError(self.source, line, f"clusters.{self.name}.{key}", reason)

    def load(self) -> tuple[Plugin, dict[str, Any]]:
        """The plugin and the distributor's keyword options, checked against its signature.

        Raises:
            PluginNotFoundError, PluginLoadError: as `distributor.registry.load_plugin`.
            ConfigFileError: an option the distributor does not take, or a table that does not
                build the option's type.
        """
        plugin = load_plugin(self.plugin)
        accepted = _keyword_parameters(plugin.distributor)
        options: dict[str, Any] = {}
        for key, value in self.options.items():
            if accepted is not None and key not in accepted:
                known = ", ".join(sorted(accepted)) or "none"
                raise self._error(key, f"plugin {self.plugin!r} takes no such option ({known})")
            options[key] = self._build(plugin, key, value) if isinstance(value, dict) else value
        return plugin, options

    def _build(self, plugin: Plugin, key: str, table: Mapping[str, Any]) -> object:
        kind = _dataclass_of(plugin.distributor, key)
        if kind is None:
            raise self._error(key, "takes a value, not a table")
        names = {f.name for f in dataclasses.fields(kind)}
        for unknown in sorted(set(table) - names):
            raise self._error(f"{key}.{unknown}", f"not a field of {kind.__name__}")
        try:
            return kind(**table)
        except (TypeError, ValueError) as exc:
            raise self._error(key, str(exc)) from exc

    def distributor(self, **overrides: Any) -> ClusterDistributor:
        """The plugin's distributor for this cluster, `overrides` over the configured options.

        Raises:
            ConfigFileError: as `load`, or the distributor refused an option's value.
        """
        plugin, options = self.load()
        options.update(overrides)
        try:
            return plugin.distributor(self.name, **options)
        except TypeError as exc:  # a value of the wrong type for its option
            raise ConfigFileError(
                self.source, self.line, f"clusters.{self.name}", str(exc)
            ) from exc

    def resources(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """`given` (None values dropped) over this cluster's defaults."""
        return {**self.defaults, **{k: v for k, v in given.items() if v is not None}}

    def service_cluster(self, overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> Cluster:
        """A `distributor.service.Cluster` for this cluster: the distributor with the
        configured options (`overrides` over them), the defaults as `Cluster.defaults`, the
        default queue from ``defaults.queue`` (the local plugin's ``local`` queue otherwise);
        `kwargs` go to `Cluster`."""
        from distributor.service import Cluster

        plugin, options = self.load()
        options.update(overrides or {})
        queue = self.defaults.get("queue") or ("local" if self.plugin == "local" else None)
        kwargs.setdefault("default_queue", queue)
        kwargs.setdefault("defaults", self.defaults)
        return Cluster.from_plugin(plugin, self.name, options=options, **kwargs)

    def to_json(self) -> dict[str, Any]:
        """What ``distributor clusters --json`` prints for it."""
        return {
            "name": self.name,
            "plugin": self.plugin,
            "options": dict(self.options),
            "defaults": dict(self.defaults),
            "source": str(self.source) if self.source else None,
            "line": self.line,
        }


@dataclass(frozen=True, slots=True)
class Configuration:
    """The clusters of every file read (nearest definition of each), and the files."""

    clusters: Mapping[str, ClusterConfig]
    files: tuple[Path, ...]

    def resolve(self, name: str) -> ClusterConfig:
        """The cluster configured as `name`, else the installed plugin called `name`.

        Raises:
            UnknownClusterError: neither exists (the message lists both kinds).
        """
        if name in self.clusters:
            return self.clusters[name]
        plugins = available_plugins()
        if name in plugins:
            return ClusterConfig(name=name, plugin=name)
        raise UnknownClusterError(name, sorted(self.clusters), sorted(plugins), self.files)


def config_files(
    cwd: Path | None = None, environ: Mapping[str, str] | None = None
) -> tuple[Path, ...]:
    """The configuration files that exist, farthest first (the user's, then the project's)."""
    env = os.environ if environ is None else environ
    if CONFIG_ENV in env:
        chosen = env[CONFIG_ENV]
        return (Path(chosen),) if chosen else ()
    home = env.get("HOME") or os.path.expanduser("~")
    base = Path(env.get("XDG_CONFIG_HOME") or Path(home, ".config"))
    found = [path for path in [base / "distributor" / "config.toml"] if path.is_file()]
    here = (cwd or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            if candidate not in found:
                found.append(candidate)
            break
    return tuple(found)


def load_config(cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> Configuration:
    """Read `config_files`; a cluster in a nearer file replaces the farther one's.

    Raises:
        ConfigFileError: a file that cannot be read or parsed, or a mistake in it.
    """
    clusters: dict[str, ClusterConfig] = {}
    files = config_files(cwd, environ)
    for path in files:
        clusters.update(_read(path))
    return Configuration(clusters, files)


def resolve_cluster(
    name: str, *, cwd: Path | None = None, environ: Mapping[str, str] | None = None
) -> ClusterConfig:
    """`Configuration.resolve` on the configuration `load_config` reads."""
    return load_config(cwd, environ).resolve(name)


# -- reading a file --------------------------------------------------------------------------


def _read(path: Path) -> dict[str, ClusterConfig]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(path, None, "", f"cannot be read: {exc}") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise ConfigFileError(path, int(line[1]) if line else None, "", str(exc)) from exc
    lines = _key_lines(text)
    for key in document:
        if key != "clusters":
            first = min((line for keys, line in lines.items() if keys[:1] == (key,)), default=None)
            raise ConfigFileError(path, first, key, "unknown key (only [clusters.NAME] tables)")
    table = document.get("clusters", {})
    if not isinstance(table, dict):
        raise ConfigFileError(path, lines.get(("clusters",)), "clusters", "must be a table")
    return {name: _cluster(path, name, value, lines) for name, value in table.items()}


def _cluster(
    path: Path, name: str, table: object, lines: Mapping[tuple[str, ...], int]
) -> ClusterConfig:
    here = ("clusters", name)

    def line_of(*keys: str) -> int | None:
        for end in range(len(keys), -1, -1):  # the key's own line, else its nearest table's
            if (found := lines.get(here + keys[:end])) is not None:
                return found
        return None

    def error(reason: str, *keys: str) -> ConfigFileError:
        return ConfigFileError(path, line_of(*keys), ".".join(["clusters", name, *keys]), reason)

    if not isinstance(table, dict):
        raise error("must be a table ([clusters.NAME])")
    plugin = table.get("plugin")
    if not isinstance(plugin, str) or not plugin:
        raise error('needs plugin = "NAME" (an installed plugin: distributor plugins)', "plugin")
    defaults = table.get("defaults", {})
    if not isinstance(defaults, dict):
        raise error("must be a table of resources", "defaults")
    for key, value in defaults.items():
        if "." in key:
            prefix = key.split(".", 1)[0]
            if prefix != plugin:
                raise error(f"belongs to plugin {prefix!r}, this cluster uses {plugin!r}",
                            "defaults", key)  # fmt: skip
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise error("must be a string or an integer", "defaults", key)
        elif key not in KNOWN_RESOURCES:
            known = ", ".join(sorted(KNOWN_RESOURCES))
            raise error(f"not a resource ({known}, or {plugin}.KEY)", "defaults", key)
        else:
            try:
                parse_request({key: value})
            except ResourceError as exc:
                raise error(exc.reason, "defaults", key) from exc
    options = {k: v for k, v in table.items() if k not in _CLUSTER_KEYS}
    key_lines = {
        key: found
        for key in [*options, *(f"defaults.{k}" for k in defaults)]
        if (found := line_of(*key.split(".", 1))) is not None
    }
    for key, value in options.items():  # nested option tables: each field's line
        if isinstance(value, dict):
            for sub in value:
                if (found := line_of(key, sub)) is not None:
                    key_lines[f"{key}.{sub}"] = found
    return ClusterConfig(name, plugin, options, dict(defaults), path, line_of(), key_lines)


_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r"\"(?:[^\"\\]|\\.)*\"|'[^']*'"
_KEY = rf"(?:{_QUOTED}|{_BARE})(?:\s*\.\s*(?:{_QUOTED}|{_BARE}))*"
_HEADER = re.compile(rf"^\s*\[\s*(?P<path>{_KEY})\s*\]\s*(?:#.*)?$")
_ASSIGN = re.compile(rf"^\s*(?P<path>{_KEY})\s*=")
_PART = re.compile(rf"\"((?:[^\"\\]|\\.)*)\"|'([^']*)'|({_BARE})")


def _parts(path: str) -> tuple[str, ...]:
    return tuple(a or b or c for a, b, c in _PART.findall(path))


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """The line of each table header and key of a TOML text, by full key path (what tomllib
    does not tell)."""
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        if header := _HEADER.match(line):
            table = _parts(header["path"])
            lines.setdefault(table, number)
        elif assign := _ASSIGN.match(line):
            lines.setdefault(table + _parts(assign["path"]), number)
    return lines


# -- the plugin's signature ------------------------------------------------------------------


def _init_of(factory: object) -> object:
    return factory.__init__ if isinstance(factory, type) else factory  # type: ignore[misc]


def _keyword_parameters(factory: object) -> frozenset[str] | None:
    """The options `factory` takes by keyword after the cluster name; None when it takes any
    (``**kwargs``) or its signature cannot be read."""
    try:
        signature = inspect.signature(factory)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    names = []
    for position, parameter in enumerate(signature.parameters.values()):
        if parameter.kind is parameter.VAR_KEYWORD:
            return None
        if position == 0 or parameter.kind in (parameter.POSITIONAL_ONLY, parameter.VAR_POSITIONAL):
            continue  # the cluster name
        names.append(parameter.name)
    return frozenset(names)


def _dataclass_of(factory: object, option: str) -> type | None:
    """The dataclass that option `option` of `factory` takes (``PollPolicy | None`` →
    `PollPolicy`); None when it takes none or its annotations cannot be resolved."""
    try:
        hints = typing.get_type_hints(_init_of(factory))
    except Exception:  # unresolvable annotations: the option cannot be built from a table
        return None
    hint = hints.get(option)
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    candidates = typing.get_args(hint) if union else (hint,)
    for candidate in candidates:
        if isinstance(candidate, type) and dataclasses.is_dataclass(candidate):
            return candidate
    return None
