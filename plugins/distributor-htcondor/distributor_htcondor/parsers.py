"""Parsers of HTCondor command output: ``condor_submit``, ``condor_q``/``condor_history -json``,
``condor_q -af``, ``condor_rm``. Every parser either returns typed values or raises
`SchedulerOutputError` with the raw text.

Formats (HTCondor's own documentation and tool sources; see the plugin README):

* ``condor_submit`` prints ``Submitting job(s)...`` and, per cluster,
  ``N job(s) submitted to cluster C.``; the jobs are ``C.0`` .. ``C.(N-1)``.
* ``condor_q -json`` and ``condor_history -json`` print a JSON array of job ClassAds (one object
  per job, attribute name → value). Expressions that were not evaluated are strings of the form
  ``/Expr(...)/``. When nothing matches, condor_q prints nothing at all and condor_history an
  empty array (both recorded from HTCondor 23.9.6 and 25.14.1). After ``condor_rm`` of a held
  job, its ``HoldReason*`` attributes are gone and ``LastHoldReason*`` hold them (recorded).
  The accounting of a run (recorded from both versions; restarted jobs as published pools'
  ``condor_history`` shows them; ``CreateJobAd`` and the shadow's ``shutDown`` in HTCondor's
  sources): ``JobCurrentStartDate`` (epoch seconds; ``JobStartDate`` is the first run's),
  ``CompletionDate`` (0 until the job completes), ``LastRemoteWallClockTime`` (seconds of the
  latest run; ``RemoteWallClockTime`` sums every run), ``RemoteUserCpu`` + ``RemoteSysCpu``
  (0.0 from submission until a run ends) and the slot, ``slot1_1@host``: ``RemoteHost``
  while it runs, ``LastRemoteHost`` once the shadow has ended the run.
* ``condor_q -af:t ClusterId DistributorName Cmd`` prints one line per job: the values
  separated by a tab (``:t``; a space without it), strings unquoted, ``undefined`` for a
  missing attribute.
* ``condor_rm`` prints ``Job C.P marked for removal`` / ``All jobs in cluster C have been marked
  for removal`` on success and ``Job C.P not found`` / ``Couldn't find/remove all jobs in cluster
  C`` (a final period in the tool's source, none in the recordings) on standard error (exit
  status 1) for ids it does not have; with nothing at all in the queue, also
  ``condor_rm:0:There are no jobs in the queue`` (seen on 23.9.6).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from distributor import SchedulerOutputError
from distributor.batch import NamedJob

__all__ = [
    "ATTRIBUTES",
    "DISTRIBUTOR_ID",
    "JobAd",
    "job_id_parts",
    "job_key",
    "only_not_found",
    "parse_ads",
    "parse_named_jobs",
    "parse_submit",
    "slot_host",
]

DISTRIBUTOR_ID = re.compile(r"(?P<cluster>[1-9][0-9]{0,17})\.(?P<proc>0|[1-9][0-9]{0,8})")
"""A distributor id: HTCondor's ``cluster.proc`` job id."""

ATTRIBUTES = (
    "ClusterId",
    "ProcId",
    "JobStatus",
    "EnteredCurrentStatus",
    "HoldReason",
    "HoldReasonCode",
    "HoldReasonSubCode",
    "RemoveReason",
    "ExitBySignal",
    "ExitCode",
    "ExitSignal",
    "MemoryUsage",
    "ResidentSetSize",
    "RequestMemory",
    "RemoteWallClockTime",
    "LastJobStatus",
    "LastHoldReason",
    "LastHoldReasonCode",
    "LastHoldReasonSubCode",
    "JobCurrentStartDate",
    "JobStartDate",
    "CompletionDate",
    "LastRemoteWallClockTime",
    "RemoteUserCpu",
    "RemoteSysCpu",
    "RemoteHost",
    "LastRemoteHost",
)
"""The job ClassAd attributes asked for with ``-attributes`` (projection keeps replies small)."""

_SUBMITTED = re.compile(r"^\s*(\d+) job\(s\) submitted to cluster (\d+)\.\s*$", re.MULTILINE)
_NOT_FOUND = re.compile(
    r"^(Job \d+\.\d+ not found"
    r"|Couldn't find/remove all jobs in cluster \d+\.?"
    r"|Job \d+\.\d+ (already )?marked for removal"
    r"|All jobs in cluster \d+ have been marked for removal"
    r"|Cluster \d+ has been marked for removal\.?"
    r"|No result found for job \d+\.\d+"
    r"|condor_rm:\d+:There are no jobs in the queue)$"
)


def job_id_parts(distributor_id: str) -> tuple[int, int] | None:
    """``(cluster, proc)`` of a ``cluster.proc`` id, or None if it is not one."""
    match = DISTRIBUTOR_ID.fullmatch(distributor_id)
    if match is None:
        return None
    return int(match["cluster"]), int(match["proc"])


def job_key(distributor_id: str) -> str | None:
    """The cluster id an id belongs to (the submit-root index key), or None."""
    parts = job_id_parts(distributor_id)
    return None if parts is None else str(parts[0])


@dataclass(frozen=True, slots=True)
class JobAd:
    """The attributes of one job ClassAd that the state map uses (None: not in the ad).

    Attributes:
        cluster / proc: ``ClusterId`` and ``ProcId``.
        status: ``JobStatus`` (1 Idle, 2 Running, 3 Removed, 4 Completed, 5 Held,
            6 Transferring Output, 7 Suspended).
        hold_reason / hold_code / hold_subcode: ``HoldReason``, ``HoldReasonCode``,
            ``HoldReasonSubCode``; for a job removed while it was held (``LastJobStatus`` 5),
            ``LastHoldReason``, ``LastHoldReasonCode``, ``LastHoldReasonSubCode``.
        remove_reason: ``RemoveReason``.
        exit_by_signal / exit_code / exit_signal: ``ExitBySignal``, ``ExitCode``, ``ExitSignal``.
        memory_usage_mb / resident_set_kb / request_memory_mb: ``MemoryUsage`` (MiB),
            ``ResidentSetSize`` (KiB) and ``RequestMemory`` (MiB) when they are numbers.
        wall_seconds: ``RemoteWallClockTime`` (every run together).
        run_seconds: ``LastRemoteWallClockTime`` (the latest run).
        cpu_seconds: ``RemoteUserCpu`` + ``RemoteSysCpu``.
        started_at: ``JobCurrentStartDate``, else ``JobStartDate`` (epoch seconds; None
            before the job first started).
        completed_at: ``CompletionDate`` (None while it is 0: the job has not completed).
        entered_status_at: ``EnteredCurrentStatus``.
        host: the host of ``RemoteHost``, else of ``LastRemoteHost`` (the slot name's part
            after the last ``@``).
        in_run: ``RemoteHost`` is set: a run is in progress, or being stopped (a job removed
            while it ran stays listed by condor_q, ``JobStatus`` 3, until its exit is recorded).
        source: the command that reported it.
    """

    cluster: int
    proc: int
    status: int
    hold_reason: str = ""
    hold_code: int | None = None
    hold_subcode: int | None = None
    remove_reason: str = ""
    exit_by_signal: bool = False
    exit_code: int | None = None
    exit_signal: int | None = None
    memory_usage_mb: int | None = None
    resident_set_kb: int | None = None
    request_memory_mb: int | None = None
    wall_seconds: float | None = None
    run_seconds: float | None = None
    cpu_seconds: float | None = None
    started_at: float | None = None
    completed_at: float | None = None
    entered_status_at: float | None = None
    host: str | None = None
    in_run: bool = False
    source: str = ""

    @property
    def distributor_id(self) -> str:
        """``cluster.proc``."""
        return f"{self.cluster}.{self.proc}"

    @property
    def peak_bytes(self) -> int | None:
        """The larger of ``MemoryUsage`` and ``ResidentSetSize``, in bytes, if either is known."""
        peaks = [
            value
            for value in (
                None if self.memory_usage_mb is None else self.memory_usage_mb * 2**20,
                None if self.resident_set_kb is None else self.resident_set_kb * 1024,
            )
            if value is not None
        ]
        return max(peaks) if peaks else None


def parse_submit(stdout: str, argv: Sequence[str] = ()) -> tuple[int, int]:
    """``(cluster, number of jobs)`` from ``condor_submit`` output.

    Raises:
        SchedulerOutputError: no ``N job(s) submitted to cluster C.`` line, or more than one
            cluster (the plugin submits one cluster per description).
    """
    found = _SUBMITTED.findall(stdout)
    if len(found) != 1:
        what = "no" if not found else "more than one"
        raise SchedulerOutputError(
            f"condor_submit printed {what} 'N job(s) submitted to cluster C.' line",
            stdout,
            argv=argv,
        )
    count, cluster = (int(value) for value in found[0])
    if cluster < 1 or count < 1:
        raise SchedulerOutputError(
            f"condor_submit reported cluster {cluster} with {count} jobs", stdout, argv=argv
        )
    return cluster, count


def _integer(ad: Mapping[str, Any], name: str) -> int | None:
    value = ad.get(name)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None  # absent, undefined, or an unevaluated expression such as "/Expr(...)/"


def _seconds(ad: Mapping[str, Any], name: str) -> float | None:
    """A non-negative, finite number of seconds; None for anything else."""
    value = ad.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float: no figure a pool could mean
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _date(ad: Mapping[str, Any], name: str) -> float | None:
    """An epoch date; None when absent, unreadable or 0 (HTCondor's "not yet")."""
    value = _seconds(ad, name)
    return value if value else None


def _cpu(ad: Mapping[str, Any]) -> float | None:
    user, system = _seconds(ad, "RemoteUserCpu"), _seconds(ad, "RemoteSysCpu")
    return None if user is None or system is None else round(user + system, 6)


_SLOT_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def slot_host(slot: str) -> str | None:
    """The host of a slot name (``vm`` of ``slot1_1@vm``; a name without ``@`` is a host
    already); None when what is left is not a host name."""
    host = slot.rpartition("@")[2]
    return host if _SLOT_HOST.fullmatch(host) else None


def _host(ad: Mapping[str, Any]) -> str | None:
    for name in ("RemoteHost", "LastRemoteHost"):
        slot = _text(ad, name)
        if slot:
            return slot_host(slot)
    return None


def _text(ad: Mapping[str, Any], name: str) -> str:
    value = ad.get(name)
    if not isinstance(value, str) or value.startswith("/Expr("):
        return ""
    return value


def _ad(raw: Any, source: str) -> JobAd:
    if not isinstance(raw, dict):
        raise TypeError(f"expected a job ClassAd object, got {type(raw).__name__}")
    cluster, proc, status = (_integer(raw, key) for key in ("ClusterId", "ProcId", "JobStatus"))
    if cluster is None or proc is None or status is None:
        raise TypeError("a job ClassAd lacks an integer ClusterId, ProcId or JobStatus")
    if cluster < 1 or proc < 0:
        raise TypeError(f"impossible job id {cluster}.{proc}")
    # condor_rm of a held job moves HoldReason* to LastHoldReason*: the hold is why it ended
    hold = "LastHoldReason" if status == 3 and _integer(raw, "LastJobStatus") == 5 else "HoldReason"
    return JobAd(
        cluster=cluster,
        proc=proc,
        status=status,
        hold_reason=_text(raw, hold),
        hold_code=_integer(raw, f"{hold}Code"),
        hold_subcode=_integer(raw, f"{hold}SubCode"),
        remove_reason=_text(raw, "RemoveReason"),
        exit_by_signal=raw.get("ExitBySignal") is True,
        exit_code=_integer(raw, "ExitCode"),
        exit_signal=_integer(raw, "ExitSignal"),
        memory_usage_mb=_integer(raw, "MemoryUsage"),
        resident_set_kb=_integer(raw, "ResidentSetSize"),
        request_memory_mb=_integer(raw, "RequestMemory"),
        wall_seconds=_seconds(raw, "RemoteWallClockTime"),
        run_seconds=_seconds(raw, "LastRemoteWallClockTime"),
        cpu_seconds=_cpu(raw),
        started_at=_date(raw, "JobCurrentStartDate") or _date(raw, "JobStartDate"),
        completed_at=_date(raw, "CompletionDate"),
        entered_status_at=_date(raw, "EnteredCurrentStatus"),
        host=_host(raw),
        in_run=bool(_text(raw, "RemoteHost")),
        source=source,
    )


def parse_ads(text: str, argv: Sequence[str] = (), *, source: str = "") -> dict[str, JobAd]:
    """Job ads by ``cluster.proc`` from ``condor_q -json`` or ``condor_history -json`` output.

    When an id appears twice (``condor_history`` lists newest first), the first ad wins.

    Raises:
        SchedulerOutputError: the text is not a JSON array of job ClassAds with integer
            ``ClusterId``, ``ProcId`` and ``JobStatus`` (raw text kept).
    """
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
        if not isinstance(data, list):
            raise TypeError(f"expected a JSON array of ClassAds, got {type(data).__name__}")
        ads: dict[str, JobAd] = {}
        for raw in data:
            ad = _ad(raw, source)
            ads.setdefault(ad.distributor_id, ad)
    except (ValueError, TypeError, RecursionError) as exc:
        program = source or "HTCondor"
        raise SchedulerOutputError(
            f"{program} -json output is not a list of job ClassAds ({exc})", text, argv=argv
        ) from exc
    return ads


_NAMED_LINE = re.compile(r"\t?(?P<cluster>[1-9][0-9]{0,17})\t(?P<name>[^\t]+)\t(?P<path>.+)")


def parse_named_jobs(stdout: str, argv: Sequence[str] = ()) -> list[NamedJob]:
    """Clusters from ``condor_q -af:t ClusterId DistributorName Cmd`` (one line per job), each
    once, oldest (lowest cluster id) first, with the path of its executable (None where it is
    ``undefined``). A name never holds a tab (no tab is looked up); a path may.

    Raises:
        SchedulerOutputError: a line is not ``<cluster id>\\t<name>\\t<path>``.
    """
    found: dict[int, NamedJob] = {}
    for number, line in enumerate(stdout.splitlines(), 1):
        if not line.strip():
            continue
        match = _NAMED_LINE.fullmatch(line)
        if match is None:
            raise SchedulerOutputError(
                f"condor_q -af:t line {number} is not '<cluster id>\\t<name>\\t<path>': {line!r}",
                stdout,
                argv=argv,
            )
        cluster, path = int(match["cluster"]), match["path"]
        named = NamedJob(str(cluster), match["name"], None if path == "undefined" else path)
        found.setdefault(cluster, named)
    return [found[cluster] for cluster in sorted(found)]


def only_not_found(stderr: str, stdout: str = "") -> bool:
    """True if ``condor_rm`` failed only because some ids were not (any longer) in the queue."""
    lines = [line.strip() for line in f"{stderr}\n{stdout}".splitlines() if line.strip()]
    return bool(lines) and all(_NOT_FOUND.match(line) for line in lines)
