"""A 1,000-task Slurm array tracked to final exit info, against a baseline shell loop.

In one run, on the running Slurm (``SLURM_CONF`` or the dev cluster's env file):

* **baseline**: a bash loop — ``sbatch --array=0-(N-1)`` of a job script that runs the same
  payload (``distributor-worker`` around ``true``), then ``sacct`` every ``--poll`` seconds until
  all N tasks are in a final state;
* **distributor**: `SlurmDistributor.submit_array_to_batch_distributor`, then
  ``get_submitted_or_running()`` until empty and ``get_remote_exit_info`` for every step until all
  are final (default `PollPolicy`: adaptive 1–30 s, so no poll tuning for the benchmark).

Prints the wall times, their ratio (target ≤ 1.1) and the scheduler commands each made per poll
cycle (target: exactly one status command per cycle for the distributor).

    python benchmarks/slurm_array.py [--tasks 1000] [--poll 1.0] [--rounds 1]
"""

from __future__ import annotations

import argparse
import logging
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import structlog

from distributor import TaskInstanceStatus
from distributor.batch import find_worker_executable
from distributor.testing import wait_for_exit_info
from distributor_slurm import SlurmDistributor
from distributor_slurm.client import slurm_environment
from distributor_slurm.testing import find_slurm_conf, unavailable_reason

BASELINE = r"""
set -eu
final='^(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE)'
job=$(sbatch --parsable --array=0-$(($1 - 1)) "$2")
polls=0
while :; do
  polls=$((polls + 1))
  done=$(sacct --noheader --allocations --parsable2 --jobs="$job" --format=State |
         grep -cE "$final" || true)
  [ "$done" -ge "$1" ] && break
  sleep "$3"
done
echo "$polls"
"""


def baseline(tasks: int, poll: float, workdir: Path, slurm_conf: str) -> tuple[float, int]:
    """Run the shell loop; return (seconds, sacct polls)."""
    script = workdir / "baseline.sh"
    worker = find_worker_executable()
    script.write_text(
        "#!/bin/sh\n"
        f"#SBATCH --output={workdir}/stdout-%a.log\n#SBATCH --error={workdir}/stderr-%a.log\n"
        "#SBATCH --nodes=1\n#SBATCH --ntasks=1\n#SBATCH --no-requeue\n"
        f"exec {shlex.quote(worker)} --record {workdir}/exit-$SLURM_ARRAY_TASK_ID.json "
        "-- /bin/sh -c true\n"
    )
    began = time.perf_counter()
    result = subprocess.run(
        ["bash", "-c", BASELINE, "baseline", str(tasks), str(script), str(poll)],
        env=slurm_environment(slurm_conf),
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - began, int(result.stdout.split()[-1])


def tracked(tasks: int, workdir: Path, slurm_conf: str) -> tuple[float, SlurmDistributor]:
    """Submit and track through the plugin; return (seconds, the distributor)."""
    slurm = SlurmDistributor("bench", submit_root=workdir / "root", slurm_conf=slurm_conf)
    slurm.start()
    began = time.perf_counter()
    steps = slurm.submit_array_to_batch_distributor("true", "bench", {"runtime": 600}, tasks)
    while slurm.get_submitted_or_running():
        time.sleep(0.1)
    for distributor_id in steps.values():
        info = wait_for_exit_info(slurm, distributor_id, 600.0, 0.1)
        assert info.error_state == TaskInstanceStatus.DONE, info
    return time.perf_counter() - began, slurm


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--poll", type=float, default=1.0, help="baseline poll interval, s")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    slurm_conf = find_slurm_conf()
    why = unavailable_reason(slurm_conf)
    if why is not None or slurm_conf is None:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    for round_number in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="slurm-bench-") as tmp:
            base_dir, ours_dir = Path(tmp, "baseline"), Path(tmp, "distributor")
            base_dir.mkdir()
            ours_dir.mkdir()
            base_seconds, base_polls = baseline(args.tasks, args.poll, base_dir, slurm_conf)
            ours_seconds, slurm = tracked(args.tasks, ours_dir, slurm_conf)
        stats, calls = slurm.tracker.stats, slurm.client.runner.calls
        cycles = max(stats.cycles, 1)
        max_array_size = slurm.client.config()["MaxArraySize"]
        print(f"round {round_number}: {args.tasks} tasks, MaxArraySize {max_array_size}")
        print(
            f"  baseline (sbatch --array + sacct loop): {base_seconds:8.2f} s, "
            f"{base_polls} poll cycles, 1.00 sacct/cycle"
        )
        print(
            f"  distributor (SlurmDistributor):          {ours_seconds:8.2f} s, "
            f"{stats.cycles} poll cycles, {calls['squeue'] / cycles:.2f} squeue/cycle, "
            f"{calls['sacct'] / cycles:.2f} sacct/cycle, "
            f"{stats.status_commands / cycles:.2f} status queries/cycle, "
            f"sbatch {calls['sbatch']}, scontrol {calls['scontrol']}"
        )
        retried = calls["squeue"] - stats.status_commands
        if retried:
            print(
                f"  WARNING: {retried} squeue attempts were retries (the controller did not "
                "answer at times): this round's figures are disturbed"
            )
        ratio = ours_seconds / base_seconds
        verdict = "meets" if ratio <= 1.1 and stats.status_commands == stats.cycles else "MISSES"
        print(
            f"  ratio distributor/baseline: {ratio:.3f} ({verdict} the target ≤ 1.1 with "
            "exactly one status command per poll cycle)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
