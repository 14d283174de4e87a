"""Memory of a long-lived batch distributor: flat, however many jobs it has seen.

Each round submits J jobs (default 100,000, as arrays of 1,000) to a `BatchDistributor` over
an in-process scheduler whose jobs end as soon as they are polled, polls until every one has
final exit info, then lets the clock pass `PollPolicy.forget_after`. RSS (``VmRSS``) is read
after every round. The baseline is the same run in the same process with forgetting switched
off (``forget_after`` = infinity: what the tracker did before settled jobs were forgotten).
Prints RSS per round and the growth from the first round to the last for both; the target is
a growth of at most a few MiB with forgetting, against the baseline's growth of O(jobs).

    python benchmarks/batch_memory.py [--jobs J] [--rounds R]
"""

from __future__ import annotations

import argparse
import gc
import logging
import re
import tempfile
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import structlog

from distributor import RemoteExitInfo, ResourceRequest, TaskInstanceStatus
from distributor.batch import (
    BatchDistributor,
    BatchJob,
    JobPhase,
    JobStatus,
    NamedJob,
    PollPolicy,
    TrackedJob,
)
from distributor.worker import ExitRecord

ARRAY = 1000
_ID = re.compile(r"([0-9]+)(?:\.[0-9]+)?")


class Clock:
    """Monotonic seconds the benchmark moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class InstantScheduler:
    """A `BatchScheduler` whose every job has ended by the time it is asked about."""

    name = "instant"
    title = "Instant"
    declared_resources: Mapping[str, str] = {}

    def __init__(self) -> None:
        self._next = 1

    def job_name(self, name: str) -> str:
        return name

    def check_request(self, request: ResourceRequest) -> None:
        pass

    def array_limit(self) -> int:
        return ARRAY

    def submit(self, job: BatchJob) -> str:
        key = str(self._next)
        self._next += 1
        return key

    def task_ids(self, key: str, array: tuple[int, int] | None) -> list[str]:
        return [key] if array is None else [f"{key}.{i}" for i in range(array[1])]

    def job_key(self, distributor_id: str) -> str | None:
        match = _ID.fullmatch(distributor_id)
        return match[1] if match else None

    def log_paths(self, key: str, task_dir: Path, index: int | None) -> tuple[Path, None]:
        return task_dir / "out.log", None

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        return {i: JobStatus(i, JobPhase.FINAL, "COMPLETED") for i in distributor_ids}

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        return {}

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        return RemoteExitInfo(TaskInstanceStatus.DONE, "")

    def queueing_errors(self, statuses: Mapping[str, JobStatus]) -> Mapping[str, str]:
        return {}

    def cancel(self, targets: Sequence[str]) -> None:
        pass

    def force_cancel(self, targets: Sequence[str]) -> None:
        pass

    def find_jobs(self, job_names: Collection[str]) -> Sequence[NamedJob]:
        return []


def rss_mib() -> float:
    """This process's resident memory now, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def run(jobs: int, rounds: int, forget: bool, work: Path) -> list[float]:
    """RSS after each round of `jobs` jobs tracked to the end (see the module docstring)."""
    clock = Clock()
    policy = PollPolicy(
        min_interval=0.0,
        max_interval=0.0,
        max_calls_per_minute=10**9,
        forget_after=600.0 if forget else float("inf"),
    )
    distributor = BatchDistributor(
        "bench", InstantScheduler(), submit_root=work, poll_policy=policy, worker="/w", clock=clock
    )
    readings = []
    for round_ in range(rounds):
        ids: list[str] = []
        for array in range(jobs // ARRAY):
            steps = distributor.submit_array_to_batch_distributor(
                "true", f"r{round_}a{array}", {}, ARRAY
            )
            ids.extend(steps.values())
        while distributor.get_submitted_or_running():
            pass
        for distributor_id in ids[:: ARRAY // 10]:  # the caller reads some exit infos
            assert distributor.get_remote_exit_info(distributor_id).error_state == "D"
        clock.now += 601.0
        distributor.get_submitted_or_running([])  # a later call: the settled jobs are forgotten
        del ids
        gc.collect()
        readings.append(rss_mib())
    return readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as work:
        start = rss_mib()
        forgetting = run(args.jobs, args.rounds, True, Path(work) / "forgetting")
        baseline = run(args.jobs, args.rounds, False, Path(work) / "baseline")
    print(f"{args.jobs:,} jobs per round, {args.rounds} rounds; RSS at start {start:.1f} MiB")
    print("round  forgetting (MiB)  baseline, never forgetting (MiB)")
    for number, (mine, theirs) in enumerate(zip(forgetting, baseline, strict=True), 1):
        print(f"{number:5d}  {mine:16.1f}  {theirs:32.1f}")
    grew = forgetting[-1] - forgetting[0]
    baseline_grew = baseline[-1] - baseline[0]
    print(
        f"growth from round 1 to {args.rounds}: forgetting {grew:+.1f} MiB, "
        f"baseline {baseline_grew:+.1f} MiB; "
        f"ratio {grew / baseline_grew if baseline_grew else float('nan'):.3f}"
    )


if __name__ == "__main__":
    main()
