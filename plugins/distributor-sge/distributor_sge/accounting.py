"""Grid Engine accounting: parse ``qacct -j`` and turn its records into job statuses.

``qacct -j`` prints one block per record, separated by lines of ``=``::

    ==============================================================
    jobnumber    22
    taskid       1                        (``undefined`` for a job that is not an array)
    start_time   Tue Nov 24 10:47:01 2026 (``-/-`` if it never started)
    failed       37  : qmaster enforced h_rt, h_cpu, or h_vmem limit
    exit_status  137                  (Killed)
    ru_wallclock 3s
    ru_maxrss    187.980KB                (mis-scaled: really 187.980 MiB, see below)
    cpu          0.091s
    maxvmem      179.566MB

Facts this module encodes (Son of Grid Engine 8.1.9, verified on the dev cell):

* ``ru_maxrss`` is stored in KiB but printed as if it were bytes, so every printed figure is
  1024 times too small; `AccountingRecord.maxrss_bytes` is corrected.
* Scaled figures (``maxvmem``, ``io``) use powers of 1024.
* One task can have several records (an error attempt, then the real run); the last one
  printed is the latest.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass

from distributor import SchedulerOutputError
from distributor.batch import JobPhase, JobStatus

__all__ = [
    "AccountingRecord",
    "SgeJobStatus",
    "latest_records",
    "parse_qacct",
    "parse_scaled_bytes",
]

_SEPARATOR = re.compile(r"={10,}")
_LINE = re.compile(r"([a-z_]+)(?:\s+(.*?))?\s*")
_SCALED = re.compile(r"(\d+(?:\.\d+)?)([KMGTP]?)B")
_SCALE = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}
_SECONDS = re.compile(r"(\d+(?:\.\d+)?)s?")
_FAILED = re.compile(r"(\d+)\s*(?::\s*(.*))?")
_CTIME = re.compile(r"[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_REQUIRED = ("jobnumber", "taskid", "failed", "exit_status")


def parse_scaled_bytes(value: str) -> int:
    """Bytes of a figure qacct scaled for display (``308.281MB``, ``0.000B``).

    Raises:
        ValueError: not such a figure.
    """
    match = _SCALED.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not a scaled byte figure: {value!r}")
    return round(float(match.group(1)) * _SCALE[match.group(2)])


def _seconds(value: str) -> float:
    match = _SECONDS.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not a number of seconds: {value!r}")
    return float(match.group(1))


def _epoch(value: str) -> int | None:
    """Seconds of a ctime-style stamp as if it were UTC (only differences are used)."""
    match = _CTIME.fullmatch(value.strip())
    if match is None or match.group(1) not in _MONTHS:
        return None
    month = _MONTHS.index(match.group(1)) + 1
    day, hour, minute, second, year = (int(match.group(i)) for i in (2, 3, 4, 5, 6))
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))


@dataclass(frozen=True, slots=True)
class AccountingRecord:
    """One ``qacct`` record of a job or array task.

    Attributes:
        job: the job number; task: the array task (1-based), None for a job that is not an
            array.
        failed: Grid Engine's failure code (0 none, 37 a limit enforced by the qmaster,
            100 ended by a signal, 1-36 the shepherd failed before or around the job).
        failed_reason: the text qacct prints after the code.
        exit_status: the job script's exit status (128+N after signal N).
        wallclock_seconds / cpu_seconds: ``ru_wallclock`` and ``cpu``.
        maxvmem_bytes: peak virtual memory sampled by the execd (0 for jobs shorter than
            about a second).
        maxrss_bytes: peak resident memory, corrected for qacct's mis-scaling.
        elapsed_seconds: end_time - start_time, None if it never started.
        hostname / category: where it ran and its request (``-l h_rt=3``).
    """

    job: str
    task: int | None
    failed: int
    failed_reason: str
    exit_status: int
    wallclock_seconds: float | None = None
    cpu_seconds: float | None = None
    maxvmem_bytes: int | None = None
    maxrss_bytes: int | None = None
    elapsed_seconds: int | None = None
    hostname: str = ""
    category: str = ""

    @property
    def distributor_id(self) -> str:
        """``123`` or ``123.4``."""
        return self.job if self.task is None else f"{self.job}.{self.task}"

    def to_status(self) -> SgeJobStatus:
        """This record as the final status of its job."""
        signal = self.exit_status - 128 if self.exit_status > 128 and self.failed else None
        return SgeJobStatus(
            distributor_id=self.distributor_id,
            phase=JobPhase.FINAL,
            state=f"failed {self.failed}",
            reason=self.failed_reason,
            exit_code=self.exit_status,
            signal=signal,
            maxrss_bytes=self.maxrss_bytes,
            source="qacct",
            failed=self.failed,
            maxvmem_bytes=self.maxvmem_bytes,
            wallclock_seconds=self.wallclock_seconds,
            cpu_seconds=self.cpu_seconds,
            elapsed_seconds=self.elapsed_seconds,
            elapsed=self.wallclock_seconds,
            host=self.hostname or None,
        )


@dataclass(frozen=True, slots=True)
class SgeJobStatus(JobStatus):
    """A final status from accounting, with the figures the Grid Engine state map needs.

    Attributes:
        failed: qacct's failure code; maxvmem_bytes / wallclock_seconds / cpu_seconds /
        elapsed_seconds: as in `AccountingRecord`.
    """

    failed: int = 0
    maxvmem_bytes: int | None = None
    wallclock_seconds: float | None = None
    cpu_seconds: float | None = None
    elapsed_seconds: int | None = None


def _record(fields: dict[str, str]) -> AccountingRecord:
    missing = [name for name in _REQUIRED if name not in fields]
    if missing:
        raise ValueError(f"record without {', '.join(missing)}")
    job = fields["jobnumber"]
    if not job.isdigit():
        raise ValueError(f"jobnumber {job!r} is not a number")
    task_text = fields["taskid"]
    if task_text != "undefined" and not task_text.isdigit():
        raise ValueError(f"taskid {task_text!r} is neither a number nor 'undefined'")
    failed = _FAILED.fullmatch(fields["failed"])
    if failed is None:
        raise ValueError(f"failed {fields['failed']!r} does not start with a code")
    exit_match = re.match(r"(\d+)", fields["exit_status"])
    if exit_match is None:
        raise ValueError(f"exit_status {fields['exit_status']!r} is not a number")

    def optional(name: str) -> str | None:
        value = fields.get(name)
        return None if value in (None, "", "undefined", "NONE") else value

    wallclock = optional("ru_wallclock")
    cpu = optional("cpu")
    maxvmem = optional("maxvmem")
    maxrss = optional("ru_maxrss")
    start = _epoch(fields.get("start_time", ""))
    end = _epoch(fields.get("end_time", ""))
    return AccountingRecord(
        job=str(int(job)),
        task=None if task_text == "undefined" else int(task_text),
        failed=int(failed.group(1)),
        failed_reason=(failed.group(2) or "").strip(),
        exit_status=int(exit_match.group(1)),
        wallclock_seconds=_seconds(wallclock) if wallclock is not None else None,
        cpu_seconds=_seconds(cpu) if cpu is not None else None,
        maxvmem_bytes=parse_scaled_bytes(maxvmem) if maxvmem is not None else None,
        # qacct prints the KiB figure as bytes: undo its scaling, then KiB -> bytes
        maxrss_bytes=parse_scaled_bytes(maxrss) * 1024 if maxrss is not None else None,
        elapsed_seconds=end - start if start is not None and end is not None else None,
        hostname=fields.get("hostname", ""),
        category=fields.get("category", ""),
    )


def parse_qacct(text: str, argv: Sequence[str] = ()) -> list[AccountingRecord]:
    """Parse ``qacct -j`` output into its records, in the order printed.

    Raises:
        SchedulerOutputError: a line is not ``name value``, a record lacks jobnumber, taskid,
            failed or exit_status, or a figure has the wrong shape (raw text kept).
    """
    records: list[AccountingRecord] = []
    fields: dict[str, str] = {}

    def flush() -> None:
        if fields:
            try:
                records.append(_record(fields))
            except ValueError as exc:
                raise SchedulerOutputError(
                    f"unexpected qacct record ({exc})", text, argv=argv
                ) from exc
            fields.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if _SEPARATOR.fullmatch(stripped):
            flush()
            continue
        match = _LINE.fullmatch(stripped)
        if match is None:
            raise SchedulerOutputError(f"unexpected qacct line {line!r}", text, argv=argv)
        fields[match.group(1)] = match.group(2) or ""
    flush()
    return records


def latest_records(records: Sequence[AccountingRecord]) -> dict[str, AccountingRecord]:
    """Distributor id → its latest record (the last one printed wins)."""
    return {record.distributor_id: record for record in records}
