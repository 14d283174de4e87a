"""A job's controller killed with SIGKILL mid-job, then started again: every subjob ran once.

The controller (a real process, as a workflow would run it) splits a job of 40 input files into
40 subjobs and runs them on the ``local`` backend with one attempt each. The test kills it
three times — once some subjobs have run, right after the backend accepted a submission, and
once a dozen outputs have been collected (collection under way) — and a last controller,
given the same job, finishes. Each subjob appends a line to its own marker file when it runs:
two lines would be a subjob run twice, a missing file one forgotten; each subjob's output
must be in ``out/<id>/``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="the local backend needs Linux"),
]

SUBJOBS = 40

CONTROLLER = r"""
import json, sys
from pathlib import Path

from distributor.jobs import Job, JobRunner, MaxFilesSplitter
from distributor.local import LocalDistributor
from distributor.service import Cluster, ServiceConfig, Throttle

work = Path(sys.argv[1])
files = sorted(str(p) for p in (work / "data").iterdir())
SUBJOB = (
    "import os, sys, time; from pathlib import Path; from distributor.jobs import get_input_data; "
    "marker = Path(sys.argv[1], os.environ['DISTRIBUTOR_SUBJOB_ID']); "
    "marker.open('a').write('ran\\n'); time.sleep(0.3); "
    "Path('made.out').write_text(Path(get_input_data()[0]).read_text())"
)
job = Job(
    "crash",
    command=[sys.executable, "-c", SUBJOB, str(work / "markers")],
    input_files=files,
    working_dir=work / "work",
    output_dir=work / "out",
    output_patterns=["made.out"],
    splitter=MaxFilesSplitter(max_files_per_subjob=1),
)
distributor = LocalDistributor("crash", state_dir=work / "state", parallelism=4)
cluster = Cluster(distributor, throttle=Throttle(max_active=8, submit_chunk=3, max_array_size=3))
config = ServiceConfig(min_poll_interval=0.02, poll_interval=0.2, lost_grace=60)
with JobRunner(work / "journal.db", cluster, config=config, max_attempts=1) as runner:
    runner.submit(job)
    runner.wait()
print(json.dumps({"status": job.status.value,
                  "statuses": {s.name: s.status.value for s in job.subjobs.values()}}))
sys.exit(0 if job.status == "completed" else 1)
"""


def _start(work: Path, number: int) -> subprocess.Popen[bytes]:
    with open(work / f"controller-{number}.log", "wb") as log:
        return subprocess.Popen([sys.executable, "-c", CONTROLLER, str(work)], stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip


def _submitted_bytes(work: Path) -> int:
    return sum(p.stat().st_size for p in (work / "state").glob("reapers/*/commands.jsonl"))


def _until(condition: Callable[[], bool], controller: subprocess.Popen[bytes]) -> None:
    """Wait for `condition` (polled every millisecond) while the controller lives."""
    deadline = time.monotonic() + 60
    while not condition():
        assert controller.poll() is None, "the controller ended before it could be killed"
        assert time.monotonic() < deadline, "the condition never came"
        time.sleep(0.001)


def test_a_sigkilled_job_controller_restarts_without_losing_or_repeating_a_subjob(
    tmp_path: Path,
) -> None:
    """Three SIGKILLs mid-job (after some subjobs ran, right after a submission, once outputs
    are being collected), then a controller that finishes: each subjob ran exactly once and every
    output is collected."""
    (tmp_path / "data").mkdir()
    (tmp_path / "markers").mkdir()
    for i in range(SUBJOBS):
        (tmp_path / "data" / f"{i:02d}.txt").write_text(f"input {i:02d}\n")
    markers = tmp_path / "markers"
    out = tmp_path / "out"
    conditions: list[Callable[[], bool]] = []
    conditions.append(lambda: len(list(markers.iterdir())) >= 5)
    before: list[int] = []

    def submitted() -> bool:
        if not before:
            before.append(_submitted_bytes(tmp_path))
        return _submitted_bytes(tmp_path) > before[0]

    conditions.append(submitted)
    conditions.append(lambda: out.exists() and len(list(out.iterdir())) >= 12)
    for number, condition in enumerate(conditions):
        controller = _start(tmp_path, number)
        _until(condition, controller)
        controller.send_signal(signal.SIGKILL)
        controller.wait()
    ran = len(list(markers.iterdir()))
    assert ran < SUBJOBS, "the kills must interrupt the job"
    final = _start(tmp_path, len(conditions))
    assert final.wait(timeout=300) == 0, (
        tmp_path / f"controller-{len(conditions)}.log"
    ).read_text()
    result = json.loads(
        (tmp_path / f"controller-{len(conditions)}.log").read_text().splitlines()[-1]
    )
    assert result["status"] == "completed"
    runs = {p.name: p.read_text().count("ran") for p in markers.iterdir()}
    assert sorted(runs) == sorted(str(i) for i in range(SUBJOBS)), "a subjob never ran"
    assert [name for name, count in runs.items() if count != 1] == [], "a subjob ran twice"
    for i in range(SUBJOBS):
        assert (out / str(i) / "made.out").read_text() == f"input {i:02d}\n"
    assert not list(out.glob(".*collecting*")), "a half-collected directory was left behind"
