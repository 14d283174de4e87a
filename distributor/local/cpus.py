"""How many CPUs this process may keep busy: its affinity mask, capped by its cgroup's CPU quota.

A batch allocation of 4 cores on a 128-core node confines its processes in one of two ways, or
both: an affinity mask (a cpuset: ``sched_getaffinity`` lists 4 CPUs) or a CFS bandwidth quota
(cgroup v2 ``cpu.max`` of ``400000 100000``; cgroup v1 ``cpu.cfs_quota_us`` 400000 over
``cpu.cfs_period_us`` 100000). `os.cpu_count` sees 128 either way; `available_cpus` sees 4.

Contract of `available_cpus`::

    max(1, min(len(os.sched_getaffinity(0)), ceil(quota / period)))

where ``quota / period`` is the smallest ratio found in this process's cgroup and each of its
ancestors up to the root of the hierarchy (a parent's limit binds its children too), in the
cgroup v2 hierarchy and in a cgroup v1 hierarchy holding the ``cpu`` controller, whichever are
mounted (located through ``/proc/self/cgroup`` and ``/proc/self/mountinfo``). No limit
(``max``, ``-1``), a missing or unreadable file and a malformed value all mean "no quota" here:
the answer never raises and is at least 1.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["available_cpus", "cgroup_cpu_limit", "parse_cfs_quota", "parse_cpu_max"]

_PROC_SELF = Path("/proc/self")
_DIGITS = re.compile(r"[0-9]+")
_OCTAL = re.compile(r"\\([0-7]{3})")  # mountinfo escapes space, tab, newline and backslash


def available_cpus(proc_self: Path = _PROC_SELF) -> int:
    """The CPUs this process may keep busy; see the module docstring for the contract.

    Args:
        proc_self: where ``cgroup`` and ``mountinfo`` are read (tests point it elsewhere).

    Returns:
        A whole number of CPUs, at least 1.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    limit = cgroup_cpu_limit(proc_self)
    if limit is not None:
        cpus = min(cpus, limit)
    return max(1, cpus)


def cgroup_cpu_limit(proc_self: Path = _PROC_SELF) -> int | None:
    """The CPUs the CFS quota of this process's cgroups allows, rounded up; None if no quota.

    Args:
        proc_self: the directory holding this process's ``cgroup`` and ``mountinfo``.

    Returns:
        The smallest ``ceil(quota / period)`` over the process's cgroup and its ancestors in
        every mounted hierarchy that limits CPU bandwidth (at least 1), or None.
    """
    try:
        memberships = (proc_self / "cgroup").read_text()
        mounts = (proc_self / "mountinfo").read_text()
    except OSError:
        return None
    limits = [
        limit
        for directory, version in _cgroup_directories(memberships, mounts)
        if (limit := _read_limit(directory, version)) is not None
    ]
    return min(limits, default=None)


def parse_cpu_max(text: str) -> int | None:
    """CPUs allowed by a cgroup v2 ``cpu.max`` (``"$MAX $PERIOD"``), rounded up; None for
    ``max`` or anything malformed.

    Returns:
        ``ceil(MAX / PERIOD)``, at least 1; the period defaults to 100000 µs when absent.
    """
    words = text.split()
    if not 1 <= len(words) <= 2 or words[0] == "max":
        return None
    return _ratio(words[0], words[1] if len(words) == 2 else "100000")


def parse_cfs_quota(quota: str, period: str) -> int | None:
    """CPUs allowed by cgroup v1 ``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``, rounded up;
    None for a quota of ``-1`` (no limit) or anything malformed.

    Returns:
        ``ceil(quota / period)``, at least 1.
    """
    return _ratio(quota.strip(), period.strip())


def _ratio(quota: str, period: str) -> int | None:
    if not (_DIGITS.fullmatch(quota) and _DIGITS.fullmatch(period)):  # also rejects "-1"
        return None
    q, p = int(quota), int(period)
    if p <= 0:
        return None
    return max(1, -(-q // p))  # ceil in integers: no float rounding at 400000/100000


@dataclass(frozen=True)
class _Mount:
    root: str  # the hierarchy's path that is mounted (``/`` unless bind-mounted from inside)
    point: Path
    version: int  # 1 (with the cpu controller) or 2


def _cgroup_mounts(mountinfo: str) -> Iterator[_Mount]:
    """The cgroup v2 mounts and the cgroup v1 mounts holding the ``cpu`` controller."""
    for line in mountinfo.splitlines():
        fields = line.split()  # id parent dev root point options [optional…] - type source super
        if "-" not in fields[6:]:
            continue
        dash = fields.index("-", 6)
        if len(fields) < dash + 4:
            continue
        fstype, options = fields[dash + 1], fields[dash + 3].split(",")
        point = Path(_OCTAL.sub(lambda m: chr(int(m.group(1), 8)), fields[4]))
        if fstype == "cgroup2":
            yield _Mount(fields[3], point, 2)
        elif fstype == "cgroup" and "cpu" in options:
            yield _Mount(fields[3], point, 1)


def _cgroup_directories(memberships: str, mountinfo: str) -> Iterator[tuple[Path, int]]:
    """This process's cgroup directory and each ancestor's, up to each mount's point."""
    paths: dict[int, str] = {}
    for line in memberships.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and not controllers:
            paths[2] = path
        elif "cpu" in controllers.split(","):
            paths[1] = path
    for mount in _cgroup_mounts(mountinfo):
        if mount.version not in paths:
            continue
        path = paths[mount.version]
        root = mount.root.rstrip("/")
        if path == root or path.startswith(root + "/"):
            relative = path[len(root) :].strip("/")
        else:  # mounted from a cgroup that does not hold us: its top is the best we can see
            relative = ""
        directory = mount.point / relative if relative else mount.point
        while True:
            yield directory, mount.version
            if directory == mount.point or mount.point not in directory.parents:
                break
            directory = directory.parent


def _read_limit(directory: Path, version: int) -> int | None:
    try:
        if version == 2:
            return parse_cpu_max((directory / "cpu.max").read_text())
        quota = (directory / "cpu.cfs_quota_us").read_text()
        return parse_cfs_quota(quota, (directory / "cpu.cfs_period_us").read_text())
    except (OSError, UnicodeDecodeError):
        return None
