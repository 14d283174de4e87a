"""`Plugin`: the object an entry point in the ``distributor.plugins`` group names."""

from __future__ import annotations

from dataclasses import dataclass

from distributor.protocols import (
    ClusterDistributorFactory,
    ClusterQueueFactory,
    ClusterWorkerNodeFactory,
)

__all__ = ["ENTRY_POINT_GROUP", "Plugin"]

ENTRY_POINT_GROUP = "distributor.plugins"
"""The entry-point group every plugin, built-in or third-party, registers in."""


@dataclass(frozen=True, slots=True)
class Plugin:
    """A backend: its three factories under one name.

    A plugin package exposes one of these and names it in its ``pyproject.toml``::

        [project.entry-points."distributor.plugins"]
        mysched = "distributor_mysched:plugin"

    Attributes:
        name: the name users select the backend by; must equal the entry-point name.
        queue / distributor / worker_node: the classes (or any callables) that build them.
        description: one line shown by ``distributor plugins``.
    """

    name: str
    queue: ClusterQueueFactory
    distributor: ClusterDistributorFactory
    worker_node: ClusterWorkerNodeFactory
    description: str = ""
