"""A schedd outage on a real pool: the plugin's commands ride it out.

Seen on HTCondor 23.9.6: a SIGKILLed schedd was restarted by ``condor_master`` after 10.2 s,
longer than the plugin's former retry budget (about 3.5 s), and with the schedd stopped
``condor_rm`` says ``Can't find address for schedd``, which no transient pattern matched. Here
the pool's job user stops the schedd (``condor_off -schedd``; the dev pool allows it) for
`OUTAGE` seconds while a submission and a removal are under way; both must succeed once it is
back, retried by the default `HTCONDOR_RETRY_POLICY`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from distributor import TaskInstanceStatus
from distributor.testing import ExitMatrix, wait_for_exit_info
from distributor_htcondor.testing import (
    condor,
    pool_distributor,
    start_record,
    unavailable_reason,
)

WHY_NOT = unavailable_reason()
pytestmark = [pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or ""), pytest.mark.slow]
OUTAGE = 12.0
"""Seconds the schedd stays stopped once both commands have failed against it: longer than a
crashed schedd took to come back (10.2 s), and than the former budget."""


def schedd_answers() -> bool:
    """Whether ``condor_q`` reaches the schedd."""
    return condor("condor_q", "-totals", check=False).returncode == 0


@pytest.fixture
def schedd_back() -> Iterator[None]:
    """Whatever happens in the test, the schedd runs again afterwards."""
    yield
    condor("condor_on", "-schedd", check=False)
    deadline = time.monotonic() + 120
    while not schedd_answers():
        assert time.monotonic() < deadline, "the schedd did not come back"
        time.sleep(0.2)


def in_thread(target: Callable[[], Any], results: dict[str, Any], name: str) -> threading.Thread:
    """Start `target` in a thread; its result or exception goes to `results[name]`."""

    def run() -> None:
        try:
            results[name] = target()
        except BaseException as exc:
            results[name] = exc

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


@pytest.mark.usefixtures("schedd_back")
def test_submission_and_removal_ride_out_a_stopped_schedd(tmp_path: Path) -> None:
    """With the schedd stopped, condor_submit ("Can't find address of local schedd") and
    condor_rm ("Can't find address for schedd") are retried until it is back: the new task
    ends D and the removed one K, and nothing failed."""
    distributor = pool_distributor(tmp_path / "root")
    matrix = ExitMatrix(distributor, started=partial(start_record, distributor))
    running = matrix.submit("to remove", "sleep 300")
    # until its command runs: a graceful schedd shutdown while a shadow is still starting its
    # job kept the schedd (23.9.6) preempting that job for minutes
    matrix.wait_running("to remove", timeout=300)
    condor("condor_off", "-schedd")  # graceful: running jobs go on and reconnect later
    deadline = time.monotonic() + 120
    while schedd_answers():
        assert time.monotonic() < deadline, "condor_off -schedd did not stop the schedd"
        time.sleep(0.2)
    results: dict[str, Any] = {}
    with capture_logs() as logs:
        threads = [
            in_thread(
                lambda: distributor.submit_to_batch_distributor("true", "during", {}),
                results,
                "submit",
            ),
            in_thread(
                lambda: distributor.terminate_task_instances([running]), results, "terminate"
            ),
        ]

        def retried() -> dict[str, str]:
            return {
                event["program"]: event["stderr"]
                for event in list(logs)
                if event["event"] == "scheduler_command_retry"
            }

        deadline = time.monotonic() + 120
        while not {"condor_submit", "condor_rm"} <= set(retried()):
            assert time.monotonic() < deadline, f"not both retried: {retried()} {results}"
            time.sleep(0.1)
        time.sleep(OUTAGE)  # the outage itself, not a condition waited for
        assert not results, f"gave up while the schedd was stopped: {results}"
        condor("condor_on", "-schedd")
        for thread in threads:
            thread.join(timeout=300)
    assert "Can't find address of local schedd" in retried()["condor_submit"]
    assert "Can't find address for schedd" in retried()["condor_rm"]
    assert not isinstance(results["submit"], BaseException), results
    assert not isinstance(results["terminate"], BaseException), results
    done = wait_for_exit_info(distributor, results["submit"], 300, 0.2)
    assert done.error_state == TaskInstanceStatus.DONE, done
    killed = wait_for_exit_info(distributor, running, 300, 0.2)
    assert killed.error_state == TaskInstanceStatus.KILLED_SELF, killed
