"""Helpers for tests that need a running Slurm (the plugin's own tests and integrators').

`find_slurm_conf` locates the cluster: ``SLURM_CONF`` from the environment, else the env file
that ``scripts/dev-clusters/slurm.sh start`` writes (``$DISTRIBUTOR_SLURM_DIR/env.sh``, default
``/tmp/distributor-slurm/env.sh``). `unavailable_reason` says why tests must be skipped, or
returns None when the cluster answers.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from distributor import SchedulerError
from distributor_slurm.client import SlurmClient

__all__ = ["cluster_dir", "find_slurm_conf", "unavailable_reason"]


def cluster_dir() -> Path:
    """The dev cluster's directory (``$DISTRIBUTOR_SLURM_DIR``, default /tmp/distributor-slurm)."""
    return Path(os.environ.get("DISTRIBUTOR_SLURM_DIR") or "/tmp/distributor-slurm")  # noqa: S108 - the dev cluster's documented default


def find_slurm_conf() -> str | None:
    """``SLURM_CONF`` from the environment or the dev cluster's env file; None if neither."""
    conf = os.environ.get("SLURM_CONF")
    if conf and Path(conf).is_file():
        return conf
    try:
        text = (cluster_dir() / "env.sh").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^export SLURM_CONF=(\S+)\s*$", text, re.MULTILINE)
    if match and Path(match.group(1)).is_file():
        return match.group(1)
    return None


def unavailable_reason(slurm_conf: str | None) -> str | None:
    """Why Slurm tests cannot run here, or None if the cluster answers."""
    if slurm_conf is None:
        return (
            "no running Slurm cluster: SLURM_CONF is unset and there is no "
            f"{cluster_dir()}/env.sh (start one with scripts/dev-clusters/slurm.sh start)"
        )
    try:
        SlurmClient(slurm_conf=slurm_conf).config()
    except SchedulerError as exc:
        return f"the Slurm cluster of {slurm_conf} does not answer: {exc}"
    return None
