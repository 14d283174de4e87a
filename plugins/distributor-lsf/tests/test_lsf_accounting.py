"""LSF's accounting figures: run and CPU times in both of bjobs' formats, execution hosts,
bhist's events and time summary; anything else is None, never an exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor_lsf import accounting

hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z0-9-]{1,10}){0,2}", fullmatch=True)


@given(st.integers(0, 10**9))
def test_run_times_round_trip(seconds: int) -> None:
    """``N second(s)`` and ``hh:mm:ss`` (LSB_HMS_TIME_FORMAT=Y) read back as N seconds."""
    hms = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    assert accounting.parse_seconds(f"{seconds} second(s)") == seconds
    assert accounting.parse_seconds(hms) == seconds


@given(st.integers(0, 10**8))
def test_cpu_times_round_trip(tenths: int) -> None:
    """``CPU_USED`` with one decimal place reads back to the tenth of a second."""
    assert accounting.parse_seconds(f"{tenths / 10:.1f} second(s)") == pytest.approx(tenths / 10)


@pytest.mark.parametrize(
    "text",
    ["", "-", "soon", "1 minute(s)", "-3 second(s)", "1:2:3", "00:61:00", "9" * 40 + " second(s)"],
)
def test_unreadable_times_are_none(text: str) -> None:
    """An empty, negative, unitless, malformed or absurdly long time is None."""
    assert accounting.parse_seconds(text) is None


@given(st.lists(st.tuples(st.integers(1, 64), hosts), min_size=1, max_size=4), st.booleans())
def test_the_first_execution_host_is_where_the_script_ran(
    slots: list[tuple[int, str]], spaces: bool
) -> None:
    """``4*hostA:2*hostB`` (or a space-separated list of the same) gives hostA."""
    text = (" " if spaces else ":").join(f"{n}*{h}" if n > 1 else h for n, h in slots)
    assert accounting.first_host(text) == slots[0][1]


@pytest.mark.parametrize(
    ("text", "host"),
    [("hostC@cluster3", "hostC"), ("", None), ("-", None), ("4*", None), ("*/x", None)],
)
def test_hosts_of_other_shapes(text: str, host: str | None) -> None:
    """A multicluster host loses its cluster; no host or a non-host is None."""
    assert accounting.first_host(text) == host


@pytest.mark.parametrize(
    ("event", "host"),
    [
        ("Dispatched to <a3191>;", "a3191"),
        ("Dispatched 1 Task(s) on Host(s) <node7>, Allocated 1 Slot(s) on Host(s) <node7>;",
         "node7"),
        ("Started on <hostC@cluster3>, Execution Home </home/u>, Execution CWD </home/u>;",
         "hostC"),
        ("Started 4 Task(s) on Host(s) <4*node9>, Allocated 4 Slot(s) on Host(s) <4*node9>;",
         "node9"),
        ("Submitted from host <h0>, CWD <$HOME>;", None),
    ],
)  # fmt: skip
def test_bhist_events_name_the_host(event: str, host: str | None) -> None:
    """Dispatch and start events of LSF 7 and 10.1 name the host; submission does not."""
    assert accounting.bhist_host(event) == host


def test_bhist_cpu_and_summary() -> None:
    """The CPU time of an end event and the RUN column of the summary; other lines None."""
    assert accounting.bhist_cpu("Done successfully. The CPU time used is 0.1 seconds.") == 0.1
    assert accounting.bhist_cpu("Completed <done>.") is None
    header = "  PEND     PSUSP    RUN      USUSP    SSUSP    UNKWN    TOTAL"
    assert accounting.summary_run_seconds(header, "  1  0  60  0  0  0  61") == 60.0
    assert accounting.summary_run_seconds(header, "  1  0  ²  0  0  0  61") is None
    assert accounting.summary_run_seconds(header, "  1  0") is None
    assert accounting.summary_run_seconds("MEMORY USAGE:", "1 2 3") is None
