"""The ``transport`` option of every batch plugin, and what follows from it.

A plugin's distributor takes ``transport: TransportOption``:

* None (the default) or ``"local"``: commands and files on this machine (`LocalTransport`);
* ``"ssh://[user@]host[:port]"`` or an `SSHConfig` (a ``[clusters.NAME.transport]`` table in
  the cluster configuration): a login node, through `SSHTransport`;
* any other `Transport` object, used as it is (its files are this machine's unless it has a
  ``files`` attribute that is a `Files`).

`open_transport` turns the option into a transport, `files_for` gives the filesystem its
submit root lives on, and `remote_worker` finds ``distributor-worker`` there.
"""

from __future__ import annotations

from distributor.batch.files import Files, LocalFiles
from distributor.batch.ssh import SSHConfig, SSHTransport
from distributor.batch.transport import LocalTransport, Transport
from distributor.exceptions import TransportError

__all__ = ["TransportOption", "files_for", "open_transport", "remote_worker"]

TransportOption = Transport | SSHConfig | str | None
"""What a plugin's ``transport`` option accepts (module docstring)."""


def open_transport(option: TransportOption) -> Transport | None:
    """The transport for a plugin's ``transport`` option (None stays None: the plugin's
    default, which is local).

    Raises:
        ValueError: a string that is neither ``"local"`` nor an ``ssh://`` URL, or a malformed
            URL (the message names it).
    """
    if option is None or isinstance(option, Transport):
        return option
    if isinstance(option, SSHConfig):
        return SSHTransport(option)
    if option == "local":
        return LocalTransport()
    if isinstance(option, str) and option.startswith("ssh://"):
        return SSHTransport(option)
    raise ValueError(
        f"transport={option!r}: expected 'local', 'ssh://[user@]host[:port]' or a Transport"
    )


def files_for(transport: Transport | None) -> Files:
    """The filesystem that `transport`'s commands see."""
    files = getattr(transport, "files", None)
    return files if isinstance(files, Files) else LocalFiles()


def remote_worker(files: Files) -> str:
    """``distributor-worker`` as found on the remote ``PATH``.

    Raises:
        TransportError: it is not installed there (the message says what to do).
    """
    found = files.which("distributor-worker")
    if found is None:
        raise TransportError(
            str(getattr(files, "destination", "remote")),
            "distributor-worker: command not found on the remote PATH; install distributor "
            "there (pip install distributor-core) or pass worker='/path/to/distributor-worker'",
        )
    return found
