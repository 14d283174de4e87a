"""The one exception hierarchy of `distributor`.

Every error raised on purpose by the core or a plugin derives from `DistributorError`, and
carries the offending data as attributes so callers can act on it, not parse messages::

    DistributorError (Exception)
    ├── PluginError
    │   ├── PluginNotFoundError (LookupError)     no entry point of that name
    │   ├── PluginLoadError (ImportError)         the entry point failed to import
    │   ├── PluginContractError (TypeError)       the object does not have the plugin shape
    │   └── PluginConflictError                   two distributions claim one name
    ├── ResourceError (ValueError)                a resource request that cannot be honoured
    ├── ExitInfoError (TypeError)                 a plugin returned exit info of the wrong shape
    ├── SubmissionError                           the scheduler did not accept a submission
    ├── SchedulerError                            a scheduler command failed (argv, status, stderr)
    │   ├── SchedulerOutputError (ValueError)     scheduler output could not be parsed (raw kept)
    │   └── TransportError                        the connection to a remote cluster failed
    │       ├── ConnectionLostError               dropped or unreachable: transient
    │       ├── HostKeyError                      the host key is unknown or changed
    │       ├── AuthenticationError               the login was refused
    │       └── RemoteDiskFullError               no space (or quota) left on the remote side
    ├── UnknownDistributorIdError (LookupError)   an id this distributor never issued
    ├── RemoteExitInfoNotAvailable                exit info is not (yet) known for an id
    ├── UnsupportedPlatformError                  a backend that cannot run on this OS
    ├── ConfigFileError (ValueError)              a mistake in a configuration file (file, line)
    └── UnknownClusterError (LookupError)         no configured cluster or plugin of that name
"""

from __future__ import annotations

import os
from collections.abc import Sequence

__all__ = [
    "AuthenticationError",
    "ConfigFileError",
    "ConnectionLostError",
    "DistributorError",
    "ExitInfoError",
    "HostKeyError",
    "PluginConflictError",
    "PluginContractError",
    "PluginError",
    "PluginLoadError",
    "PluginNotFoundError",
    "RemoteDiskFullError",
    "RemoteExitInfoNotAvailable",
    "ResourceError",
    "SchedulerError",
    "SchedulerOutputError",
    "SubmissionError",
    "TransportError",
    "UnknownClusterError",
    "UnknownDistributorIdError",
    "UnsupportedPlatformError",
]


class DistributorError(Exception):
    """Root of every error raised on purpose by `distributor` and its plugins."""


class PluginError(DistributorError):
    """A plugin could not be found, loaded or used."""


class PluginNotFoundError(PluginError, LookupError):
    """No installed plugin has the requested name.

    Attributes:
        name: the requested plugin name.
        installed: names of the plugins that are installed (and not disabled).
        group: the entry-point group that was searched.
    """

    def __init__(self, name: str, installed: Sequence[str], group: str) -> None:
        self.name = name
        self.installed = tuple(installed)
        self.group = group
        listing = ", ".join(self.installed) if self.installed else "(none)"
        super().__init__(
            f"Plugin {name!r} not found in entry-point group {group!r}. Installed: {listing}. "
            f"It is either misspelled or not installed (pip install distributor-{name})."
        )


class PluginLoadError(PluginError, ImportError):
    """Importing a plugin's entry point raised; the cause is chained.

    Attributes:
        name: plugin name; entry_point: the entry-point value ``module:attr``;
        distribution / version: the distribution that declares it; reason: the cause as text.
    """

    def __init__(
        self, name: str, entry_point: str, distribution: str, version: str, reason: str
    ) -> None:
        self.name = name
        self.entry_point = entry_point
        self.distribution = distribution
        self.version = version
        self.reason = reason
        super().__init__(
            f"Plugin {name!r} (entry point {entry_point!r} from distribution "
            f"{distribution} {version}) failed to load: {reason}"
        )


class PluginContractError(PluginError, TypeError):
    """An object offered as a plugin (or a plugin part) lacks members of the contract.

    Attributes:
        name: what was checked; missing: the members that are missing or of the wrong kind.
    """

    def __init__(self, name: str, missing: Sequence[str], detail: str = "") -> None:
        self.name = name
        self.missing = tuple(missing)
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"{name} does not satisfy the plugin contract{extra}; missing or wrong: "
            + ", ".join(self.missing)
        )


class PluginConflictError(PluginError):
    """Two distributions declare a plugin of the same name.

    Attributes:
        name: the contested plugin name; distributions: the claimants as ``"dist version"``.
    """

    def __init__(self, name: str, distributions: Sequence[str]) -> None:
        self.name = name
        self.distributions = tuple(distributions)
        super().__init__(
            f"Plugin name {name!r} is claimed by more than one distribution: "
            + " and ".join(self.distributions)
            + ". Uninstall one, or hide one with DISTRIBUTOR_DISABLED_PLUGINS."
        )


class ResourceError(DistributorError, ValueError):
    """A resource request is malformed, unknown or impossible.

    Attributes:
        key: the resource key; value: the offending value as given; reason: what is wrong.
    """

    def __init__(self, key: str, value: object, reason: str) -> None:
        self.key = key
        self.value = value
        self.reason = reason
        super().__init__(f"{key}={value!r}: {reason}")


class ExitInfoError(DistributorError, TypeError):
    """A plugin returned exit information that is neither `RemoteExitInfo` nor a legacy tuple.

    Attributes:
        value: the offending object.
    """

    def __init__(self, value: object, reason: str) -> None:
        self.value = value
        super().__init__(f"invalid exit info {value!r}: {reason}")


class SchedulerError(DistributorError):
    """A scheduler command failed.

    Attributes:
        argv: the command as run; returncode: its exit status (None if it never ran or timed
        out); stderr: what it wrote to standard error; stdout: what it wrote to standard output;
        timed_out: it was stopped at its timeout (it may have done its work).
    """

    def __init__(
        self,
        message: str,
        *,
        argv: Sequence[str] = (),
        returncode: int | None = None,
        stderr: str = "",
        stdout: str = "",
        timed_out: bool = False,
    ) -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr
        self.stdout = stdout
        self.timed_out = timed_out
        detail = []
        if self.argv:
            detail.append(f"argv={list(self.argv)!r}")
        if returncode is not None:
            detail.append(f"exit status {returncode}")
        if stderr.strip():
            detail.append(f"stderr: {stderr.strip()[:2000]}")
        super().__init__(message + (" (" + "; ".join(detail) + ")" if detail else ""))


class SchedulerOutputError(SchedulerError, ValueError):
    """Scheduler output could not be parsed.

    Attributes:
        raw: the complete text that failed to parse (plus the `SchedulerError` attributes).
    """

    def __init__(self, message: str, raw: str, *, argv: Sequence[str] = ()) -> None:
        self.raw = raw
        shown = raw if len(raw) <= 500 else raw[:500] + "…"
        super().__init__(f"{message}; raw output: {shown!r}", argv=argv, stdout=raw)


class TransportError(SchedulerError):
    """The transport to a remote cluster (`distributor.batch.ssh.SSHTransport`) failed.

    Attributes:
        destination: ``user@host:port`` as configured; reason: one line saying what failed
            and what to do (plus the `SchedulerError` attributes).
    """

    def __init__(self, destination: str, reason: str, *, stderr: str = "") -> None:
        self.destination = destination
        self.reason = reason
        super().__init__(f"{destination}: {reason}")
        self.stderr = stderr  # kept, not repeated in the one-line message


class ConnectionLostError(TransportError):
    """The connection dropped or the host could not be reached; worth retrying later."""


class HostKeyError(TransportError):
    """The remote host key is not in the known-hosts file (or changed)."""


class AuthenticationError(TransportError):
    """The remote host refused the login (key, user, or an agent that is not running)."""


class RemoteDiskFullError(TransportError):
    """A write on the remote side failed for lack of space or quota."""


class SubmissionError(DistributorError):
    """The scheduler did not accept a submission.

    Attributes:
        name: the task or array name; argv / returncode / stderr: the failing command, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        name: str = "",
        argv: Sequence[str] = (),
        returncode: int | None = None,
        stderr: str = "",
    ) -> None:
        self.name = name
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(message)


class UnknownDistributorIdError(DistributorError, LookupError):
    """The id was never issued by this distributor (or its state directory).

    Attributes:
        distributor_id: the unknown id; cluster_name: the distributor's cluster.
    """

    def __init__(self, distributor_id: str, cluster_name: str) -> None:
        self.distributor_id = distributor_id
        self.cluster_name = cluster_name
        super().__init__(
            f"distributor id {distributor_id!r} is unknown to cluster {cluster_name!r}"
        )


class RemoteExitInfoNotAvailable(DistributorError):
    """Exit information for the id is not available (yet): the task may still be running.

    Attributes:
        distributor_id: the id asked about; reason: why nothing is known.
    """

    def __init__(self, distributor_id: str, reason: str = "no exit information yet") -> None:
        self.distributor_id = distributor_id
        self.reason = reason
        super().__init__(f"exit info for {distributor_id!r} not available: {reason}")


class UnsupportedPlatformError(DistributorError):
    """A backend needs an operating system this is not (the local backend reads Linux's
    ``/proc``).

    Attributes:
        backend: what cannot run; platform: ``sys.platform`` here; needed: what it needs.
    """

    def __init__(self, backend: str, platform: str, needed: str = "linux") -> None:
        self.backend = backend
        self.platform = platform
        self.needed = needed
        super().__init__(
            f"the {backend} needs {needed} (it reads /proc); this is {platform!r}: "
            "submit through a batch plugin from here, or run it on a Linux host"
        )


class ConfigFileError(DistributorError, ValueError):
    """A configuration file cannot be read, or says something wrong.

    Attributes:
        path: the file (None: a cluster not read from a file); line: the line (None when
        unknown); key: the dotted key at fault (empty for the whole file); reason: what is wrong.
    """

    def __init__(self, path: os.PathLike[str] | str | None, line: int | None, key: str,
                 reason: str) -> None:  # fmt: skip
        self.path = path
        self.line = line
        self.key = key
        self.reason = reason
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {key}: {reason}" if key else f"{where}: {reason}")


class UnknownClusterError(DistributorError, LookupError):
    """No configured cluster and no installed plugin has the name asked for.

    Attributes:
        name: the name asked for; clusters: the configured ones; plugins: the installed ones;
        files: the configuration files read.
    """

    def __init__(self, name: str, clusters: Sequence[str], plugins: Sequence[str],
                 files: Sequence[os.PathLike[str] | str]) -> None:  # fmt: skip
        self.name = name
        self.clusters = list(clusters)
        self.plugins = list(plugins)
        self.files = list(files)
        configured = ", ".join(self.clusters) or "none"
        read = ", ".join(str(f) for f in self.files) or "no configuration file"
        super().__init__(
            f"no cluster or plugin named {name!r}: configured clusters: {configured} (from "
            f"{read}); installed plugins: {', '.join(self.plugins) or 'none'}. Define it in "
            f"a [clusters.{name}] table, or install its plugin (pip install distributor-{name})"
        )
