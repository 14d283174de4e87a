"""Tools for plugin authors: the conformance kit, a reference plugin, and what every plugin's
own tests need — an exit-matrix harness (`ExitMatrix`), fake commands on ``PATH``
(`install_fake_commands`) and hostile input (`distributor.testing.hostile`).

`distributor.testing.checks` runs without test dependencies; `distributor.testing.conformance`
(the pytest base class) and `distributor.testing.strategies` need ``pytest`` and ``hypothesis``
(``pip install 'distributor-core[test]'``).
"""

from distributor.testing.checks import (
    CheckResult,
    ConformanceTarget,
    run_live_checks,
    wait_for_exit_info,
    wait_until_gone,
    wait_until_running,
)
from distributor.testing.exit_matrix import ExitCase, ExitMatrix, collect_all
from distributor.testing.fake_commands import install_fake_commands, path_with
from distributor.testing.reference import (
    MemoryDistributor,
    MemoryQueue,
    MemoryWorkerNode,
    reference_plugin,
)

__all__ = [
    "CheckResult",
    "ConformanceTarget",
    "ExitCase",
    "ExitMatrix",
    "MemoryDistributor",
    "MemoryQueue",
    "MemoryWorkerNode",
    "collect_all",
    "install_fake_commands",
    "path_with",
    "reference_plugin",
    "run_live_checks",
    "wait_for_exit_info",
    "wait_until_gone",
    "wait_until_running",
]
