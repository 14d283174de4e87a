"""Linux ``/proc`` readings of a process tree: identity (pid + start time), RSS and peak RSS.

Why sample at all: ``wait4``'s ``ru_maxrss`` for a child started by a large parent includes the
parent's memory at spawn time (Linux carries the old mm's high-water mark across ``exec``), so
for small tasks it reports the parent's size. ``VmHWM`` in ``/proc/PID/status`` belongs to the
new mm and is exact; sampling it while the task runs gives the true peak of small tasks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

__all__ = ["descendants", "process_start_time", "tree_peak_rss", "tree_rss"]

_PAGE = os.sysconf("SC_PAGE_SIZE")


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of ``/proc/PID/stat``).

    Returns None if there is no such process. Together with the pid it identifies a process
    across pid reuse.
    """
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    try:
        data = os.read(fd, 4096)  # raw read: this runs once per task started
    except ProcessLookupError:
        return None
    finally:
        os.close(fd)
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = data[data.rfind(b")") + 2 :].split()
    state = fields[0]
    if state in (b"Z", b"X"):  # a zombie has ended; only its parent's wait is missing
        return None
    return int(fields[19])


def _children(pid: int) -> list[int]:
    """Children of every thread of `pid`: ``/proc/PID/task/TID/children`` lists only the
    children that thread forked, and programs often start commands from worker threads."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError, PermissionError, NotADirectoryError):
        return []
    children: list[int] = []
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as handle:
                children.extend(int(part) for part in handle.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return children


def descendants(pid: int) -> Iterator[int]:
    """Yield `pid` and every live descendant (depth first; processes may vanish meanwhile)."""
    stack = [pid]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        yield current
        stack.extend(_children(current))


def _status_kib(pid: int, key: bytes) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError, IndexError):
        pass
    return 0


def tree_rss(pid: int) -> int:
    """Resident memory of `pid` and its descendants now, in bytes (sum over processes)."""
    return sum(_status_kib(p, b"VmRSS:") for p in descendants(pid)) * 1024


def tree_peak_rss(pid: int) -> int:
    """The largest peak RSS (``VmHWM``) of any process in the tree so far, in bytes."""
    return max((_status_kib(p, b"VmHWM:") for p in descendants(pid)), default=0) * 1024
