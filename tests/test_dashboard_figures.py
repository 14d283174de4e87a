"""The figures behind the dashboard's charts, the charts' escaping, and the rules of who may
talk to the dashboard — as properties and plain cases, without a server."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor.dashboard import svg
from distributor.dashboard.figures import (
    CATEGORIES,
    category,
    counts_over_time,
    progress_by,
    usage_of,
)
from distributor.dashboard.security import _host_name, is_loopback
from distributor.dashboard.view import JournalView
from distributor.service.errors import JournalError

TASK_STATES = ("active", "done", "failed", "cancelled")
LETTERS = ("Q", "I", "O", "R", "T", "D", "E", "K", "Z")


@st.composite
def journals(draw: Any) -> list[tuple[float, int, str, str]]:
    """Event streams as the journal records them: each task is created (``active``) before
    its other events; times never go back."""
    events: list[tuple[float, int, str, str]] = []
    created: list[int] = []
    at = 1000.0
    for _ in range(draw(st.integers(0, 60))):
        at += draw(st.sampled_from([0.0, 0.5, 3.0]))
        if not created or draw(st.booleans()):
            task = len(created)
            created.append(task)
            events.append((at, task, "task", "active"))
        else:
            task = draw(st.sampled_from(created))
            if draw(st.booleans()):
                events.append((at, task, "task", draw(st.sampled_from(TASK_STATES))))
            else:
                events.append((at, task, "instance", draw(st.sampled_from(LETTERS))))
    return events


@given(journals(), st.integers(2, 50))
def test_counts_over_time_count_every_created_task_once(
    events: list[tuple[float, int, str, str]], points: int
) -> None:
    """At every sampled moment the categories add up to the tasks created by then, and the
    last moment shows each task in the category of its last events."""
    series = counts_over_time(events, end=0.0, points=points)
    if not events:
        assert series.times == ()
        return
    for k, moment in enumerate(series.times):
        created = {task for at, task, kind, new in events if at <= moment}
        assert sum(series.counts[name][k] for name in CATEGORIES) == len(created)
    status: dict[int, str] = {}
    state: dict[int, str | None] = {}
    for _, task, kind, new in events:
        if kind == "task":
            status[task] = new
        else:
            state[task] = new
    final = {name: 0 for name in CATEGORIES}
    for task in status:
        final[category(status[task], state.get(task))] += 1
    assert {name: series.counts[name][-1] for name in CATEGORIES} == final


def _row(name: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": name, "status": "active", "state": None, "owner": "",
                            "tags": [], "max_rss": None, "memory": None, "cpu": None,
                            "elapsed": None, "cores": None}  # fmt: skip
    return {**base, **fields}


def test_progress_counts_each_owner_and_tag_and_their_share_of_running() -> None:
    """Progress by owner and by tag counts tasks by category; the share is of running ones."""
    rows = [
        _row("a", owner="ann", tags=["x"], state="R"),
        _row("b", owner="ann", tags=["x", "y"], status="done", state="D"),
        _row("c", owner="bob", tags=["y"], state="R"),
        _row("d", owner="bob", state="Q"),
    ]
    owners = {p.key: p for p in progress_by(rows, "owner")}
    assert owners["ann"].counts["running"] == 1 and owners["ann"].counts["done"] == 1
    assert owners["bob"].counts["waiting"] == 1 and owners["bob"].running_share == 0.5
    tags = {p.key: p for p in progress_by(rows, "tags")}
    assert tags["x"].total == 2 and tags["y"].total == 2


def test_usage_compares_peak_memory_and_cpu_with_the_request() -> None:
    """Usage pairs peak memory with requested memory and cores used with cores asked for;
    the task leaving the most memory unused comes first."""
    gib = 2**30
    rows = [
        _row("lean", max_rss=gib, memory=2 * gib, cpu=10.0, elapsed=10.0, cores=1),
        _row("greedy", max_rss=gib // 10, memory=8 * gib, cpu=2.0, elapsed=10.0, cores=4),
        _row("unknown"),
    ]
    usage = usage_of(rows)
    assert [name for name, _, _ in usage.over_askers()] == ["greedy", "lean"]
    assert usage.memory_median == pytest.approx((0.5 + 0.1 / 8) / 2)
    assert sorted(used for _, used, _ in usage.cpu) == [0.2, 1.0]


def test_charts_escape_every_name() -> None:
    """A name with markup is text in every chart that shows names."""
    hostile = '<script>alert("x")</script>'
    rows = [_row(hostile, owner=hostile, tags=[hostile], max_rss=1, memory=2)]
    for text in (svg.progress_chart(progress_by(rows, "owner"), "owner"),
                 svg.progress_chart(progress_by(rows, "tags"), "tag"),
                 svg.over_askers_chart(usage_of(rows))):  # fmt: skip
        assert "<script" not in text
        assert "&lt;script&gt;" in text


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("10.1.2.3", False),  # noqa: S104 - a string
     ("example.org", False),
     ("localhost.example.org", False), ("", False)],
)  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    """Only the loopback range and localhost's names count as loopback."""
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("header", "name"),
    [("127.0.0.1:8750", "127.0.0.1"), ("localhost", "localhost"), ("[::1]:80", "::1"),
     ("evil.example:8750", "evil.example"), ("::1", "::1")],
)  # fmt: skip
def test_host_header_names(header: str, name: str) -> None:
    """The host name of a Host header, with or without its port, IPv6 in brackets."""
    assert _host_name(header) == name


def test_a_file_that_is_not_a_journal_is_refused_by_name(tmp_path: Path) -> None:
    """A missing file, a directory, an empty file and another SQLite database are each a
    `JournalError` naming the path, and none of them is written to."""
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    empty = tmp_path / "empty.db"
    empty.touch()
    for path in (tmp_path / "missing.db", tmp_path, empty, other):
        before = path.stat().st_mtime_ns if path.exists() else None
        with pytest.raises(JournalError, match=str(path.name)):
            JournalView(path)
        assert (path.stat().st_mtime_ns if path.exists() else None) == before
