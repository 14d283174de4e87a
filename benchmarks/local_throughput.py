"""Throughput of the local backend against a bare ``subprocess.Popen`` loop (and PSI/J if present).

In one run: N ``/bin/true`` tasks (default 2,000) through `LocalDistributor` — submit all, then
poll until every exit info is final — and the same tasks through a plain Popen loop with the same
concurrency. Prints tasks/s for each and the ratio distributor/raw (target ≥ 0.6 on 2 cores).

    python benchmarks/local_throughput.py [--tasks N] [--parallelism P]
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time

import structlog

from distributor import TaskInstanceStatus
from distributor.local import LocalDistributor


def raw_popen(tasks: int, parallelism: int) -> float:
    """Run `tasks` × /bin/true with at most `parallelism` alive; return seconds."""
    began = time.perf_counter()
    running: list[subprocess.Popen[bytes]] = []
    started = 0
    while started < tasks or running:
        while started < tasks and len(running) < parallelism:
            running.append(subprocess.Popen(["/bin/true"]))
            started += 1
        os.wait()  # reap whichever ends first
        still = []
        for proc in running:
            if proc.poll() is None:
                still.append(proc)
        running = still
    return time.perf_counter() - began


def through_distributor(tasks: int, parallelism: int, state: str) -> float:
    """Submit `tasks` × /bin/true, poll every exit info to final; return seconds.

    `state` must be a fresh directory, deleted only after every round: on a journal-less ext4
    (this project's CI machines) creating a file costs ~6× more for 30 s after many deletions,
    so deleting one round's 2,000 logs before the next would slow the next round's log creation.
    """
    distributor = LocalDistributor("bench", state_dir=state, parallelism=parallelism)
    distributor.start()
    began = time.perf_counter()
    ids = [distributor.submit_to_batch_distributor("/bin/true", "t", {}) for _ in range(tasks)]
    pending = set(ids)
    while pending:
        time.sleep(0.01)
        # One status call per poll cycle; exit info only for the ids that have left.
        for distributor_id in pending - distributor.get_submitted_or_running(list(pending)):
            info = distributor.get_remote_exit_info(distributor_id)
            assert info.error_state == TaskInstanceStatus.DONE, info
            pending.discard(distributor_id)
    elapsed = time.perf_counter() - began
    distributor.stop()
    return elapsed


def through_psij(tasks: int, parallelism: int) -> float:  # pragma: no cover - optional
    """The same work through PSI/J's local executor."""
    import psij  # type: ignore[import-not-found]  # optional: only when installed

    executor = psij.JobExecutor.get_instance("local")
    began = time.perf_counter()
    jobs = []
    for _ in range(tasks):
        job = psij.Job(psij.JobSpec(executable="/bin/true"))
        executor.submit(job)
        jobs.append(job)
    for job in jobs:
        job.wait()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--parallelism", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians shown")
    args = parser.parse_args()
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    raws, ourses = [], []
    with tempfile.TemporaryDirectory() as states:
        for round_ in range(args.rounds):  # alternate: a noisy neighbour hurts both alike
            raws.append(raw_popen(args.tasks, args.parallelism))
            state = os.path.join(states, str(round_))
            ourses.append(through_distributor(args.tasks, args.parallelism, state))
    raw, ours = statistics.median(raws), statistics.median(ourses)
    print(f"tasks={args.tasks} parallelism={args.parallelism} rounds={args.rounds} (medians)")
    print(f"raw Popen loop    : {args.tasks / raw:8.0f} tasks/s ({raw:.2f} s)")
    print(f"LocalDistributor  : {args.tasks / ours:8.0f} tasks/s ({ours:.2f} s)")
    print(f"ratio distributor/raw = {raw / ours:.2f} (target >= 0.6)")
    if importlib.util.find_spec("psij") is not None:
        theirs = through_psij(args.tasks, args.parallelism)
        print(f"PSI/J local       : {args.tasks / theirs:8.0f} tasks/s ({theirs:.2f} s)")
        print(f"ratio distributor/psij = {theirs / ours:.2f}")


if __name__ == "__main__":
    main()
