"""A plugin whose constructors do not match the contract; mypy must reject the pins below."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import distributor as d
from distributor.testing import MemoryDistributor, MemoryQueue


class ForgetfulQueue(MemoryQueue):
    """Forgets the queue id the contract passes first."""

    def __init__(self, queue_name: str, parameters: Mapping[str, Any]) -> None:
        super().__init__(0, queue_name, parameters)


class NamelessDistributor(MemoryDistributor):
    """Takes a numeric cluster id instead of the cluster name."""

    def __init__(self, cluster_id: int) -> None:
        super().__init__(str(cluster_id))


_queue: d.ClusterQueueFactory = ForgetfulQueue  # mypy: error expected here (line 26)
_distributor: d.ClusterDistributorFactory = NamelessDistributor  # and here (line 27)
