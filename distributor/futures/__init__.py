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
    from distributor.futures.errors import (
        PayloadError,
        RemoteEnvironmentError,
        RemoteTraceback,
        TaskFailedError,
    )
    from distributor.futures.executor import Executor
    from distributor.futures.future import ClusterFuture
del TYPE_CHECKING

from distributor._lazy import attach as _attach  # noqa: E402  (after the type-only imports)

_WHERE = {
    "ClusterFuture": "distributor.futures.future",
    "Executor": "distributor.futures.executor",
    "PayloadError": "distributor.futures.errors",
    "RemoteEnvironmentError": "distributor.futures.errors",
    "RemoteTraceback": "distributor.futures.errors",
    "TaskFailedError": "distributor.futures.errors",
}


__all__ = [
    "ClusterFuture",
    "Executor",
    "PayloadError",
    "RemoteEnvironmentError",
    "RemoteTraceback",
    "TaskFailedError",
]

__getattr__, __dir__ = _attach(__name__, _WHERE, globals(), __all__)
