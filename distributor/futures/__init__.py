"""Python functions on any cluster, behind `concurrent.futures` (needs the ``futures`` extra:
``pip install 'distributor-core[futures]'``, for cloudpickle)::

    from distributor.futures import Executor

    with Executor("slurm", resources={"memory": "2G", "runtime": "10m"}) as executor:
        future = executor.submit(pow, 2, 10)        # mypy checks the arguments
        print(future.result())                       # 1024
        print(list(executor.map(abs, [-1, -2, 3])))  # one array: [1, 2, 3]

A remote exception is raised again here with its type, the remote traceback as its cause and
the task's log in a note; a task that ended without a result raises `TaskFailedError` with its
exit information. Names load on first use, so the task's side (`distributor.futures.remote`)
imports only what it needs.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from distributor.futures.errors import (
        PayloadError,
        RemoteEnvironmentError,
        RemoteTraceback,
        TaskFailedError,
    )
    from distributor.futures.executor import Executor
    from distributor.futures.future import ClusterFuture
del TYPE_CHECKING

_WHERE = {
    "ClusterFuture": "distributor.futures.future",
    "Executor": "distributor.futures.executor",
    "PayloadError": "distributor.futures.errors",
    "RemoteEnvironmentError": "distributor.futures.errors",
    "RemoteTraceback": "distributor.futures.errors",
    "TaskFailedError": "distributor.futures.errors",
}


def __getattr__(name: str) -> "Any":
    """A public name, imported from its module on first use."""
    if name not in _WHERE:
        raise AttributeError(f"module 'distributor.futures' has no attribute {name!r}")
    from importlib import import_module

    found = getattr(import_module(_WHERE[name]), name)
    globals()[name] = found
    return found


__all__ = [
    "ClusterFuture",
    "Executor",
    "PayloadError",
    "RemoteEnvironmentError",
    "RemoteTraceback",
    "TaskFailedError",
]
