"""`SSHTransport`: scheduler commands and file operations on a login node, through OpenSSH.

One authenticated master connection per destination (``ControlMaster``/``ControlPersist``)
carries every command, so whatever the site's login needs — ``~/.ssh/config``, ``ProxyJump``,
Kerberos, an agent — is done once by the OpenSSH client, and a command costs a round trip
rather than a login. Commands are argv lists; the remote command line is ``shlex.join`` of
them (every value quoted), preceded by ``env -u NAME NAME=VALUE`` for the variables the caller's
environment changes relative to this process's.

Failures, told apart by the client's exit status 255 and its message:

* **connection lost or host unreachable**: reported like a timed-out command (the runner
  retries queries and treats a submission as in doubt); the master is started afresh by the
  next command. `ShellFiles` raises `distributor.exceptions.ConnectionLostError`.
* **unknown or changed host key**: `distributor.exceptions.HostKeyError`, unless
  `SSHConfig.ignore_ssh_host_keys`.
* **login refused**: `distributor.exceptions.AuthenticationError`.
* **a remote program that is not installed**: a command that could not be started
  (`CommandResult.error`), which the runner reports in one line.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from distributor.batch.transport import CommandResult, ExecResult, LocalTransport
from distributor.exceptions import (
    AuthenticationError,
    ConnectionLostError,
    HostKeyError,
    TransportError,
)
from distributor.logs import get_logger

if TYPE_CHECKING:
    from distributor.batch.shell_files import ShellFiles

__all__ = ["SSHConfig", "SSHTransport", "parse_ssh_url"]

log = get_logger(__name__)

_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\]")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_OPTION = re.compile(r"[A-Za-z][A-Za-z0-9]*=[^\n]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HOST_KEY = re.compile(
    r"host key verification failed|remote host identification has changed|"
    r"no .* host key is known|host key for .* has changed",
    re.IGNORECASE,
)
_AUTH = re.compile(r"permission denied \(|too many authentication failures", re.IGNORECASE)
_NOT_FOUND = re.compile(r"command not found|not found|no such file or directory", re.IGNORECASE)


def parse_ssh_url(url: str) -> tuple[str | None, str, int | None]:
    """``ssh://[user@]host[:port]`` → (user, host, port).

    Raises:
        ValueError: not such a URL, or a user or host that could be read as an option.
    """
    parts = urlsplit(url)
    if parts.scheme != "ssh" or not parts.hostname:
        raise ValueError(f"transport {url!r}: expected ssh://[user@]host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.password:
        raise ValueError(f"transport {url!r}: only ssh://[user@]host[:port] is understood")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"transport {url!r}: the port is not a number in 1-65535") from None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    user = unquote(parts.username) if parts.username else None
    if not _HOST.fullmatch(host):
        raise ValueError(f"transport {url!r}: host {host!r} is not a host name or address")
    if user is not None and not _USER.fullmatch(user):
        raise ValueError(f"transport {url!r}: user {user!r} is not a plain user name")
    return user, host, port


@dataclass(frozen=True, slots=True)
class SSHConfig:
    """Where and how to reach a login node (a table in the cluster configuration).

    Attributes:
        url: ``ssh://[user@]host[:port]`` (user and port default to ``~/.ssh/config``'s).
        keyfile: private key to log in with (``-i``; only it is offered).
        ssh_config: an ssh_config file to use instead of ``~/.ssh/config`` (``-F``).
        known_hosts: known-hosts file to check the host key against (default OpenSSH's).
        ignore_ssh_host_keys: accept any host key (no protection against a man in the middle).
        connect_timeout: seconds to wait for a connection and login.
        keepalive: seconds between liveness probes of the master; after three unanswered
            the connection counts as lost.
        control_persist: seconds the master stays up after its last use.
        command_timeout: seconds a file operation may take.
        options: extra ``-o`` settings, ``"Name=value"`` each.
        ssh: the OpenSSH client to run.

    Raises:
        ValueError: the URL or an option is malformed.
    """

    url: str
    keyfile: str | None = None
    ssh_config: str | None = None
    known_hosts: str | None = None
    ignore_ssh_host_keys: bool = False
    connect_timeout: float = 15.0
    keepalive: float = 5.0
    control_persist: int = 300
    command_timeout: float = 120.0
    options: tuple[str, ...] = ()
    ssh: str = "ssh"

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", tuple(self.options))  # a TOML array is a list
        parse_ssh_url(self.url)
        for option in self.options:
            if not _OPTION.fullmatch(option):
                raise ValueError(f"ssh option {option!r}: expected Name=value")
        if not self.connect_timeout > 0 or not self.keepalive > 0:
            raise ValueError("connect_timeout and keepalive must be positive")
        if self.control_persist < 1 or not self.command_timeout > 0:
            raise ValueError("control_persist and command_timeout must be positive")


class SSHTransport:
    """A `distributor.batch.Transport` that runs commands on a login node (module docstring).

    Args:
        config: an `SSHConfig`, or its URL alone.

    Raises:
        ValueError: the configuration is malformed.
    """

    def __init__(self, config: SSHConfig | str) -> None:
        self.config = config if isinstance(config, SSHConfig) else SSHConfig(config)
        self.user, self.host, self.port = parse_ssh_url(self.config.url)
        self.destination = (
            f"{self.user + '@' if self.user else ''}{self.host}"
            f"{':' + str(self.port) if self.port else ''}"
        )
        self._lock = threading.Lock()
        self._master_up = False
        digest = hashlib.sha256(repr(self.config).encode()).hexdigest()[:24]
        self._socket = _control_dir() / digest  # ours to name, so that its absence is seen
        self.masters_started = 0
        self._login_name: str | None = None
        self._local = LocalTransport()

    def __repr__(self) -> str:
        return f"SSHTransport({self.config.url!r})"

    @cached_property
    def files(self) -> ShellFiles:
        """File operations on the login node's filesystem."""
        from distributor.batch.shell_files import ShellFiles

        return ShellFiles(self, timeout=self.config.command_timeout)

    # --- the OpenSSH command lines --------------------------------------------------------

    def _base(self) -> list[str]:
        config = self.config
        argv = [config.ssh, "-o", "BatchMode=yes",
                "-o", f"ConnectTimeout={config.connect_timeout:g}",
                "-o", f"ServerAliveInterval={config.keepalive:g}", "-o", "ServerAliveCountMax=3",
                "-o", f"ControlPath={self._socket}"]  # fmt: skip
        if config.ssh_config:
            argv += ["-F", os.path.expanduser(config.ssh_config)]
        if config.keyfile:
            argv += ["-i", os.path.expanduser(config.keyfile), "-o", "IdentitiesOnly=yes"]
        if config.ignore_ssh_host_keys:
            argv += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                     "-o", "LogLevel=ERROR"]  # fmt: skip
        else:
            argv += ["-o", "StrictHostKeyChecking=yes"]
            if config.known_hosts:
                argv += ["-o", f"UserKnownHostsFile={os.path.expanduser(config.known_hosts)}"]
        if self.user:
            argv += ["-l", self.user]
        if self.port:
            argv += ["-p", str(self.port)]
        for option in config.options:
            argv += ["-o", option]
        return argv

    def ssh_argv(self, remote_command: str) -> list[str]:
        """The client's argv that runs `remote_command` (a shell line) over the master."""
        return [*self._base(), "-o", "ControlMaster=no", "-T", "--", self.host, remote_command]

    # --- the master -----------------------------------------------------------------------

    def connect(self) -> None:
        """Start the master connection if it is not up.

        Raises:
            HostKeyError, AuthenticationError: the login cannot work as configured.
            ConnectionLostError: the host could not be reached.
        """
        with self._lock:
            if self._master_up and self._socket.exists():
                return
            self._start_master()

    def _start_master(self) -> None:
        argv = [*self._base(), "-o", "ControlMaster=yes",
                "-o", f"ControlPersist={self.config.control_persist}", "-N", "-f",
                "--", self.host]  # fmt: skip
        check = [*self._base(), "-O", "check", "--", self.host]
        if self._local.run(check, timeout=self.config.connect_timeout).ok:
            self._master_up = True
            return
        with tempfile.TemporaryFile() as errors:
            # -f forks the master once logged in; it must not hold a pipe of ours open
            began = time.monotonic()
            try:
                status = subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                    timeout=self.config.connect_timeout + 10,
                    check=False,
                ).returncode
            except subprocess.TimeoutExpired:
                status = None
            except OSError as exc:
                raise TransportError(self.destination, f"cannot run {argv[0]!r}: {exc}") from exc
            errors.seek(0)
            text = errors.read().decode("utf-8", "replace")
        self.masters_started += 1
        if status == 0:
            self._master_up = True
            log.info("ssh_master_started", destination=self.destination,
                     seconds=round(time.monotonic() - began, 3))  # fmt: skip
            return
        self._master_up = False
        raise self._failure(text, status is None)

    def _failure(self, stderr: str, timed_out: bool = False) -> TransportError:
        """The exception for an ssh failure (exit status 255) with `stderr`."""
        line = _last_line(stderr)
        if _HOST_KEY.search(stderr):
            known = self.config.known_hosts or "~/.ssh/known_hosts"
            return HostKeyError(
                self.destination,
                f"host key not known or changed ({line}); add it to {known} (ssh-keyscan) "
                "or set ignore_ssh_host_keys",
                stderr=stderr,
            )
        if _AUTH.search(stderr):
            return AuthenticationError(
                self.destination,
                f"login refused ({line}); check the user, keyfile and the remote authorized_keys",
                stderr=stderr,
            )
        reason = "timed out" if timed_out and not line else line or "connection failed"
        return ConnectionLostError(self.destination, f"connection lost: {reason}", stderr=stderr)

    def login_name(self) -> str:
        """The user name the login node runs commands as (``id -un`` there, asked once).

        Raises:
            TransportError: it cannot be asked.
        """
        if self._login_name is None:
            result = self.run(["id", "-un"], timeout=self.config.command_timeout)
            if not result.ok or not result.stdout.strip():
                raise self._failure(result.stderr or result.error or "id -un failed")
            self._login_name = result.stdout.strip()
        return self._login_name

    def close(self) -> None:
        """Stop the master connection (the next command starts another)."""
        with self._lock:
            self._local.run([*self._base(), "-O", "exit", "--", self.host], timeout=10)
            self._master_up = False

    # --- commands -------------------------------------------------------------------------

    def remote_line(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
        """The remote shell line for `argv`: every value quoted; `env`'s differences from this
        process's environment set (or unset) with ``env`` first."""
        prefix: list[str] = []
        if env is not None:
            unset = [name for name in os.environ if name not in env and _ENV_NAME.fullmatch(name)]
            changed = [f"{name}={value}" for name, value in env.items()
                       if os.environ.get(name) != value and _ENV_NAME.fullmatch(name)]  # fmt: skip
            if unset or changed:
                prefix = ["env", *(part for name in unset for part in ("-u", name)), *changed]
        return shlex.join([*prefix, *argv])

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> CommandResult:
        """Run `argv` on the login node (see `distributor.batch.Transport.run`).

        Raises:
            HostKeyError, AuthenticationError: the login cannot work as configured (a
                command that fails, times out or loses its connection is reported, not raised).
        """
        command = tuple(argv)
        try:
            self.connect()
        except ConnectionLostError as exc:
            return CommandResult(command, None, stderr=str(exc), timed_out=True)
        result = self._local.run(
            self.ssh_argv(self.remote_line(command, env)),
            timeout=timeout,
            stdin=stdin,
            on_start=on_start,
        )
        if result.returncode == 255:
            failure = self._failure(result.stderr)
            if not isinstance(failure, ConnectionLostError):
                raise failure
            self._master_up = False
            return CommandResult(command, None, result.stdout, str(failure), result.seconds,
                                 timed_out=True)  # fmt: skip
        if result.returncode == 127 and _NOT_FOUND.search(result.stderr):
            return CommandResult(
                command,
                None,
                result.stdout,
                result.stderr,
                result.seconds,
                error=f"{command[0]}: command not found on {self.destination}",
            )
        if result.timed_out:
            self._master_up = False  # a hung connection looks like this too
        return CommandResult(command, result.returncode, result.stdout, result.stderr,
                             result.seconds, result.timed_out, result.error)  # fmt: skip

    def exec_bytes(self, argv: Sequence[str], *, stdin: bytes | None, timeout: float) -> ExecResult:
        """Run `argv` on the login node with bytes in and out (file operations).

        Raises:
            ConnectionLostError: the connection dropped or timed out.
            HostKeyError, AuthenticationError: as `connect`.
        """
        self.connect()
        result = self._local.exec_bytes(
            self.ssh_argv(self.remote_line(argv)), stdin=stdin, timeout=timeout
        )
        if result.returncode == 255 or result.returncode is None:
            self._master_up = False
            raise self._failure(result.stderr, result.returncode is None)
        return result


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _control_dir() -> Path:
    """A private directory for master sockets (short enough for a socket path)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    path = Path(base) / f"distributor-ssh-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    info = path.lstat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise TransportError(str(path), "control socket directory is not private to this user")
    return path
