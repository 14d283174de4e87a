"""The Example client's parsers: what the scheduler prints, read back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import SchedulerOutputError
from distributor.batch import JobPhase
from distributor_example.client import parse_jobs, parse_status, parse_submit

ids = st.integers(1, 10**9).map(str) | st.tuples(st.integers(1, 10**9), st.integers(0, 999)).map(
    lambda job_task: f"{job_task[0]}.{job_task[1]}"
)
states = st.sampled_from(["PENDING", "RUNNING", "DONE", "KILLED", "LOST"])
names = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=30)


@given(st.dictionaries(ids, st.tuples(states, st.none() | st.integers(0, 255)), max_size=20))
def test_status_lines_round_trip(table: dict[str, tuple[str, int | None]]) -> None:
    """Every line comes back as its id, state, phase and exit code."""
    text = "".join(f"{i} {s} {'-' if c is None else c}\n" for i, (s, c) in table.items())
    parsed = parse_status(text)
    assert {i: (p.state, p.exit_code) for i, p in parsed.items()} == table
    for status in parsed.values():
        assert (status.phase is JobPhase.FINAL) == (status.state not in ("PENDING", "RUNNING"))


@given(st.lists(st.tuples(st.integers(1, 10**9), names), max_size=20, unique_by=lambda j: j[0]))
def test_job_listing_round_trips_oldest_first(jobs: list[tuple[int, str]]) -> None:
    """``example-jobs`` lines come back as named jobs, sorted by id."""
    parsed = parse_jobs("".join(f"{job} {name}\n" for job, name in jobs))
    assert [(int(j.key), j.job_name) for j in parsed] == sorted(jobs)


def test_garbage_is_refused_with_the_raw_text() -> None:
    """Unparsable output raises SchedulerOutputError carrying what was printed."""
    for parse, text in [(parse_submit, "Job accepted\n"), (parse_status, "12 RUNNING\n"),
                        (parse_jobs, "x name\n")]:  # fmt: skip
        with pytest.raises(SchedulerOutputError) as caught:
            parse(text)
        assert caught.value.raw == text
    assert parse_submit("Submitted job 42\n") == "42"
