"""`ExecutorSettings`: the ``--distributor-*`` options of ``snakemake --executor distributor``.

No ``from __future__ import annotations`` here: Snakemake reads each field's type at run time
(``dataclasses.fields(...).type``) to build its command line, and string annotations make every
``snakemake`` command fail. Each field names its ``type`` in its metadata for the same reason
(Snakemake's argument builder cannot take ``X | None``).
"""

from dataclasses import dataclass, field

from snakemake_interface_executor_plugins.settings import ExecutorSettingsBase

__all__ = ["DEFAULT_LOST_GRACE", "DEFAULT_MEMORY_OVERHEAD_MIB", "ExecutorSettings"]

DEFAULT_MEMORY_OVERHEAD_MIB = 256
"""MiB added to each job's ``mem_mb``: the nested ``python -m snakemake`` that runs the job on
its node peaks near 130 MiB before the rule's own command starts."""

DEFAULT_LOST_GRACE = 300.0
"""Seconds a job the scheduler no longer lists, and has no exit information for, is looked for
before it counts as lost — only for plugins that do not decide that themselves."""


@dataclass
class ExecutorSettings(ExecutorSettingsBase):
    """What ``--distributor-cluster`` and its companions set (all optional but the cluster)."""

    cluster: str | None = field(
        default=None,
        metadata={
            "help": "The cluster to run every job on: a cluster configured in distributor.toml "
            "or ~/.config/distributor/config.toml, or an installed plugin's name (local, slurm, "
            "sge, ...); see `distributor clusters`.",
            "type": str,
            "metavar": "NAME",
            "env_var": False,
            "required": True,
        },
    )
    memory_overhead_mib: int = field(
        default=DEFAULT_MEMORY_OVERHEAD_MIB,
        metadata={
            "help": "MiB added to each job's mem_mb for the nested Snakemake process that runs "
            f"the job on its node (default {DEFAULT_MEMORY_OVERHEAD_MIB}). Jobs without mem_mb "
            "ask for no memory: the cluster's default applies.",
            "type": int,
            "metavar": "MIB",
            "env_var": False,
        },
    )
    lost_grace: float = field(
        default=DEFAULT_LOST_GRACE,
        metadata={
            "help": "Seconds a job that the scheduler stopped listing without exit information "
            "is looked for before it fails as lost (only for plugins that do not decide this "
            f"themselves; the built-in ones do). Default {DEFAULT_LOST_GRACE:g}.",
            "type": float,
            "metavar": "SECONDS",
            "env_var": False,
        },
    )
    max_array_size: int = field(
        default=50,
        metadata={
            "help": "Jobs of one rule with equal resources that are ready together go to the "
            "cluster as one array of at most this many (1: every job on its own). Default 50.",
            "type": int,
            "metavar": "N",
            "env_var": False,
        },
    )
