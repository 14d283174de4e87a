"""Where `distributor` keeps state on this machine: one place, whatever the backend.

``$XDG_STATE_HOME/distributor/<cluster>`` (``~/.local/state/distributor/<cluster>`` by default)
holds a cluster's state: the local backend's reapers and logs, a batch plugin's task
directories (its *submit root*, which therefore lives in the home directory that compute nodes
share). The cluster's name is the key, and names are unique (a configured cluster, or a plugin
used by its name). ``DISTRIBUTOR_LOCAL_STATE_DIR`` and ``DISTRIBUTOR_SUBMIT_ROOT`` override it
for one backend; ``distributor check`` works under ``.checks/`` and removes what it made.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["checks_dir", "cluster_state_dir", "state_home"]


def state_home() -> Path:
    """``$XDG_STATE_HOME/distributor``, else ``~/.local/state/distributor``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "distributor"


def cluster_state_dir(cluster_name: str) -> Path:
    """The default state directory of cluster `cluster_name` (the caller makes the name safe
    for its use)."""
    return state_home() / cluster_name


def checks_dir() -> Path:
    """Where ``distributor check`` puts its scratch submit roots (a name no cluster has)."""
    return state_home() / ".checks"
