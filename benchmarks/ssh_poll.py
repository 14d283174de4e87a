"""Cost of a poll cycle through the SSH transport versus the local one, on the real Slurm.

In one run, against the dev Slurm cluster and the test login node
(``scripts/dev-clusters/sshd.sh``, which must run; needs root for its env file):

* **local**: `SlurmDistributor` with the local transport tracking `--jobs` sleeping jobs,
  forced poll cycles (``tracker.refresh(force=True)``: one ``squeue``) timed `--cycles` times;
* **ssh**: the same jobs tracked by a `SlurmDistributor` through `SSHTransport` (the same
  ``squeue``, run on the login node over the master connection), timed the same way;
* **ssh round trip**: a bare ``true`` through the master connection (the transport's floor);
* **first command**: the first command of a new transport, which logs in (the master).

Prints median/mean milliseconds and the ratio ssh/local of the medians.

    python benchmarks/ssh_poll.py [--jobs 20] [--cycles 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from distributor.batch import PollPolicy, SSHTransport
from distributor_slurm import SlurmDistributor
from distributor_slurm.testing import find_slurm_conf
from distributor_slurm.testing import unavailable_reason as slurm_unavailable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.ssh_login import login, unavailable_reason

POLICY = PollPolicy(max_calls_per_minute=100_000, accounting_interval=3600.0)


def timed(action: Callable[[], object], cycles: int) -> list[float]:
    """Milliseconds of each of `cycles` calls of `action`."""
    times = []
    for _ in range(cycles):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return times


def summary(label: str, times: list[float]) -> float:
    """Print median/mean of `times`; return the median."""
    median = statistics.median(times)
    print(f"  {label:<36} median {median:7.1f} ms, mean {statistics.mean(times):7.1f} ms")
    return median


def main() -> int:
    """Run the benchmark (module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=30)
    args = parser.parse_args()
    why = unavailable_reason() or slurm_unavailable(find_slurm_conf())
    if why:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    node = login(0)
    resources = {"memory": "50M", "runtime": 600}
    with tempfile.TemporaryDirectory() as scratch:
        local = SlurmDistributor("bench-local", submit_root=Path(scratch) / "root",
                                 poll_policy=POLICY)  # fmt: skip
        transport = SSHTransport(node.config())
        began = time.perf_counter()
        transport.run(["true"], timeout=30)
        first = (time.perf_counter() - began) * 1000
        remote = SlurmDistributor("bench-ssh", submit_root=node.scratch("bench"),
                                  transport=transport, poll_policy=POLICY)  # fmt: skip
        local.start()
        remote.start()
        local_ids = list(local.submit_array_to_batch_distributor(
            "sleep 600", "bench", resources, args.jobs).values())  # fmt: skip
        remote_ids = list(remote.submit_array_to_batch_distributor(
            "sleep 600", "bench", resources, args.jobs).values())  # fmt: skip
        try:
            print(f"poll cycle with {args.jobs} tracked jobs, {args.cycles} cycles each:")
            base = summary("local (squeue)", timed(
                lambda: local.tracker.refresh(force=True), args.cycles))  # fmt: skip
            over = summary("ssh (squeue on the login node)", timed(
                lambda: remote.tracker.refresh(force=True), args.cycles))  # fmt: skip
            floor = summary("ssh round trip (true)", timed(
                lambda: transport.run(["true"], timeout=30), args.cycles))  # fmt: skip
            print(f"  {'first command (logs in)':<36} {first:7.1f} ms")
            print(f"ratio ssh/local per poll cycle: {over / base:.2f} "
                  f"(+{over - base:.1f} ms; the bare round trip is {floor:.1f} ms)")  # fmt: skip
        finally:
            local.terminate_task_instances(local_ids)
            remote.terminate_task_instances(remote_ids)
            transport.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
