"""Scale of the embeddable service, in one run.

(a) Throughput: N ``/bin/true`` tasks (default 20,000) through `Service` on the ``local``
    backend against the same tasks through the bare `LocalDistributor` loop (submit all, poll
    every exit info to final, as ``benchmarks/local_throughput.py`` does). Rounds alternate
    bare/service so machine noise hits both; prints tasks/s and service/bare (target ≥ 0.8).
(b) Holding: M tasks (default 100,000) in one service with a fake scheduler that answers at
    once: CPU seconds per poll cycle with all M in flight (target ≤ 0.5 s), the submission
    cycle and the completion cycle, peak RSS (target ≤ 300 MB) and the journal's size.

    python benchmarks/service_scale.py [--tasks N] [--hold M] [--parallelism P] [--rounds R]
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import structlog
from local_throughput import through_distributor  # the same baseline loop, beside this file

from distributor.local import LocalDistributor
from distributor.service import Cluster, Service, ServiceConfig, TaskSpec, Throttle
from distributor.testing.faults import FakeDistributor

POLL = 0.01  # seconds between polls, as in the baseline loop


def bare(tasks: int, parallelism: int, work: Path) -> float:
    """The baseline of ``local_throughput.py``: submit all, poll every 10 ms until final."""
    return through_distributor(tasks, parallelism, str(work / "state"))


def through_service(tasks: int, parallelism: int, work: Path) -> float:
    """The same tasks added to a Service (journal on disk) and run to the end; seconds."""
    work.mkdir()
    distributor = LocalDistributor("bench", state_dir=work / "state", parallelism=parallelism)
    config = ServiceConfig(min_poll_interval=POLL, poll_interval=POLL)
    with Service(work / "journal.db", Cluster(distributor), config=config) as service:
        began = time.perf_counter()
        service.add(TaskSpec(name=f"t{i}", command="/bin/true") for i in range(tasks))
        summary = service.run()
        elapsed = time.perf_counter() - began
    assert summary.all_done, summary
    return elapsed


def throughput(tasks: int, parallelism: int, rounds: int) -> None:
    """Part (a). Every round's files are deleted only at the end (see `through_distributor`)."""
    bare_times, service_times = [], []
    with tempfile.TemporaryDirectory() as work:
        for round_ in range(rounds):
            bare_times.append(bare(tasks, parallelism, Path(work) / f"bare{round_}"))
            service_times.append(through_service(tasks, parallelism, Path(work) / f"svc{round_}"))
    b, s = statistics.median(bare_times), statistics.median(service_times)
    print(f"(a) {tasks} x /bin/true on local, parallelism={parallelism}, rounds={rounds}")
    print(f"    bare LocalDistributor loop : {tasks / b:8.0f} tasks/s (median {b:.2f} s)")
    print(f"    through the service        : {tasks / s:8.0f} tasks/s (median {s:.2f} s)")
    print(f"    service/bare = {b / s:.2f} (target >= 0.8)")


def _cpu(action: Callable[[], object]) -> float:
    began = time.process_time()
    action()
    return time.process_time() - began


def _specs(count: int) -> Iterator[TaskSpec]:
    for i in range(count):
        yield TaskSpec(name=f"task-{i:06d}", command=f"work {i}", owner=f"wf{i % 4}",
                       resources={"memory": "1G", "runtime": 600})  # fmt: skip


def holding(count: int) -> None:
    """Part (b)."""
    print(f"(b) {count} tasks in one service (fake scheduler, journal on disk, synchronous=FULL)")
    with tempfile.TemporaryDirectory() as work:
        journal = Path(work) / "journal.db"
        # 1. All in flight at once: the cost of one poll cycle that holds them all.
        fake = FakeDistributor("fake")
        with Service(journal, Cluster(fake, throttle=Throttle(submit_chunk=count))) as service:
            add = _cpu(lambda: service.add(_specs(count)))
            submit = _cpu(service.step)
            assert len(fake.jobs) == count
            polls = [_cpu(service.step) for _ in range(10)]
            for distributor_id in fake.active_ids():
                fake.finish(distributor_id)
            finish = _cpu(service.step)
            assert service.summary().all_done
            wal = service._journal.size_bytes()
        at_rest = journal.stat().st_size
        print(f"    {f'add {count} tasks':<27}: {add:6.2f} CPU s")
        print(f"    submit all in one cycle    : {submit:6.2f} CPU s (arrays of 1000)")
        print(f"    poll cycle, all in flight  : {statistics.mean(polls):6.3f} CPU s mean, "
              f"{max(polls):.3f} max (target <= 0.5)")  # fmt: skip
        print(f"    all end in one cycle       : {finish:6.2f} CPU s")
        print(f"    journal at rest / with WAL : {at_rest / 2**20:6.1f} / {wal / 2**20:.1f} MiB "
              f"({at_rest / count:.0f} bytes per task)")  # fmt: skip
    with tempfile.TemporaryDirectory() as work:
        # 2. Default throttle (1000 per cycle), jobs end as soon as they are polled.
        fake = FakeDistributor("fake", instant=True)
        with Service(Path(work) / "journal.db", Cluster(fake)) as service:
            service.add(_specs(count))
            cycles = []
            while not service.summary().finished:
                cycles.append(_cpu(service.step))
        mean, worst = statistics.mean(cycles), max(cycles)
        print(f"    default throttle, instant  : {len(cycles)} cycles, {mean:.3f} CPU s mean, "
              f"{worst:.3f} max per cycle")  # fmt: skip
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"    peak RSS                   : {rss:6.0f} MB (target <= 300)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--hold", type=int, default=100_000)
    parser.add_argument("--parallelism", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    holding(args.hold)
    throughput(args.tasks, args.parallelism, args.rounds)


if __name__ == "__main__":
    main()
