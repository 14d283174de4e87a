"""`JobTracker` against the real local distributor: exit information, lost ids, messages."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from distributor import ClusterDistributor, RemoteExitInfo, TaskInstanceStatus, load_plugin
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


class _ForgetfulScheduler:
    """The local distributor behind a scheduler that no longer lists anything and has no
    capability beyond the base protocol (no `SupportsLostTracking`): what a third-party plugin
    whose scheduler lost a job looks like. Every other call goes to the real distributor."""

    def __init__(self, real: ClusterDistributor) -> None:
        self.real = real
        self.cluster_name = real.cluster_name
        self.worker_node_entry_point = real.worker_node_entry_point

    def get_submitted_or_running(self, distributor_ids: Sequence[str] | None = None) -> set[str]:
        return set()

    def __getattr__(self, name: str) -> Any:
        if name in {"lost_grace", "find_by_name", "log_paths", "task_usage", "wait_for_change"}:
            raise AttributeError(name)
        return getattr(self.real, name)


def test_an_unlisted_job_without_exit_info_is_lost_after_the_grace(
    tracker: JobTracker,
) -> None:
    """For a plugin that does not track lost jobs itself, an id that is not listed and has no
    exit information stays pending until lost_grace passes, then ends U (never D) and is
    terminated so that it cannot run beside a rerun."""
    did = tracker.submit("sleep 300", "forgotten", {"cores": 1})
    now = [0.0]
    forgetful = JobTracker(
        _ForgetfulScheduler(tracker.distributor),  # __getattr__ forwards the rest of the protocol
        lost_grace=30.0,
        clock=lambda: now[0],
    )
    assert forgetful.poll([did]).pending == {did}
    now[0] = 29.0
    assert forgetful.poll([did]).pending == {did}
    now[0] = 30.0
    lost = forgetful.poll([did]).ended[did]
    assert lost.error_state is TaskInstanceStatus.UNKNOWN_ERROR
    assert "lost" in lost.error_message and "terminated" in lost.error_message
    assert _until_ended(tracker, [did])[did].error_state is TaskInstanceStatus.KILLED_SELF
