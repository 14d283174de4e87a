"""How the command shows what happened to tasks: one summary line, then only what went wrong.

`Outcome` is one task (or one attempt) as shown: its exit info, its `TaskUsage` and its logs.
`to_json` gives the fields every ``--json`` output carries; `render` prints a summary line
(``1999 done, 1 failed (1 E error)``) and, for each task that did not end ``D``, its exit code,
elapsed time, peak memory, log path and the last lines of its log — at most `MAX_SHOWN` of
them, so that a 2,000-task array with one failure fits on a screen; ``show_all`` prints the
full table instead.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from distributor.exit_info import FINAL_STATES, TaskInstanceStatus
from distributor.usage import TaskUsage

__all__ = [
    "MAX_SHOWN",
    "STATE_WORDS",
    "TAIL_LINES",
    "Outcome",
    "print_log",
    "render",
    "state_word",
    "tail",
]

MAX_SHOWN = 10
"""Tasks that did not end ``D`` shown in detail before the rest are only counted."""

TAIL_LINES = 5
"""Last lines of a failed task's log shown under it."""

STATE_WORDS: dict[str, str] = {
    "Q": "queued",
    "I": "instantiated",
    "O": "launched",
    "R": "running",
    "T": "triaging",
    "D": "done",
    "E": "error",
    "F": "fatal error",
    "K": "killed",
    "U": "unknown error",
    "W": "not submitted",
    "X": "no heartbeat",
    "Z": "resource error",
}
"""The word for each state letter."""


def state_word(state: str | None) -> str:
    """``"E error"`` for ``"E"``; ``"?"`` when unknown."""
    if state is None:
        return "?"
    return f"{state} {STATE_WORDS.get(state, '')}".strip()


@dataclass(frozen=True, slots=True)
class Outcome:
    """One task (or attempt) as the command shows it.

    Attributes:
        name: the task's name; distributor_id / step: its id and array step.
        state: its state letter (None while unknown); message: the exit message.
        usage: what it did (None when unknown); log / stderr_log: its output files.
        attempt: which attempt, for a journal's task.
    """

    name: str
    distributor_id: str | None
    step: int | None
    state: str | None
    message: str
    usage: TaskUsage | None = None
    log: Path | None = None
    stderr_log: Path | None = None
    attempt: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The fields every ``--json`` output carries for a task."""
        usage = self.usage or TaskUsage()
        record: dict[str, Any] = {
            "name": self.name,
            "distributor_id": self.distributor_id,
            "step": self.step,
            "state": self.state,
            "state_name": STATE_WORDS.get(self.state or ""),
            "message": self.message,
            **usage.to_dict(),
            "log": None if self.log is None else str(self.log),
            "stderr_log": None if self.stderr_log is None else str(self.stderr_log),
        }
        if self.attempt is not None:
            record["attempt"] = self.attempt
        return record


def tail(path: Path | None, lines: int = TAIL_LINES, max_bytes: int = 64 * 1024) -> list[str]:
    """The last `lines` lines of `path` (read from at most its last `max_bytes`); empty when
    there is no such file."""
    if path is None or lines <= 0:
        return []
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return []
    text = data.decode("utf-8", errors="replace")
    return text.splitlines()[-lines:]


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(int(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def _mib(amount: int) -> str:
    return f"{amount / 2**20:.1f} MiB"


def _going(state: str | None) -> bool:
    """True for a known state that is no outcome yet (``Q``, ``R``, …)."""
    return state is not None and state not in _FINAL_LETTERS


_FINAL_LETTERS = frozenset(state.value for state in FINAL_STATES)


def summary_line(outcomes: Sequence[Outcome]) -> str:
    """``1999 done, 1 failed (1 E error)``; tasks still queued or running are counted apart
    (``2 not ended (1 Q queued, 1 R running)``), never as failed."""
    states = Counter(o.state for o in outcomes)
    done = states.pop("D", 0)
    unknown = states.pop(None, 0)
    going = {state: states.pop(state) for state in list(states) if _going(state)}
    parts = [f"{done} done"]
    failed = sum(states.values())
    if failed:
        parts.append(f"{failed} failed ({_detail_counts(states)})")
    if going:
        parts.append(f"{sum(going.values())} not ended ({_detail_counts(going)})")
    if unknown:
        parts.append(f"{unknown} without an outcome")
    return ", ".join(parts)


def _detail_counts(states: Mapping[str | None, int]) -> str:
    return ", ".join(f"{count} {state_word(s)}" for s, count in sorted(states.items(), key=str))


def render(outcomes: Sequence[Outcome], console: Console, *, show_all: bool = False) -> None:
    """Print the summary line, then the tasks that did not end ``D`` in detail (at most
    `MAX_SHOWN`), or with `show_all` a table of every task."""
    console.print(summary_line(outcomes), highlight=False, soft_wrap=True)
    if show_all:
        console.print(_table(outcomes))
        return
    failed = [o for o in outcomes if o.state != TaskInstanceStatus.DONE and not _going(o.state)]
    for outcome in failed[:MAX_SHOWN]:
        _detail(outcome, console)
    if len(failed) > MAX_SHOWN:
        console.print(
            f"… and {len(failed) - MAX_SHOWN} more that did not end D (--all shows every task)",
            highlight=False,
            soft_wrap=True,
        )


def _detail(outcome: Outcome, console: Console) -> None:
    usage = outcome.usage or TaskUsage()
    where = outcome.distributor_id or "-"
    if outcome.step is not None:
        where = f"step {outcome.step} · {where}"
    figures = [state_word(outcome.state)]
    if usage.exit_code is not None:
        figures.append(f"exit {usage.exit_code}")
    if usage.signal:
        figures.append(usage.signal)
    figures.append(_seconds(usage.elapsed))
    if usage.max_rss:
        figures.append(f"peak {_mib(usage.max_rss)}")
    head = f"✗ {outcome.name} ({where}): {' · '.join(figures)}"
    console.print(head, style="red", highlight=False, markup=False, soft_wrap=True)
    lines = []
    if outcome.message:
        lines.append(f"    {outcome.message}")
    if outcome.log is not None:
        lines.append(f"    log: {outcome.log}")
    if outcome.stderr_log is not None:
        lines.append(f"    stderr: {outcome.stderr_log}")
    # the last lines of stderr when it says something, else of the output
    said = tail(outcome.stderr_log) or tail(outcome.log)
    lines.extend(f"    │ {line}" for line in said)
    for line in lines:
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _table(outcomes: Sequence[Outcome]) -> Table:
    table = Table("name", "step", "distributor id", "state", "exit", "elapsed", "peak memory",
                  "message")  # fmt: skip
    for o in outcomes:
        usage = o.usage or TaskUsage()
        style = "green" if o.state == TaskInstanceStatus.DONE else "red"
        table.add_row(
            o.name,
            "" if o.step is None else str(o.step),
            o.distributor_id or "",
            f"[{style}]{state_word(o.state)}[/]",
            "" if usage.exit_code is None else str(usage.exit_code),
            _seconds(usage.elapsed),
            _mib(usage.max_rss) if usage.max_rss else "",
            o.message,
        )
    return table


def print_log(
    path: Path, *, tail_lines: int | None, follow: bool, active: Callable[[], bool]
) -> int:
    """Write `path` (or its last `tail_lines` lines) to stdout; with `follow`, go on writing
    what is appended while `active()` says the task runs. Status 1 if there is no log."""
    if not path.exists() and not follow:
        print(f"distributor logs: no log at {path} (the task may not have started)",
              file=sys.stderr)  # fmt: skip
        return 1
    offset = 0
    if path.exists():
        if tail_lines is not None:
            lines = tail(path, tail_lines, max_bytes=1 << 22)
            sys.stdout.write("".join(f"{line}\n" for line in lines))
            offset = path.stat().st_size
        else:
            offset = _copy_from(path, 0)
    if not follow:
        return 0
    interval = 0.1
    while True:
        still = active()
        grown = _copy_from(path, offset) if path.exists() else offset
        if grown == offset and not still:
            return 0
        offset = grown
        time.sleep(interval)


def _copy_from(path: Path, offset: int) -> int:
    """Write `path` from byte `offset` to stdout; return the new offset."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        while chunk := handle.read(1 << 16):
            sys.stdout.buffer.write(chunk)
            offset += len(chunk)
    sys.stdout.flush()
    return offset
