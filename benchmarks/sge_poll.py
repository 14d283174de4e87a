"""Time per poll cycle of the Grid Engine plugin with 1,000 tracked array tasks.

In one run, on the running Grid Engine (the dev cell's env file, or ``SGE_ROOT``):

* **baseline**: the bare status command a poll cycle cannot do without — ``qstat -xml -u USER``
  run with `subprocess` — timed `--cycles` times;
* **distributor**: `SgeDistributor` tracking a `--tasks`-task array (``sleep``, at most
  `--running` at once through ``sge.array_cap``, so most tasks are pending, as in a real large
  array), forced poll cycles (``tracker.refresh(force=True)``) timed `--cycles` times;
* **after termination**: the cycle right after the whole array was deleted (qstat, then one
  qacct for the tasks that ran; the pending ones are settled from memory);
* optionally (`--singles N`) the same with N separate jobs instead of an array (N qstat
  entries), and (`--finished N`) an N-task array of ``true`` run to the end, timing the cycle
  that reads all N accounting records with one ``qacct``.

Prints median/mean milliseconds per cycle, scheduler commands per cycle and the ratio
distributor/baseline (the plugin's own overhead on top of qstat).

    python benchmarks/sge_poll.py [--tasks 1000] [--cycles 20] [--singles 0] [--finished 0]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from distributor.batch import PollPolicy
from distributor_sge import SgeDistributor
from distributor_sge.client import SgeClient, sge_environment
from distributor_sge.testing import cell_environment, dev_distributor, unavailable_reason

POLICY = PollPolicy(max_calls_per_minute=100_000, accounting_interval=0.0, accounting_delay=30)


def timed(action: Callable[[], object], cycles: int) -> list[float]:
    """Milliseconds of each of `cycles` calls of `action`."""
    times = []
    for _ in range(cycles):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return times


def summary(label: str, times: list[float], extra: str = "") -> float:
    """Print median/mean of `times`; return the median."""
    median = statistics.median(times)
    print(f"  {label:<44} median {median:7.1f} ms, mean {statistics.mean(times):7.1f} ms{extra}")
    return median


def forced_cycles(sge: SgeDistributor, cycles: int) -> tuple[list[float], str]:
    """Time forced poll cycles; return the times and the commands they ran per cycle."""
    before, stats_before = sge.client.runner.calls, sge.tracker.stats.cycles
    times = timed(lambda: sge.tracker.refresh(force=True), cycles)
    calls = sge.client.runner.calls - before
    ran = max(sge.tracker.stats.cycles - stats_before, 1)
    per = ", ".join(f"{calls[p] / ran:.2f} {p}" for p in sorted(calls))
    return times, f" ({per} per cycle)"


def compare(sge: SgeDistributor, bare_qstat: Callable[[], None], cycles: int) -> None:
    """Time baseline and forced cycles alternately (so load drifts hit both); print both."""
    base: list[float] = []
    ours: list[float] = []
    per = ""
    for _ in range(cycles):
        base += timed(bare_qstat, 1)
        times, per = forced_cycles(sge, 1)
        ours += times
    base_median = summary("baseline: bare qstat -xml", base)
    ours_median = summary("distributor: forced poll cycle", ours, per)
    print(f"  ratio distributor/baseline: {ours_median / base_median:.2f}")


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    """Poll `condition` every 0.5 s until true; raise after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        time.sleep(0.5)


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--running", type=int, default=2, help="array cap (tasks at once)")
    parser.add_argument("--singles", type=int, default=0, help="also track N separate jobs")
    parser.add_argument("--finished", type=int, default=0, help="also run N tasks to the end")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    why = unavailable_reason()
    if why is not None:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    env = cell_environment()
    qstat = ["qstat", "-xml", "-u", SgeClient().user]
    environment = sge_environment(env.get("SGE_ROOT"), env.get("SGE_CELL"))

    def bare_qstat() -> None:
        subprocess.run(qstat, env=environment, capture_output=True, check=True)

    with tempfile.TemporaryDirectory(prefix="sge-bench-") as tmp:
        sge = dev_distributor(Path(tmp, "root"), poll_policy=POLICY)
        cap = {"sge.array_cap": args.running}
        steps = sge.submit_array_to_batch_distributor("sleep 600", "bench", cap, args.tasks)
        ids = list(steps.values())
        wait_for(lambda: len(sge.get_running(ids)) >= min(args.running, args.tasks), 120)
        print(f"{args.tasks} tracked array tasks ({args.running} running, the rest pending):")
        compare(sge, bare_qstat, args.cycles)
        sge.terminate_task_instances(ids)
        times, per = forced_cycles(sge, 1)
        summary("cycle right after deleting the whole array", times, per)
        wait_for(lambda: not sge.get_submitted_or_running(ids), 120)

        if args.singles:
            singles = [
                sge.submit_to_batch_distributor("sleep 600", f"single{n}", {})
                for n in range(args.singles)
            ]
            print(
                f"{args.singles} tracked separate jobs ({len(sge.get_running(singles))} running):"
            )
            compare(sge, bare_qstat, args.cycles)
            sge.terminate_task_instances(singles)

        if args.finished:
            finished = sge.submit_array_to_batch_distributor("true", "done", {}, args.finished)
            done = list(finished.values())
            wait_for(lambda: not sge.get_submitted_or_running(done), 3600)
            print(f"{args.finished} array tasks that ran to the end:")
            restarted = dev_distributor(Path(tmp, "root"), poll_policy=POLICY)
            times = timed(lambda: restarted.get_submitted_or_running(done), 1)
            calls = ", ".join(f"{n} {p}" for p, n in sorted(restarted.client.runner.calls.items()))
            summary("restarted distributor: adopt all + 1 cycle", times, f" ({calls})")
            final = sum(restarted.tracker.get(i).settled for i in done)  # type: ignore[union-attr]
            print(f"  exit info final after that cycle: {final} of {len(done)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
