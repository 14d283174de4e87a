"""Exactly-once on a real scheduler: a service controller SIGKILLed at 20 points around
submission, restarted each time, runs every task exactly once.

Each round starts a controller process on the same journal and submit root, adds the same
tasks (adding again is a no-op), and has it SIGKILL itself at the ``nth`` time it reaches one
of five points around a submission:

* ``before_call``: the intent is written, the scheduler not yet asked;
* ``inside_call``: the submit command (``sbatch``/``qsub``) has started, and runs on as an
  orphan after the controller's death;
* ``after_call``: the scheduler accepted the job, the distributor never saw the answer;
* ``after_return``: the distributor recorded it and returned; the service never saw the ids;
* ``before_commit``: the service holds the ids in memory, the journal never got them.

Five points, each at its 1st to 4th occurrence: 20 kills (a controller submits up to four
arrays of three at once, so each round reaches its point). A last controller runs to the end.
Every task appends one line to its own marker file when it runs: a marker with two lines is a
task that ran twice, a missing one a task that was lost, and the journal must say ``done``
for all of them on their first and only attempt.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from distributor.service.journal import Journal

POINTS = ("before_call", "inside_call", "after_call", "after_return", "before_commit")
ROUNDS = [(point, nth) for nth in (1, 2, 3, 4) for point in POINTS]
TASKS = 260

CONTROLLER = r"""
import json, logging, os, signal, sys
from pathlib import Path

import structlog

import distributor.service.submit as service_submit
from distributor.batch import PollPolicy
from distributor.service import Cluster, Service, ServiceConfig, TaskSpec, Throttle

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
                    logger_factory=structlog.PrintLoggerFactory(sys.stderr))
work, plugin, point = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
nth, tasks = int(sys.argv[4]), int(sys.argv[5])
policy = PollPolicy(min_interval=0.2, max_interval=1.0, accounting_interval=1.0,
                    accounting_delay=10.0, lost_grace=120.0)
if plugin == "slurm":
    from distributor_slurm import SlurmDistributor
    from distributor_slurm.testing import find_slurm_conf
    distributor = SlurmDistributor("crash", submit_root=work / "root", poll_policy=policy,
                                   slurm_conf=find_slurm_conf())
    submit_program = "sbatch"
else:
    from distributor_sge import SgeDistributor
    distributor = SgeDistributor("crash", submit_root=work / "root", poll_policy=policy)
    submit_program = "qsub"

hits = 0
def hit(where):
    global hits
    if where == point:
        hits += 1
        if hits == nth:
            print(f"killing myself at {where} #{nth}", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

scheduler = distributor.scheduler
real_submit = scheduler.submit
def submit(job):
    hit("before_call")
    key = real_submit(job)
    hit("after_call")
    return key
scheduler.submit = submit

transport = distributor.client.runner.transport
real_run = transport.run
def run(argv, **options):
    if argv[0] == submit_program:
        on_start = options.get("on_start")
        def started(pid):
            if on_start is not None:
                on_start(pid)
            hit("inside_call")
        options["on_start"] = started
    return real_run(argv, **options)
transport.run = run

real_single = distributor.submit_to_batch_distributor
real_array = distributor.submit_array_to_batch_distributor
def single(*args):
    result = real_single(*args)
    hit("after_return")
    return result
def array(*args):
    result = real_array(*args)
    hit("after_return")
    return result
distributor.submit_to_batch_distributor = single
distributor.submit_array_to_batch_distributor = array

real_record = service_submit.record_ids
def record_ids(*args):
    real_record(*args)
    hit("before_commit")
service_submit.record_ids = record_ids

cluster = Cluster(distributor, throttle=Throttle(max_active=12, submit_chunk=3, max_array_size=3))
config = ServiceConfig(min_poll_interval=0.1, poll_interval=0.5, reconcile_interval=5.0)
markers = work / "markers"
with Service(work / "journal.db", cluster, config=config) as service:
    service.add(
        TaskSpec(name=f"task-{i}", command=f"echo ran >> {markers / f'task-{i}'}",
                 resources={"runtime": 300, "memory": "200M"}, max_attempts=1)
        for i in range(tasks)
    )
    summary = service.run(timeout=600)
print(json.dumps(summary.tasks))
sys.exit(0 if summary.all_done else 1)
"""


def _controller(work: Path, plugin: str, point: str, nth: int, log: Path) -> int:
    with log.open("wb") as out:
        return subprocess.run(
            [sys.executable, "-c", CONTROLLER, str(work), plugin, point, str(nth), str(TASKS)],
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=900,
            check=False,
        ).returncode


def _counts(work: Path) -> dict[str, int]:
    journal = Journal(work / "journal.db", role="client")
    try:
        return journal.task_counts()
    finally:
        journal.close()


def crash_and_recover(work: Path, plugin: str) -> None:
    """The 20 kills, the final run, and the exactly-once check (see the module docstring)."""
    (work / "markers").mkdir(parents=True)
    for number, (point, nth) in enumerate(ROUNDS):
        log = work / f"controller-{number:02d}-{point}-{nth}.log"
        status = _controller(work, plugin, point, nth, log)
        assert status == -signal.SIGKILL, (
            f"round {number} ({point} #{nth}) was not killed (status {status}): "
            + log.read_text()[-3000:]
        )
    assert _counts(work).get("done", 0) < TASKS, "the kills must interrupt the run"
    final_log = work / "controller-final.log"
    status = _controller(work, plugin, "none", 0, final_log)
    assert status == 0, final_log.read_text()[-5000:]
    counts = json.loads(final_log.read_text().splitlines()[-1])
    assert counts["done"] == TASKS, counts
    runs = {path.name: path.read_text().count("ran") for path in (work / "markers").iterdir()}
    assert len(runs) == TASKS, f"{TASKS - len(runs)} tasks never ran"
    twice = sorted(name for name, count in runs.items() if count != 1)
    assert not twice, f"ran more than once: {twice}"
    logs = "".join(path.read_text() for path in work.glob("controller-*.log"))
    assert "submission_recovered" in logs, "no in-doubt submission was recovered by name"


@pytest.mark.slow
def test_slurm_controller_killed_at_20_points_runs_every_task_once(tmp_path: Path) -> None:
    """Real Slurm: 20 kills around submissions, then a clean run; each task ran once."""
    testing = pytest.importorskip("distributor_slurm.testing")
    why_not = testing.unavailable_reason(testing.find_slurm_conf())
    if why_not is not None:
        pytest.skip(why_not)
    crash_and_recover(tmp_path, "slurm")


@pytest.mark.slow
def test_sge_controller_killed_at_20_points_runs_every_task_once(tmp_path: Path) -> None:
    """Real Grid Engine: 20 kills around submissions, then a clean run; each task ran once."""
    testing = pytest.importorskip("distributor_sge.testing")
    why_not = testing.unavailable_reason()
    if why_not is not None:
        pytest.skip(why_not)
    crash_and_recover(tmp_path, "sge")
