"""`JobTracker` against the real local distributor: exit information, lost ids, messages."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributor import RemoteExitInfo, TaskInstanceStatus, load_plugin
from snakemake_executor_plugin_distributor.tracking import JobTracker


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobTracker]:
    """A tracker over a started local distributor with its own state directory."""
    monkeypatch.setenv("DISTRIBUTOR_LOCAL_STATE_DIR", str(tmp_path / "state"))
    distributor = load_plugin("local").distributor("test")
    distributor.start()
    tracker = JobTracker(distributor)
    yield tracker
    tracker.stop()


def _until_ended(
    tracker: JobTracker, ids: list[str], timeout: float = 60.0
) -> dict[str, RemoteExitInfo]:
    """Poll until every id has final exit information (synchronised on the polls' answers)."""
    deadline = time.monotonic() + timeout
    ended: dict[str, RemoteExitInfo] = {}
    while len(ended) < len(ids):
        assert time.monotonic() < deadline, f"still pending: {set(ids) - set(ended)}"
        ended.update(tracker.poll([i for i in ids if i not in ended]).ended)
        time.sleep(0.05)
    return ended


def test_success_and_failure_carry_state_and_log(tracker: JobTracker) -> None:
    """Exit 0 ends D; exit 3 ends E, and its message names the state and shows the log."""
    good = tracker.submit("true", "good", {"cores": 1})
    bad = tracker.submit("echo 'what went wrong' >&2; exit 3", "bad", {"cores": 1})
    ended = _until_ended(tracker, [good, bad])
    assert ended[good].error_state is TaskInstanceStatus.DONE
    assert ended[bad].error_state is TaskInstanceStatus.ERROR
    message = tracker.failure_message(bad, ended[bad])
    assert f"distributor job {bad} on cluster 'test' ended E (error)" in message
    assert "what went wrong" in message
    assert tracker.logs(bad), "the local backend reports its log path"


def test_an_id_the_cluster_never_issued_is_lost_never_done(tracker: JobTracker) -> None:
    """An id the distributor does not know ends U at once: a lost job is never a success."""
    poll = tracker.poll(["nonexistent.1"])
    assert poll.pending == set()
    assert poll.ended["nonexistent.1"].error_state is TaskInstanceStatus.UNKNOWN_ERROR
    assert "lost" in poll.ended["nonexistent.1"].error_message


def test_array_steps_each_end_with_their_own_state(tracker: JobTracker) -> None:
    """Steps of one array run their own branch of a case on DISTRIBUTOR_ARRAY_STEP_ID."""
    steps = tracker.submit_array(
        'case "$DISTRIBUTOR_ARRAY_STEP_ID" in 0) true ;; 1) exit 4 ;; esac', "arr", {}, 2
    )
    ended = _until_ended(tracker, [steps[0], steps[1]])
    assert ended[steps[0]].error_state is TaskInstanceStatus.DONE
    assert ended[steps[1]].error_state is TaskInstanceStatus.ERROR


def test_terminate_ends_a_running_job_killed(tracker: JobTracker) -> None:
    """terminate() ends a running job; its exit information says K (killed on request)."""
    did = tracker.submit("sleep 300", "sleeper", {"cores": 1})
    assert tracker.terminate([did]) is None
    ended = _until_ended(tracker, [did])
    assert ended[did].error_state is TaskInstanceStatus.KILLED_SELF
