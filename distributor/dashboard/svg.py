"""Charts as inline SVG text: a timeline of attempts, counts by state over time, progress per
owner and tag, and usage against request. No plotting library and nothing fetched: each
function returns one ``<svg>`` element as a string, every piece of text in it escaped.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence

from distributor.dashboard.figures import CATEGORIES, Progress, Series, Usage
from distributor.dashboard.view import Attempt

__all__ = [
    "COLOURS",
    "counts_chart",
    "over_askers_chart",
    "progress_chart",
    "ratio_histogram",
    "timeline_chart",
]

COLOURS: dict[str, str] = {
    "waiting": "#aab4bf", "running": "#2f80ed", "done": "#27ae60", "failed": "#eb5757",
    "cancelled": "#5f6b77",
    "Q": "#cfd6de", "I": "#b8c2cc", "O": "#9cc3f0", "R": "#2f80ed", "T": "#f2c94c",
    "D": "#27ae60", "E": "#eb5757", "F": "#a61b1b", "K": "#4f4f4f", "U": "#9b51e0",
    "W": "#bb6bd9", "X": "#f2994a", "Z": "#e67e22",
}  # fmt: skip
"""Fill colour of each category and state letter (the page's CSS uses the same)."""

_WIDTH = 960
_LABEL = 190
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'
_FINAL = frozenset("DEFKUWXZ")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _svg(height: float, body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_e(label)}" '
        f'viewBox="0 0 {_WIDTH} {height:.0f}" width="{_WIDTH}" height="{height:.0f}" {_FONT}>'
        + "".join(body)
        + "</svg>"
    )


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def _empty(label: str, what: str) -> str:
    return _svg(30, [f'<text x="8" y="20" fill="#666">{_e(what)}</text>'], label)


def _axis(start: float, end: float, left: float, width: float, y: float) -> list[str]:
    """Time ticks along the bottom, as clock times."""
    parts = [f'<line x1="{left}" y1="{y}" x2="{left + width}" y2="{y}" stroke="#999"/>']
    short = end - start < 300  # seconds after the first tick rather than clock times
    for k in range(6):
        at = start + (end - start) * k / 5
        text = _clock(at) if k == 0 or not short else f"+{at - start:.3g}s"
        x = left + width * k / 5
        parts.append(f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 4}" stroke="#999"/>')
        anchor = "start" if k == 0 else "end" if k == 5 else "middle"
        parts.append(f'<text x="{x:.1f}" y="{y + 15}" text-anchor="{anchor}" '
                     f'fill="#555">{text}</text>')  # fmt: skip
    return parts


def _legend(keys: Sequence[str], y: float, words: dict[str, str] | None = None) -> list[str]:
    parts, x = [], 8.0
    for key in keys:
        word = (words or {}).get(key, key)
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{COLOURS[key]}"/>'
                     f'<text x="{x + 14}" y="{y}" fill="#333">{_e(word)}</text>')  # fmt: skip
        x += 22 + 6.5 * len(word)
    return parts


def timeline_chart(attempts: Sequence[Attempt], now: float, limit: int = 200) -> str:
    """One row per attempt (the `limit` most recent): time waiting in each state (``Q``,
    ``I``, ``O``), then its run coloured by how it ended (blue while it runs)."""
    label = "timeline of attempts"
    if not attempts:
        return _empty(label, "no attempts yet")
    shown = sorted(attempts, key=lambda a: (a.created_at, a.task, a.attempt))[-limit:]
    bars: list[tuple[Attempt, float | None, float]] = []
    for a in shown:
        started = a.usage.get("started_at")
        if started is None:
            started = next((since for letter, since in a.states if letter == "R"), None)
        ended = a.usage.get("ended_at")
        if ended is None:
            ended = a.status_at if a.state in _FINAL else now
        bars.append((a, started, max(ended, a.created_at)))
    start = min(a.created_at for a in shown)
    end = max(max(b[2] for b in bars), start + 1.0)
    row = 12 if len(shown) <= 60 else 6 if len(shown) <= 120 else 4
    width = _WIDTH - _LABEL - 10
    top = 22

    def x(at: float) -> float:
        return _LABEL + width * (at - start) / (end - start)

    body = _legend(["Q", "O", "R", "D", "E", "K", "Z"], 12, {
        "Q": "queued", "O": "in the scheduler", "R": "running", "D": "done", "E": "error",
        "K": "killed", "Z": "over a limit"})  # fmt: skip
    for n, (a, started, ended) in enumerate(bars):
        y = top + n * row
        if row >= 12:
            suffix = f" #{a.attempt}" if a.attempt > 1 else ""
            room = 26 - len(suffix)
            name = a.task if len(a.task) <= room else a.task[: room - 1] + "…"
            body.append(f'<text x="{_LABEL - 6}" y="{y + row - 3}" text-anchor="end" '
                        f'fill="#333">{_e(name + suffix)}</text>')  # fmt: skip
        waits = list(a.states) or [("Q", a.created_at)]
        run_from = started if started is not None else ended
        for k, (letter, since) in enumerate(waits):
            until = waits[k + 1][1] if k + 1 < len(waits) else run_from
            until = min(until, run_from)
            if letter in ("Q", "I", "O") and until > since:
                body.append(f'<rect x="{x(since):.1f}" y="{y}" height="{row - 1}" '
                            f'width="{max(x(until) - x(since), 0.5):.1f}" '
                            f'fill="{COLOURS[letter]}"/>')  # fmt: skip
        if started is not None:
            colour = COLOURS.get(a.state, COLOURS["R"]) if a.state in _FINAL else COLOURS["R"]
            tip = f"{a.task} attempt {a.attempt}: {a.state}"
            body.append(f'<rect x="{x(started):.1f}" y="{y}" height="{row - 1}" '
                        f'width="{max(x(ended) - x(started), 1.0):.1f}" fill="{colour}">'
                        f"<title>{_e(tip)}</title></rect>")  # fmt: skip
    bottom = top + len(bars) * row + 4
    body += _axis(start, end, _LABEL, width, bottom)
    if len(attempts) > len(shown):
        body.append(f'<text x="{_WIDTH - 8}" y="12" text-anchor="end" fill="#666">the '
                    f"{len(shown)} most recent of {len(attempts)} attempts</text>")  # fmt: skip
    return _svg(bottom + 22, body, label)


def counts_chart(series: Series, height: int = 180) -> str:
    """Stacked areas: how many tasks waited, ran and ended, over time."""
    label = "tasks by state over time"
    if not series.times:
        return _empty(label, "no events yet")
    start, end = series.times[0], series.times[-1]
    total = max(sum(series.counts[c][k] for c in CATEGORIES) for k in range(len(series.times)))
    left, width, top, plot = 50.0, _WIDTH - 60.0, 22.0, height - 48.0
    span = (end - start) or 1.0

    def point(k: int, level: float) -> str:
        return f"{left + width * (series.times[k] - start) / span:.1f}," \
               f"{top + plot - plot * level / max(total, 1):.1f}"  # fmt: skip

    body = _legend(list(CATEGORIES), 12)
    below = [0] * len(series.times)
    for name in ("done", "failed", "cancelled", "running", "waiting"):
        above = [b + v for b, v in zip(below, series.counts[name], strict=True)]
        upper = [point(k, above[k]) for k in range(len(above))]
        lower = [point(k, below[k]) for k in reversed(range(len(below)))]
        body.append(f'<polygon points="{" ".join(upper + lower)}" fill="{COLOURS[name]}">'
                    f"<title>{_e(name)}</title></polygon>")  # fmt: skip
        below = above
    body.append(
        f'<text x="{left - 6}" y="{top + 8}" text-anchor="end" fill="#555">{total}</text>'
        f'<text x="{left - 6}" y="{top + plot}" text-anchor="end" fill="#555">0</text>'
    )
    body += _axis(start, end, left, width, top + plot)
    return _svg(height, body, label)


def progress_chart(groups: Sequence[Progress], title: str) -> str:
    """One bar per owner or tag: its tasks by category, with its share of the running ones."""
    label = f"progress by {title}"
    if not groups:
        return _empty(label, f"no {title}s")
    row, top = 20, 24
    widest = max(g.total for g in groups)
    width = _WIDTH - _LABEL - 250
    body = [f'<text x="8" y="14" fill="#333" font-weight="bold">by {_e(title)}</text>']
    for n, group in enumerate(groups):
        y = top + n * row
        name = group.key or f"(no {title})"
        name = name if len(name) <= 28 else name[:27] + "…"
        body.append(f'<text x="{_LABEL - 6}" y="{y + 12}" text-anchor="end" '
                    f'fill="#333">{_e(name)}</text>')  # fmt: skip
        x = float(_LABEL)
        for what in ("done", "failed", "cancelled", "running", "waiting"):
            w = width * group.counts[what] / widest
            if w > 0:
                body.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 5}" '
                            f'fill="{COLOURS[what]}"><title>{_e(what)}: {group.counts[what]}'
                            "</title></rect>")  # fmt: skip
            x += w
        ended = group.counts["done"] + group.counts["failed"] + group.counts["cancelled"]
        body.append(
            f'<text x="{_LABEL + width + 8}" y="{y + 12}" fill="#333">{ended}/'
            f"{group.total} ended · {group.running_share:.0%} of running</text>"
        )
    return _svg(top + len(groups) * row + 4, body, label)


def ratio_histogram(ratios: Sequence[float], title: str, unit: str) -> str:
    """How many tasks used each tenth of what they asked for (the last bar: more than asked)."""
    label = f"{title}: used / requested"
    if not ratios:
        return _empty(label, f"no {title} figures yet")
    bins = [0] * 11
    for ratio in ratios:
        bins[min(int(ratio * 10), 10)] += 1
    height, top, plot, left = 180, 36, 110, 50
    width = (_WIDTH - left - 20) / 11
    body = [
        f'<text x="8" y="14" fill="#333" font-weight="bold">{_e(title)}: tasks by the '
        f"fraction of the requested {_e(unit)} they used</text>"
    ]
    for k, count in enumerate(bins):
        h = plot * count / max(bins)
        x = left + k * width
        colour = "#eb5757" if k < 3 else "#f2c94c" if k < 5 else "#27ae60" if k < 10 else "#e67e22"
        word = f"{k * 10}–{k * 10 + 10}%" if k < 10 else "over 100%"
        body.append(f'<rect x="{x + 2:.1f}" y="{top + plot - h:.1f}" width="{width - 4:.1f}" '
                    f'height="{h:.1f}" fill="{colour}"><title>{count} task(s): {word}</title>'
                    f'</rect><text x="{x + width / 2:.1f}" y="{top + plot + 14}" '
                    f'text-anchor="middle" fill="#555">{word}</text>')  # fmt: skip
        if count:
            body.append(f'<text x="{x + width / 2:.1f}" y="{top + plot - h - 3:.1f}" '
                        f'text-anchor="middle" fill="#333">{count}</text>')  # fmt: skip
    return _svg(height, body, label)


def _bytes(amount: float) -> str:
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if amount >= size:
            return f"{amount / size:.3g} {unit}"
    return f"{amount:.0f} B"


def over_askers_chart(usage: Usage, limit: int = 15) -> str:
    """The tasks that left the most memory unused: requested (light) against peak (dark)."""
    worst = usage.over_askers(limit)
    label = "peak memory against request"
    if not worst:
        return _empty(label, "no memory figures yet")
    row, top = 18, 24
    widest = max(asked for _, _, asked in worst)
    width = _WIDTH - _LABEL - 230
    body = [
        f'<text x="8" y="14" fill="#333" font-weight="bold">peak memory (dark) against '
        f"the request (light): the {len(worst)} largest gaps</text>"
    ]
    for n, (name, used, asked) in enumerate(worst):
        y = top + n * row
        short = name if len(name) <= 28 else name[:27] + "…"
        body.append(
            f'<text x="{_LABEL - 6}" y="{y + 11}" text-anchor="end" fill="#333">{_e(short)}</text>'
            f'<rect x="{_LABEL}" y="{y}" width="{width * asked / widest:.1f}" height="{row - 5}" '
            f'fill="#d6e4f5"/><rect x="{_LABEL}" y="{y}" height="{row - 5}" '
            f'width="{max(width * min(used, asked) / widest, 1):.1f}" fill="#1f5fa8"/>'
            f'<text x="{_LABEL + width + 8}" y="{y + 11}" fill="#333">{_bytes(used)} of '
            f"{_bytes(asked)} ({used / asked:.0%})</text>"
        )
    return _svg(top + len(worst) * row + 4, body, label)
