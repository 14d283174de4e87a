"""Throughput of `distributor.futures` on the local backend against the physical reference,
`concurrent.futures.ProcessPoolExecutor`, and (if installed) submitit's local executor.

In one run: N trivial calls (default 1,000) submitted one by one with ``submit``, then all
results collected; the same N through ``map`` (one array); the same N through a
ProcessPoolExecutor of the same width. Prints calls/s of each and the ratios to the pool.
A call here is a task — a process, its own directory, a pickled call and result, a detached
reaper watching it — so the pool (one long-lived process per core, no files) is an upper
bound, not a peer.

    python benchmarks/futures_throughput.py [--calls N] [--parallelism P]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib
import importlib.util
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from distributor.config import ClusterConfig
from distributor.futures import Executor


def trivial(x: int) -> int:
    """The call being measured."""
    return x + 1


def with_distributor(calls: int, parallelism: int, folder: Path, *, use_map: bool) -> float:
    config = ClusterConfig("bench", "local",
                           options={"state_dir": str(folder / "state"),
                                    "parallelism": parallelism})  # fmt: skip
    began = time.perf_counter()
    with Executor(config, folder=folder / "calls", poll_interval=0.05) as executor:
        if use_map:
            results = list(executor.map(trivial, range(calls)))
        else:
            futures = [executor.submit(trivial, i) for i in range(calls)]
            results = [f.result() for f in futures]
    assert results == [i + 1 for i in range(calls)]
    return time.perf_counter() - began


def with_pool(calls: int, parallelism: int) -> float:
    began = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(parallelism) as pool:
        futures = [pool.submit(trivial, i) for i in range(calls)]
        results = [f.result() for f in futures]
    assert results == [i + 1 for i in range(calls)]
    return time.perf_counter() - began


def with_submitit(calls: int, folder: Path) -> float | None:
    if importlib.util.find_spec("submitit") is None:
        return None
    submitit: Any = importlib.import_module("submitit")  # optional, untyped

    executor = submitit.LocalExecutor(folder=str(folder / "submitit"))
    began = time.perf_counter()
    jobs = [executor.submit(trivial, i) for i in range(calls)]
    results = [job.result() for job in jobs]
    assert results == [i + 1 for i in range(calls)]
    return time.perf_counter() - began


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    n, width = args.calls, args.parallelism
    with tempfile.TemporaryDirectory(prefix="futures-bench-") as tmp:
        pool = with_pool(n, width)
        submitted = with_distributor(n, width, Path(tmp, "submit"), use_map=False)
        mapped = with_distributor(n, width, Path(tmp, "map"), use_map=True)
        submitit_seconds = with_submitit(n, Path(tmp))
    print(f"{n} trivial calls, {width} at a time")
    print(f"ProcessPoolExecutor           {n / pool:9.1f} calls/s  (reference)")
    print(
        f"distributor.futures submit    {n / submitted:9.1f} calls/s  ratio {pool / submitted:.3f}"
    )
    print(f"distributor.futures map       {n / mapped:9.1f} calls/s  ratio {pool / mapped:.3f}")
    if submitit_seconds is None:
        print("submitit                       not installed")
    else:
        print(f"submitit LocalExecutor        {n / submitit_seconds:9.1f} calls/s  "
              f"ratio {pool / submitit_seconds:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
