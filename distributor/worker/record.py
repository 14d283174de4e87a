"""What ``distributor-worker`` writes: a `StartRecord` when the command starts and an
`ExitRecord` when it ends.

Each record is one JSON object written to a temporary file in the target directory and renamed
into place, so a reader sees either nothing or a complete record. The start record is the
task's own proof that it ran: it names the distributor id the scheduler gave the job, which
lets a restarted controller link a job to its submission when the scheduler has forgotten it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distributor.exceptions import SchedulerOutputError

__all__ = [
    "EXIT_RECORD_VERSION",
    "ExitRecord",
    "StartRecord",
    "read_exit_record",
    "read_start_record",
    "write_exit_record",
    "write_start_record",
]

EXIT_RECORD_VERSION = 1


@dataclass(frozen=True, slots=True)
class ExitRecord:
    """How one wrapped command ended.

    Attributes:
        returncode: the wrapper's own exit status: the command's code, or 128+N if signal N
            killed it, 127 if it could not be started.
        exit_code: the command's exit code, None if a signal killed it or it never started.
        signal: name of the signal that killed the command (``SIGKILL``), or None.
        signals_received: names of the signals the wrapper trapped while the command ran.
        maxrss_bytes / cpu_seconds: the command's peak RSS and user+system CPU (its whole
            waited-for tree, from ``wait4``).
        error: why the command could not be started, else empty.
        exceeded: ``"memory"`` or ``"runtime"`` when the wrapper ended the command for going
            over its limit (``--memory-limit`` / ``--runtime-limit``), else empty.
        limit / used: the limit that was exceeded and the amount used (bytes of resident
            memory of the process tree, or seconds), when `exceeded` is set.
    """

    returncode: int
    exit_code: int | None
    signal: str | None
    signals_received: tuple[str, ...] = ()
    maxrss_bytes: int = 0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    started_at: float = 0.0
    ended_at: float = 0.0
    hostname: str = ""
    pid: int = 0
    distributor_id: str | None = None
    array_step_id: int | None = None
    task_instance_id: int | None = None
    error: str = ""
    exceeded: str = ""
    limit: float = 0.0
    used: float = 0.0
    version: int = EXIT_RECORD_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """Serialise to one line of JSON."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ExitRecord:
        """Parse a record; raises SchedulerOutputError (raw text kept) if it is not one."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            data["signals_received"] = tuple(data.get("signals_received", ()))
            known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
            record = cls(**known)
            if not isinstance(record.returncode, int) or isinstance(record.returncode, bool):
                raise TypeError("returncode is not an int")
        except (ValueError, TypeError) as exc:
            raise SchedulerOutputError(f"not a worker exit record ({exc})", text) from exc
        return record


@dataclass(frozen=True, slots=True)
class StartRecord:
    """That a wrapped command started, and where.

    Attributes:
        distributor_id / array_step_id: the task's identity from ``DISTRIBUTOR_ID`` and
            ``DISTRIBUTOR_ARRAY_STEP_ID``.
        hostname / pid: where it runs (the wrapper's pid).
        started_at: wall-clock time of the start.
    """

    distributor_id: str | None
    array_step_id: int | None = None
    hostname: str = ""
    pid: int = 0
    started_at: float = 0.0

    def to_json(self) -> str:
        """Serialise to one line of JSON."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StartRecord:
        """Parse a record; raises SchedulerOutputError (raw text kept) if it is not one."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            record = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
            if record.distributor_id is not None and not isinstance(record.distributor_id, str):
                raise TypeError("distributor_id is not a string")
        except (ValueError, TypeError) as exc:
            raise SchedulerOutputError(f"not a worker start record ({exc})", text) from exc
        return record


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_exit_record(path: Path, record: ExitRecord) -> None:
    """Write `record` to `path` atomically (temporary file in the same directory, then rename)."""
    _write_atomically(path, record.to_json())


def write_start_record(path: Path, record: StartRecord) -> None:
    """Write `record` to `path` atomically."""
    _write_atomically(path, record.to_json())


def read_start_record(path: Path) -> StartRecord | None:
    """Return the start record at `path`, or None if there is none.

    Raises:
        SchedulerOutputError: the file exists but is not a start record.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return StartRecord.from_json(text)


def read_exit_record(path: Path) -> ExitRecord | None:
    """Return the record at `path`, or None if there is none (yet).

    Raises:
        SchedulerOutputError: the file exists but is not a record.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return ExitRecord.from_json(text)
