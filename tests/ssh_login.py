"""The test login node of ``scripts/dev-clusters/sshd.sh``: its settings, and cutting its link.

A real OpenSSH server on 127.0.0.1 whose user (``distssh``) has a home of its own and a
Python environment with distributor installed, able to submit to the dev Slurm cluster and
Grid Engine cell. It listens on four ports; each test module that cuts the link uses a port of
its own (`login`'s `port_index`), so that groups running at once do not cut each other's.
Tests skip, saying why, when it is not running.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributor.batch import SSHConfig, SSHTransport
from distributor.exceptions import DistributorError, SchedulerError
from distributor.protocols import ClusterDistributor

__all__ = ["CutReport", "Login", "login", "ride_out_cut", "unavailable_reason"]

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "dev-clusters" / "sshd.sh"
STATE = Path(os.environ.get("DISTRIBUTOR_SSHD_DIR") or "/tmp/distributor-sshd")


@dataclass(frozen=True)
class Login:
    """The login node as its env file describes it."""

    url: str
    port: int
    key: str
    known_hosts: str
    worker: str
    home: Path
    small_disk: Path | None

    @property
    def python(self) -> str:
        """The login node's Python (beside its ``distributor-worker``)."""
        return str(Path(self.worker).with_name("python"))

    def config(self, **changes: Any) -> SSHConfig:
        """An `SSHConfig` for it (short keepalive: a cut link is noticed in ~6 s)."""
        base = SSHConfig(
            self.url,
            keyfile=self.key,
            known_hosts=self.known_hosts,
            keepalive=2.0,
            connect_timeout=5.0,
            command_timeout=30.0,
        )
        return dataclasses.replace(base, **changes)

    def scratch(self, label: str) -> Path:
        """A fresh directory name in the login user's home (created by the caller)."""
        return self.home / "tests" / f"{label}-{uuid.uuid4().hex[:8]}"

    def cut(self) -> None:
        """Drop every packet of this login's sshd port (``sshd.sh cut PORT``)."""
        subprocess.run(
            ["bash", str(SCRIPT), "cut", str(self.port)], check=True, capture_output=True
        )

    def restore(self) -> None:
        """Undo `cut`."""
        subprocess.run(
            ["bash", str(SCRIPT), "restore", str(self.port)], check=True, capture_output=True
        )

    @contextmanager
    def link_cut(self) -> Iterator[None]:
        """The link is down inside the block (restored however it ends)."""
        self.cut()
        try:
            yield
        finally:
            self.restore()


def _read_env() -> dict[str, str]:
    try:
        text = (STATE / "env.sh").read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    found = {}
    for line in text.splitlines():
        if line.startswith("export ") and "=" in line:
            name, _, value = line[len("export ") :].partition("=")
            found[name] = value
    return found


def login(port_index: int = 0) -> Login:
    """The login node through sshd's `port_index`-th port (call only when
    `unavailable_reason` is None)."""
    env = _read_env()
    port = int(env["DISTRIBUTOR_SSH_PORTS"].strip('"').split()[port_index])
    base = env["DISTRIBUTOR_SSH_URL"].rsplit(":", 1)[0]
    return Login(
        f"{base}:{port}",
        port,
        env["DISTRIBUTOR_SSH_KEY"],
        env["DISTRIBUTOR_SSH_KNOWN_HOSTS"],
        env["DISTRIBUTOR_SSH_WORKER"],
        Path(env["DISTRIBUTOR_SSH_HOME"]),
        Path(env["DISTRIBUTOR_SSH_SMALL_DISK"]) if "DISTRIBUTOR_SSH_SMALL_DISK" in env else None,
    )


def unavailable_reason() -> str | None:
    """Why SSH tests cannot run here, or None if a login works."""
    if "DISTRIBUTOR_SSH_URL" not in _read_env():
        return f"no test login node: {STATE}/env.sh is missing (start: {SCRIPT} start)"
    if os.geteuid() != 0:
        return "the SSH tests cut the link with nftables: they need root"
    transport = SSHTransport(login().config())
    try:
        result = transport.run(["true"], timeout=20)
    except DistributorError as exc:
        return f"no login on {transport.destination}: {exc}"
    if not result.ok:
        return f"no login on {transport.destination}: {result.stderr.strip() or result.error}"
    return None


@dataclass(frozen=True)
class CutReport:
    """What polling saw while the link was cut: polls made, how many failed, the longest
    (seconds) and the whole cut (seconds)."""

    polls: int
    failed: int
    slowest: float
    seconds: float

    @property
    def felt(self) -> bool:
        """A poll failed, or stalled for seconds (its retries outlasting the cut)."""
        return self.failed > 0 or self.slowest > 5.0


def ride_out_cut(
    node: Login, distributor: ClusterDistributor, ids: list[str], seconds: float = 30.0
) -> CutReport:
    """Cut `node`'s link for `seconds` while polling `ids` as a service would (a failed poll
    is logged and tried again at the next cycle, never fatal), then restore it."""
    polls = failed = 0
    slowest = 0.0
    began = time.monotonic()
    with node.link_cut():
        while time.monotonic() - began < seconds:
            polls += 1
            start = time.monotonic()
            try:
                distributor.get_submitted_or_running(ids)
            except SchedulerError:
                failed += 1
            slowest = max(slowest, time.monotonic() - start)
            time.sleep(1.0)
    return CutReport(polls, failed, slowest, time.monotonic() - began)
