"""HTML built on the server: the page frame, the summary, a task's page and the tail of a log.

Every value from the journal (names, messages, tags, paths, log lines) goes through
`html.escape`; nothing from it is ever markup.
"""

from __future__ import annotations

import html
import os
import time
from collections import Counter
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from distributor.dashboard.figures import CATEGORIES, category
from distributor.dashboard.view import Attempt, TaskRow
from distributor.report import STATE_WORDS

__all__ = [
    "LOG_TAIL_BYTES",
    "LOG_TAIL_LINES",
    "asset",
    "format_bytes",
    "format_seconds",
    "log_tail",
    "page",
    "summary",
    "task_page",
]

LOG_TAIL_LINES = 100
"""Lines of a log a task page shows."""
LOG_TAIL_BYTES = 64 * 1024
"""At most this much of the end of a log is read."""


def asset(name: str) -> str:
    """The text of a file shipped in ``distributor/dashboard/static``."""
    return files("distributor.dashboard").joinpath("static", name).read_text(encoding="utf-8")


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def format_bytes(amount: float | None) -> str:
    """``1.5 GiB``; empty when unknown."""
    if amount is None:
        return ""
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if amount >= size:
            return f"{amount / size:.3g} {unit}"
    return f"{amount:.0f} B"


def format_seconds(seconds: float | None) -> str:
    """``1h02m``, ``3m05s``, ``4.2s``; empty when unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _clock(at: float | None) -> str:
    return "" if at is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def state_badge(state: str | None) -> str:
    """The state letter in its colour, followed by its word (``D done``)."""
    if state is None:
        return '<span class="state s-none">–</span>not submitted yet'
    if state == "waiting":
        return '<span class="state s-waiting">…</span>waiting for dependencies'
    word = STATE_WORDS.get(state, "")
    return f'<span class="state s-{_e(state)}">{_e(state)}</span>{_e(word)}'


def page(title: str, body: str, *, inline: bool = False, script: str | None = None) -> str:
    """A whole HTML document. `inline` puts the style sheet in the page (the report, a file
    with nothing beside it); otherwise it is linked (``/static/dashboard.css``)."""
    style = (f"<style>{asset('dashboard.css')}</style>" if inline
             else '<link rel="stylesheet" href="static/dashboard.css">')  # fmt: skip
    tail = f'<script src="static/{script}" defer></script>' if script else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title>{style}{tail}</head><body>{body}</body></html>"
    )


def summary(rows: Sequence[TaskRow]) -> str:
    """Chips: tasks by category, then active tasks by state letter."""
    by_category = Counter(category(r["status"], r["state"]) for r in rows)
    chips = [f'<span class="chip">tasks<b>{len(rows)}</b></span>']
    chips += [f'<span class="chip">{name}<b>{by_category.get(name, 0)}</b></span>'
              for name in CATEGORIES]  # fmt: skip
    ended = Counter(r["state"] for r in rows if r["status"] != "active" and r["state"])
    chips += [f'<span class="chip">{state_badge(letter)}<b>{count}</b></span>'
              for letter, count in sorted(ended.items())]  # fmt: skip
    return f'<div class="chips">{"".join(chips)}</div>'


def log_tail(path: str | None, lines: int = LOG_TAIL_LINES) -> str | None:
    """The last `lines` lines of the log at `path` (at most `LOG_TAIL_BYTES`), or None when
    there is no such file. The path is one the journal recorded for an attempt's output."""
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(size - LOG_TAIL_BYTES, 0))
            data = handle.read(LOG_TAIL_BYTES)
    except OSError:
        return None
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def _cpu(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.1f}s"


def _attempt_rows(attempts: Sequence[Attempt]) -> str:
    cells = []
    for a in attempts:
        u = a.usage
        exit_text = u.get("signal") or ("" if u.get("exit_code") is None else u["exit_code"])
        cells.append(
            f"<tr><td class=num>{a.attempt}</td><td>{state_badge(a.state)}</td>"
            f"<td>{_e(a.queue)}</td><td>{_e(a.distributor_id)}</td><td>{_e(exit_text)}</td>"
            f"<td>{_clock(u.get('started_at') or a.submitted_at)}</td>"
            f"<td class=num>{format_seconds(u.get('elapsed'))}</td>"
            f"<td class=num>{format_bytes(u.get('max_rss'))}</td>"
            f"<td class=num>{format_bytes(a.memory)}</td>"
            f"<td class=num>{_cpu(u.get('cpu'))}</td>"
            f"<td>{_e(u.get('host'))}</td><td class=message>{_e(a.message)}</td></tr>"
        )
    return (
        "<table><thead><tr><th>attempt</th><th>state</th><th>queue</th><th>id</th>"
        "<th>exit</th><th>started</th><th>elapsed</th><th>peak memory</th><th>requested</th>"
        "<th>CPU</th><th>host</th><th>message</th></tr></thead><tbody>"
        + "".join(cells)
        + "</tbody></table>"
    )


def task_page(journal: Path, row: TaskRow, attempts: Sequence[Attempt]) -> str:
    """A task: its facts, every attempt, and the tail of the latest attempt's log (a cancel
    button while it is active)."""
    latest = attempts[-1] if attempts else None
    facts = [
        ("status", _e(row["status"])), ("state", state_badge(row["state"])),
        ("attempts", f"{row['attempt']} of {row['max_attempts']}"),
        ("cluster", _e(row["cluster"])), ("queue", _e(row["queue"])),
        ("owner", _e(row["owner"])), ("tags", _e(", ".join(row["tags"]))),
        ("message", _e(row["message"])),
    ]  # fmt: skip
    if latest is not None and latest.log:
        facts.append(("log", _e(latest.log)))
    body = [f'<header><h1><a href="./" class="home">distributor</a> · task '
            f'<span id="task-name">{_e(row["name"])}</span></h1>'
            f'<span class="journal">{_e(journal)}</span></header><main>',
            '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
            + "</dl>"]  # fmt: skip
    if row["status"] == "active":
        body.append(f'<p><button class="cancel" data-task="{_e(row["name"])}">cancel this task'
                    '</button> <span id="notice"></span></p>')  # fmt: skip
    body.append(f"<h2>Attempts</h2>{_attempt_rows(attempts)}")
    if latest is not None:
        tail = log_tail(latest.log)
        body.append(f"<h2>Log of attempt {latest.attempt} (last {LOG_TAIL_LINES} lines)</h2>")
        if tail is None:
            body.append('<p class="note">no log recorded yet: it is written when the attempt '
                        "ends, where its cluster can say where its output is</p>")  # fmt: skip
        elif not tail:
            body.append(f'<p class="note">the log {_e(latest.log)} is empty</p>')
        else:
            body.append(f'<pre class="log">{_e(tail)}</pre>')
            if latest.stderr_log:
                err = log_tail(latest.stderr_log)
                body.append(f'<h2>stderr</h2><pre class="log">{_e(err or "")}</pre>')
    body.append("</main>")
    return page(f"{row['name']} · distributor", "".join(body), script="task.js")
