"""`TaskUsage`: what a finished task did — exit code, signal, times and resources used.

Backends fill it from the scheduler's own accounting where it has the figure (``sacct``
``MaxRSS``/``Elapsed``, ``qacct`` ``maxvmem``/``ru_wallclock``, ``condor_history``, ``bjobs``,
``qstat -f``) and from the worker's record otherwise; every field may be unknown (None).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["TaskUsage"]


@dataclass(frozen=True, slots=True)
class TaskUsage:
    """The outcome figures of one task.

    Attributes:
        exit_code: the command's exit status, None if a signal ended it or it never ran.
        signal: the name of the signal that ended the command (``SIGKILL``), or None.
        started_at / ended_at: wall-clock seconds since the epoch.
        elapsed: seconds from start to end.
        max_rss: peak resident memory, bytes (of the whole process tree where measured so).
        cpu: user + system CPU seconds.
        host: where it ran.
    """

    exit_code: int | None = None
    signal: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    elapsed: float | None = None
    max_rss: int | None = None
    cpu: float | None = None
    host: str | None = None

    def merged(self, preferred: TaskUsage) -> TaskUsage:
        """These figures, each replaced by `preferred`'s where that one knows it (the
        scheduler's accounting over the worker's record, say)."""
        known = {f.name: getattr(preferred, f.name) for f in fields(self)}
        return replace(self, **{name: value for name, value in known.items() if value is not None})

    def to_dict(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict (None for unknown)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskUsage:
        """The inverse of `to_dict`; unknown keys are ignored, wrong types dropped."""
        types = {"exit_code": int, "signal": str, "started_at": float, "ended_at": float,
                 "elapsed": float, "max_rss": int, "cpu": float, "host": str}  # fmt: skip
        values: dict[str, Any] = {}
        for name, kind in types.items():
            value = data.get(name)
            if isinstance(value, bool) or value is None:
                continue
            if kind is float and isinstance(value, int):
                value = float(value)
            if isinstance(value, kind):
                values[name] = value
        return cls(**values)
