"""Helpers for tests that need a running Grid Engine (the plugin's own tests and integrators').

`cell_environment` reads the env file that ``scripts/dev-clusters/sge.sh start`` writes
(``$DISTRIBUTOR_SGE_STATE_DIR/env.sh``, default ``/tmp/distributor-sge/env.sh``);
`unavailable_reason` says why tests must be skipped, or returns None when the cell answers and
has a usable queue instance.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from distributor import SchedulerError
from distributor.batch import PollPolicy
from distributor_sge.client import SgeClient
from distributor_sge.distributor import SgeDistributor

__all__ = [
    "TEST_POLL_POLICY",
    "cell_environment",
    "dev_distributor",
    "state_dir",
    "unavailable_reason",
]

TEST_POLL_POLICY = PollPolicy(
    min_interval=0.3,
    max_interval=1.0,
    accounting_interval=1.0,
    accounting_delay=10.0,
    lost_grace=30.0,
)
"""Polling for tests on the dev cell: its accounting is flushed at once, so waits are short."""

_EXPORT = re.compile(r"^export ([A-Z_][A-Z0-9_]*)=(\S*)\s*$", re.MULTILINE)


def state_dir() -> Path:
    """The dev cell's directory (``$DISTRIBUTOR_SGE_STATE_DIR``, default /tmp/distributor-sge)."""
    return Path(os.environ.get("DISTRIBUTOR_SGE_STATE_DIR") or "/tmp/distributor-sge")  # noqa: S108 - the dev cell's documented default


def cell_environment() -> dict[str, str]:
    """The variables the dev cell's env file exports (``SGE_ROOT``, ``DISTRIBUTOR_SGE_QUEUE``,
    ...); empty if there is no env file."""
    try:
        text = (state_dir() / "env.sh").read_text(encoding="utf-8")
    except OSError:
        return {}
    return dict(_EXPORT.findall(text))


def unavailable_reason(queue: str = "all.q") -> str | None:
    """Why Grid Engine tests cannot run here, or None if the cell answers and `queue` has an
    instance without state flags (a dead execd shows as ``u`` only after ``max_unheard``)."""
    env = cell_environment()
    client = SgeClient(sge_root=env.get("SGE_ROOT"), sge_cell=env.get("SGE_CELL"))
    try:
        hosts = client.hosts()
    except SchedulerError as exc:
        return (
            f"no running Grid Engine cell (start one with scripts/dev-clusters/sge.sh start): {exc}"
        )
    usable = [host.name for host in hosts if host.states.get(queue) == ""]
    if not usable:
        shown = {host.name: host.states.get(queue, "absent") for host in hosts}
        return f"Grid Engine queue {queue!r} has no usable instance (states: {shown})"
    return None


def dev_distributor(submit_root: Path, **options: Any) -> SgeDistributor:
    """A started `SgeDistributor` for the dev cell on `submit_root` (options passed through)."""
    env = cell_environment()
    options.setdefault("poll_policy", TEST_POLL_POLICY)
    distributor = SgeDistributor(
        "dev",
        submit_root=submit_root,
        sge_root=env.get("SGE_ROOT"),
        sge_cell=env.get("SGE_CELL"),
        **options,
    )
    distributor.start()
    return distributor
