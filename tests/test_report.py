"""The summary line and the failure details of `distributor.report`: a task still queued or
running is counted as not ended, never as failed, and is not listed as a failure."""

from __future__ import annotations

import io
import re

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from distributor.exit_info import TaskInstanceStatus
from distributor.report import Outcome, render, summary_line

LETTERS = [state.value for state in TaskInstanceStatus]


def outcome(name: str, state: str | None) -> Outcome:
    return Outcome(name=name, distributor_id="1", step=None, state=state, message="")


def test_running_and_queued_tasks_are_not_failures() -> None:
    outcomes = [outcome("a", "D"), outcome("b", "E"), outcome("c", "R"), outcome("d", "Q")]
    assert summary_line(outcomes) == (
        "1 done, 1 failed (1 E error), 2 not ended (1 Q queued, 1 R running)"
    )
    buffer = io.StringIO()
    render(outcomes, Console(file=buffer, width=200))
    shown = buffer.getvalue()
    assert "✗ b " in shown
    assert "✗ c " not in shown and "✗ d " not in shown


def test_a_task_without_an_outcome_is_listed() -> None:
    outcomes = [outcome("a", None)]
    assert summary_line(outcomes) == "0 done, 1 without an outcome"
    buffer = io.StringIO()
    render(outcomes, Console(file=buffer, width=200))
    assert "✗ a " in buffer.getvalue()


@given(st.lists(st.sampled_from([*LETTERS, None]), max_size=40))
def test_every_task_is_counted_once(states: list[str | None]) -> None:
    line = summary_line([outcome(str(i), s) for i, s in enumerate(states)])
    heads = re.findall(r"(?:^|, )(\d+) (?:done|failed|not ended|without an outcome)", line)
    assert sum(int(count) for count in heads) == len(states)
    failed = re.search(r"(\d+) failed \(([^)]*)\)", line)
    final_failures = sum(1 for s in states if s in {"E", "F", "K", "U", "W", "X", "Z"})
    assert (int(failed.group(1)) if failed else 0) == final_failures
