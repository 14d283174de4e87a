"""``distributor report JOURNAL -o report.html``: one self-contained HTML file (style sheet
and charts inline, no script, nothing fetched) with a run's summary, counts over time, the
timeline of attempts, progress per owner and tag, and what tasks used of what they asked for.
"""

from __future__ import annotations

import html
import os
import tempfile
import time
from pathlib import Path

from distributor.dashboard import svg
from distributor.dashboard.figures import counts_over_time, progress_by, usage_of
from distributor.dashboard.pages import format_bytes, format_seconds, page, state_badge, summary
from distributor.dashboard.view import JournalView, TaskRow

__all__ = ["MAX_LISTED", "render_report", "write_report"]

MAX_LISTED = 500
"""Tasks that did not end done listed in the report's table (the rest are counted)."""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _usage_text(rows: list[TaskRow]) -> str:
    usage = usage_of(rows)
    parts = []
    if usage.memory_median is not None:
        low = sum(1 for _, used, asked in usage.memory if used < asked / 4)
        parts.append(
            f"The median task peaked at {usage.memory_median:.0%} of the memory it requested; "
            f"{low} of {len(usage.memory)} used less than a quarter."
        )
    if usage.cpu_median is not None:
        low = sum(1 for _, used, asked in usage.cpu if used < asked / 4)
        parts.append(f"The median task kept {usage.cpu_median:.0%} of its requested cores busy; "
                     f"{low} of {len(usage.cpu)} used less than a quarter.")  # fmt: skip
    if not parts:
        return '<p class="note">no usage figures recorded yet</p>'
    return f"<p>{' '.join(parts)} Asking for less lets more tasks run at once.</p>"


def _failures(rows: list[TaskRow]) -> str:
    bad = [r for r in rows if r["status"] != "done"]
    if not bad:
        return '<p class="note">every task ended done</p>'
    cells = [
        f"<tr><td>{_e(r['name'])}</td><td>{_e(r['status'])}</td><td>{state_badge(r['state'])}"
        f"</td><td class=num>{r['attempt']}</td><td class=num>{_e(r['exit_code'])}</td>"
        f"<td class=num>{format_seconds(r['elapsed'])}</td>"
        f"<td class=num>{format_bytes(r['max_rss'])}</td><td class=message>{_e(r['message'])}"
        "</td></tr>"
        for r in bad[:MAX_LISTED]
    ]
    more = (f'<p class="note">and {len(bad) - MAX_LISTED} more</p>'
            if len(bad) > MAX_LISTED else "")  # fmt: skip
    return (
        "<table><thead><tr><th>task</th><th>status</th><th>state</th><th>attempts</th>"
        "<th>exit</th><th>elapsed</th><th>peak memory</th><th>message</th></tr></thead>"
        f"<tbody>{''.join(cells)}</tbody></table>{more}"
    )


def render_report(view: JournalView) -> str:
    """The report of the journal `view` reads, as one HTML document."""
    _, rows = view.snapshot()
    attempts = view.attempts()
    now = time.time()
    ends = [a.usage.get("ended_at") or a.status_at for a in attempts]
    end = max(ends) if ends and all(r["status"] != "active" for r in rows) else now
    usage = usage_of(rows)
    body = [
        f'<header><h1>distributor report</h1><span class="journal">{_e(view.path)}</span>'
        f'<span class="live">written {time.strftime("%Y-%m-%d %H:%M:%S")}</span></header>',
        "<main><section><h2>Summary</h2>",
        summary(rows),
        "</section><section><h2>Tasks by state over time</h2>",
        f'<div class="chart">{svg.counts_chart(counts_over_time(view.transitions(), end))}</div>',
        "</section><section><h2>Timeline of attempts</h2>",
        f'<div class="chart">{svg.timeline_chart(attempts, end)}</div>',
        "</section><section><h2>Progress by owner and tag (fair share)</h2><div class=charts>",
        f'<div class="chart">{svg.progress_chart(progress_by(rows, "owner"), "owner")}</div>',
        f'<div class="chart">{svg.progress_chart(progress_by(rows, "tags"), "tag")}</div>',
        "</div></section><section><h2>Usage against request</h2>",
        _usage_text(rows),
        '<div class="charts"><div class="chart">',
        svg.ratio_histogram([u / a for _, u, a in usage.memory], "memory", "memory"),
        '</div><div class="chart">',
        svg.ratio_histogram([u / a for _, u, a in usage.cpu], "CPU", "cores"),
        f'</div><div class="chart">{svg.over_askers_chart(usage)}</div></div>',
        "</section><section><h2>Tasks that did not end done</h2>",
        _failures(rows),
        "</section></main>",
    ]
    return page(f"distributor report · {view.path.name}", "".join(body), inline=True)


def write_report(journal: str | os.PathLike[str], output: str | os.PathLike[str]) -> Path:
    """Write the report of `journal` to `output` (atomically: a reader never sees half a
    file) and return its path.

    Raises:
        JournalError: `journal` cannot be read as a journal.
        OSError: `output` cannot be written.
    """
    target = Path(output)
    with JournalView(Path(journal)) as view:
        text = render_report(view)
    fd, temporary = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
