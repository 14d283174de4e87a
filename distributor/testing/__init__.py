"""Tools for plugin authors: the conformance kit and a reference plugin.

`distributor.testing.checks` runs without test dependencies; `distributor.testing.conformance`
(the pytest base class) and `distributor.testing.strategies` need ``pytest`` and ``hypothesis``
(``pip install 'distributor[test]'``).
"""

from distributor.testing.checks import (
    CheckResult,
    ConformanceTarget,
    run_live_checks,
    wait_for_exit_info,
    wait_until_gone,
    wait_until_running,
)
from distributor.testing.reference import (
    MemoryDistributor,
    MemoryQueue,
    MemoryWorkerNode,
    reference_plugin,
)

__all__ = [
    "CheckResult",
    "ConformanceTarget",
    "MemoryDistributor",
    "MemoryQueue",
    "MemoryWorkerNode",
    "reference_plugin",
    "run_live_checks",
    "wait_for_exit_info",
    "wait_until_gone",
    "wait_until_running",
]
