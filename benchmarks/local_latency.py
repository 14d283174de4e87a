"""Latency of the local backend: how long after a task ends its controller knows it.

In one run:

* ``sleep 1`` end to end through `LocalDistributor` — submit, then ``wait_for_change`` between
  polls until the exit info is final — against a bare ``subprocess.run(["sleep", "1"])``; the
  overhead in ms and the ratio. For comparison, the same task followed by a caller that sleeps
  between polls with a growing pause (0.05 s × 1.5 up to 2 s, as ``distributor run`` did);
* 200 ``true`` tasks through `LocalDistributor`, submit to the last final exit info;
* the CPU used by the controller and by its reaper while a ``sleep`` task runs and the
  controller waits for it (idle cost of waiting).

    python benchmarks/local_latency.py [--rounds N] [--tasks N] [--idle SECONDS]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from distributor import TaskInstanceStatus
from distributor.local import LocalDistributor


def until_final(distributor: LocalDistributor, ids: list[str], pause: Callable[[], None]) -> None:
    """Poll until every id has final exit info (each must be D), calling `pause` in between."""
    pending = set(ids)
    while True:
        for distributor_id in pending - distributor.get_submitted_or_running(list(pending)):
            info = distributor.get_remote_exit_info(distributor_id)
            assert info.error_state == TaskInstanceStatus.DONE, info
            pending.discard(distributor_id)
        if not pending:
            return
        pause()


def waiting(distributor: LocalDistributor) -> Callable[[], None]:
    """Pause by waiting for the reaper's news (what a caller of this backend should do)."""

    def pause() -> None:
        distributor.wait_for_change(5.0)

    return pause


def backing_off() -> Callable[[], None]:
    """Pause by sleeping 0.05 s, then 1.5 times longer each time, at most 2 s."""
    interval = [0.05]

    def pause() -> None:
        time.sleep(interval[0])
        interval[0] = min(interval[0] * 1.5, 2.0)

    return pause


def timed(distributor: LocalDistributor, commands: list[str], pause: Callable[[], None]) -> float:
    """Seconds from the first submission to the last final exit info."""
    began = time.perf_counter()
    ids = [distributor.submit_to_batch_distributor(c, "bench", {}) for c in commands]
    until_final(distributor, ids, pause)
    return time.perf_counter() - began


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cost(distributor: LocalDistributor, seconds: float) -> tuple[float, float]:
    """CPU seconds used by (this controller, its reaper) while one ``sleep`` task runs."""
    (identity,) = (distributor.state_dir / "reapers").glob("*/reaper.jsonl")
    reaper = int(json.loads(identity.read_text().splitlines()[0])["pid"])
    did = distributor.submit_to_batch_distributor(f"sleep {seconds}", "idle", {})
    while did not in distributor.get_running([did]):
        distributor.wait_for_change(5.0)
    own, theirs = time.process_time(), cpu_seconds(reaper)
    until_final(distributor, [did], waiting(distributor))
    return time.process_time() - own, cpu_seconds(reaper) - theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; medians shown")
    parser.add_argument("--tasks", type=int, default=200, help="`true` tasks in the burst")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of the idle task")
    args = parser.parse_args()
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    bare, ours, polled, burst = [], [], [], []
    with tempfile.TemporaryDirectory() as state:
        distributor = LocalDistributor("bench", state_dir=state)
        distributor.start()
        for _ in range(args.rounds):  # alternate: a noisy neighbour hurts all alike
            began = time.perf_counter()
            subprocess.run(["sleep", "1"], check=True)
            bare.append(time.perf_counter() - began)
            ours.append(timed(distributor, ["sleep 1"], waiting(distributor)))
            polled.append(timed(distributor, ["sleep 1"], backing_off()))
            burst.append(timed(distributor, ["true"] * args.tasks, waiting(distributor)))
        controller, reaper = idle_cost(distributor, args.idle)
        distributor.stop()
    raw, wait, poll, many = (statistics.median(x) for x in (bare, ours, polled, burst))
    print(f"rounds={args.rounds} parallelism={distributor.parallelism} (medians)")
    print(f"sleep 1, subprocess.run       : {raw:6.3f} s")
    print(f"sleep 1, LocalDistributor     : {wait:6.3f} s  overhead {1000 * (wait - raw):5.0f} ms"
          f"  ratio {wait / raw:.3f}")  # fmt: skip
    print(f"sleep 1, polled with back-off : {poll:6.3f} s  overhead {1000 * (poll - raw):5.0f} ms"
          f"  ratio {poll / raw:.3f}")  # fmt: skip
    print(f"{args.tasks} x true, LocalDistributor: {many:6.3f} s ({args.tasks / many:.0f} tasks/s)")
    print(f"waiting {args.idle:g} s on a running task: controller {1000 * controller:.1f} ms CPU"
          f" ({100 * controller / args.idle:.3f} %), reaper {1000 * reaper:.1f} ms CPU"
          f" ({100 * reaper / args.idle:.3f} %)")  # fmt: skip


if __name__ == "__main__":
    main()
