"""Exit info: status codes, RemoteExitInfo and legacy tuple normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import ExitInfoError, RemoteExitInfo, TaskInstanceStatus, normalize_exit_info


def test_codes_are_jobmons() -> None:
    """The enum carries exactly Jobmon's one-letter codes."""
    assert {s.value for s in TaskInstanceStatus} == set("QIORDEFKTUWXZ")


def test_legacy_tuple_is_finalized() -> None:
    """A (state, message) tuple becomes a finalized RemoteExitInfo."""
    info = normalize_exit_info(("E", "exited with status 3"))
    assert info == RemoteExitInfo(TaskInstanceStatus.ERROR, "exited with status 3", True)


def test_remote_exit_info_passes_through() -> None:
    """A RemoteExitInfo is returned as it is, non-final included."""
    info = RemoteExitInfo(TaskInstanceStatus.UNKNOWN_ERROR, "lost", finalized=False)
    assert normalize_exit_info(info) is info


def test_string_state_is_converted() -> None:
    """A plain string state is converted to the enum."""
    info = RemoteExitInfo("Z", "memory")  # type: ignore[arg-type]  # checking runtime coercion
    assert info.error_state is TaskInstanceStatus.RESOURCE_ERROR


@pytest.mark.parametrize("bad", [("D",), ("D", "x", "y"), ("D", 3), "D", None, ["D", "x"]])
def test_wrong_shapes_are_rejected(bad: object) -> None:
    """Anything but RemoteExitInfo or a 2-tuple of str raises ExitInfoError naming it."""
    with pytest.raises(ExitInfoError) as caught:
        normalize_exit_info(bad)
    assert repr(bad) in str(caught.value)


@given(st.text(max_size=3).filter(lambda s: s not in set("QIORDEFKTUWXZ")), st.text())
def test_unknown_states_are_rejected(state: str, message: str) -> None:
    """Any state that is not a status code is rejected, naming the state."""
    with pytest.raises(ExitInfoError, match="not a TaskInstanceStatus code"):
        normalize_exit_info((state, message))


def test_exit_info_unpacks_like_the_legacy_tuple() -> None:
    """``state, message = info`` works, as Jobmon 3.4.8's distributor service writes it."""
    state, message = RemoteExitInfo(TaskInstanceStatus.ERROR, "exited with status 3")
    assert (state, message) == ("E", "exited with status 3")
    assert state == TaskInstanceStatus.ERROR
