"""The figures behind the charts, computed from a journal's rows: counts by state over time,
progress per owner and per tag (fair share), and how much of its request each task used.

Pure functions of `distributor.dashboard.view` rows; the charts (`distributor.dashboard.svg`)
only draw what these return.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from distributor.dashboard.view import TaskRow

__all__ = [
    "CATEGORIES",
    "Progress",
    "Series",
    "Usage",
    "category",
    "counts_over_time",
    "progress_by",
    "usage_of",
]

CATEGORIES = ("waiting", "running", "done", "failed", "cancelled")
"""What the counts are counted by: a task is waiting (for dependencies, for its turn, in the
scheduler's queue), running (``R``, or ``T`` being classified), or it ended."""

_RUNNING = frozenset({"R", "T"})


def category(status: str, state: str | None) -> str:
    """The category of a task whose status is `status` and latest attempt's state `state`."""
    if status != "active":
        return status
    return "running" if state in _RUNNING else "waiting"


@dataclass(frozen=True, slots=True)
class Series:
    """Counts by category at evenly spaced moments.

    Attributes:
        times: seconds since the epoch, increasing.
        counts: category → a count for each moment.
    """

    times: tuple[float, ...]
    counts: dict[str, tuple[int, ...]]


def counts_over_time(
    events: Iterable[tuple[float, int, str, str]], end: float, points: int = 160
) -> Series:
    """Replay the journal's events and sample the counts by category at `points` moments
    from the first event to `end` (the last event's time when later).

    Args:
        events: ``(at, task id, kind, new status)`` in journal order (`JournalView.transitions`).
        end: the last moment to show (now, for a live journal).
    """
    task_status: dict[int, str] = {}
    task_state: dict[int, str | None] = {}
    current = dict.fromkeys(CATEGORIES, 0)
    changes: list[tuple[float, dict[str, int]]] = []
    for at, task, kind, new in events:
        before = category(task_status[task], task_state[task]) if task in task_status else None
        if kind == "task":
            task_status[task] = new
            task_state.setdefault(task, None)
        else:
            task_state[task] = new
            task_status.setdefault(task, "active")
        after = category(task_status[task], task_state[task])
        if before != after:
            if before is not None:
                current[before] -= 1
            current[after] += 1
            if changes and changes[-1][0] == at:
                changes[-1] = (at, dict(current))
            else:
                changes.append((at, dict(current)))
    if not changes:
        return Series((), {name: () for name in CATEGORIES})
    start = changes[0][0]
    end = max(end, changes[-1][0])
    step = (end - start) / (points - 1) if end > start else 0.0
    times = tuple(start + step * k for k in range(points)) if step else (start, start)
    sampled: dict[str, list[int]] = {name: [] for name in CATEGORIES}
    index = 0
    for moment in times:
        while index + 1 < len(changes) and changes[index + 1][0] <= moment:
            index += 1
        for name in CATEGORIES:
            sampled[name].append(changes[index][1][name])
    return Series(times, {name: tuple(values) for name, values in sampled.items()})


@dataclass(frozen=True, slots=True)
class Progress:
    """How far one owner's (or one tag's) tasks got.

    Attributes:
        key: the owner or tag (``""``: tasks without an owner).
        counts: category → tasks.
        total: all its tasks.
        running_share: its fraction of all running tasks (0 to 1), the share it holds now.
    """

    key: str
    counts: dict[str, int]
    total: int
    running_share: float


def progress_by(rows: Sequence[TaskRow], field: str, limit: int = 12) -> list[Progress]:
    """Progress per owner (`field` ``"owner"``) or per tag (``"tags"``), the `limit` largest
    groups by task count, largest first."""
    groups: dict[str, dict[str, int]] = {}
    running = 0
    for row in rows:
        keys = row["tags"] if field == "tags" else [row[field]]
        what = category(row["status"], row["state"])
        running += what == "running"
        for key in keys:
            counts = groups.setdefault(key, dict.fromkeys(CATEGORIES, 0))
            counts[what] += 1
    ranked = sorted(groups.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    return [
        Progress(key, counts, sum(counts.values()), counts["running"] / running if running else 0.0)
        for key, counts in ranked[:limit]
    ]


@dataclass(frozen=True, slots=True)
class Usage:
    """What ended tasks used of what they asked for.

    Attributes:
        memory: (task, peak bytes, requested bytes) of tasks with both figures.
        cpu: (task, cores used on average — CPU seconds over elapsed —, cores requested).
        memory_median / cpu_median: the median fraction used (None without tasks).
    """

    memory: list[tuple[str, int, int]]
    cpu: list[tuple[str, float, int]]
    memory_median: float | None
    cpu_median: float | None

    def over_askers(self, limit: int = 20) -> list[tuple[str, int, int]]:
        """The tasks that left the most memory unused (requested − peak), most first."""
        return sorted(self.memory, key=lambda item: item[1] - item[2])[:limit]


def usage_of(rows: Sequence[TaskRow]) -> Usage:
    """Peak memory and CPU of each ended task against its request."""
    memory = [
        (row["name"], int(row["max_rss"]), int(row["memory"]))
        for row in rows
        if row["max_rss"] is not None and row["memory"]
    ]
    cpu = [
        (row["name"], float(row["cpu"]) / float(row["elapsed"]), int(row["cores"]))
        for row in rows
        if row["cpu"] is not None and row["elapsed"] and row["cores"]
    ]
    return Usage(
        memory,
        cpu,
        statistics.median(used / asked for _, used, asked in memory) if memory else None,
        statistics.median(used / asked for _, used, asked in cpu) if cpu else None,
    )
