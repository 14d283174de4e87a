"""Parsers for what Grid Engine's clients print: qsub, qstat, qdel, qconf and qhost.

Every parser takes the raw text and returns typed values; text without the expected shape raises
`SchedulerOutputError` carrying the complete raw text. Accounting (``qacct``) has its own module,
`distributor_sge.accounting`.

Distributor ids are the job number (``123``) for single jobs and ``<job>.<task>`` (``123.4``) for
array tasks, where ``task`` is Grid Engine's own **1-based** ``SGE_TASK_ID`` — the spelling
``qdel`` and ``qstat -j`` accept. Array step ``s`` (0-based) of a chunk starting at step ``offset``
is task ``s - offset + 1``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from distributor import SchedulerOutputError
from distributor.batch import NamedJob

__all__ = [
    "DISTRIBUTOR_ID",
    "HostShape",
    "QstatEntry",
    "TaskRange",
    "complex_defaults",
    "format_task_ranges",
    "job_key",
    "parse_complexes",
    "parse_error_reasons",
    "parse_key_values",
    "parse_named_jobs",
    "parse_qhost",
    "parse_qstat",
    "parse_qsub",
    "parse_sge_memory",
    "parse_sge_time",
    "parse_task_ranges",
    "split_id",
]

DISTRIBUTOR_ID = re.compile(r"(?P<job>[1-9][0-9]{0,11})(?:\.(?P<task>[1-9][0-9]{0,8}))?")
"""A distributor id this plugin issues: ``123`` or ``123.4`` (task ids are 1-based)."""

_QSUB = re.compile(r"(\d+)(?:\.\d+-\d+:\d+)?")
_TASK_ITEM = re.compile(r"(\d+)(?:-(\d+)(?::(\d+))?)?")
_MEMORY = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([kKmMgGtTpP]?)")
_MEMORY_SCALE: dict[str, int] = {
    "": 1,
    **{unit: 1000 ** (power + 1) for power, unit in enumerate("kmgtp")},
    **{unit: 1024 ** (power + 1) for power, unit in enumerate("KMGTP")},
}
_CLOCK = re.compile(r"(\d+):(\d+):(\d+)")
_UNLIMITED = {"INFINITY", "NONE", "UNDEFINED", ""}
_ERROR_REASON = re.compile(r"error reason\s+(\d+):\s*(.*)")
_MAX_TASKS = 10_000_000


def job_key(distributor_id: str) -> str | None:
    """The job number a distributor id belongs to (``123`` for ``123.4``), or None if the text
    is not an id this plugin issues."""
    match = DISTRIBUTOR_ID.fullmatch(distributor_id)
    return match["job"] if match else None


def split_id(distributor_id: str) -> tuple[str, int | None] | None:
    """``("123", 4)`` for ``123.4``, ``("123", None)`` for ``123``, None for anything else."""
    match = DISTRIBUTOR_ID.fullmatch(distributor_id)
    if match is None:
        return None
    return match["job"], int(match["task"]) if match["task"] else None


def parse_qsub(stdout: str, argv: Sequence[str] = ()) -> str:
    """The job number from ``qsub -terse`` output (``123``, or ``161.1-5:1`` for an array)."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    match = _QSUB.fullmatch(lines[-1]) if lines else None
    if match is None:
        raise SchedulerOutputError("qsub -terse printed no job number", stdout, argv=argv)
    return match.group(1)


@dataclass(frozen=True, slots=True)
class TaskRange:
    """Array tasks ``first..last`` (inclusive) every ``step``, as qstat prints ``3-9:2``."""

    first: int
    last: int
    step: int = 1

    def __contains__(self, task: object) -> bool:
        return (
            isinstance(task, int)
            and self.first <= task <= self.last
            and (task - self.first) % self.step == 0
        )

    def as_range(self) -> range:
        """The tasks as a `range`."""
        return range(self.first, self.last + 1, self.step)


def parse_task_ranges(text: str) -> tuple[TaskRange, ...]:
    """Parse qstat's task list (``1``, ``3-6:1``, ``1,4-8:2``) into ranges.

    Raises:
        ValueError: the text is not a task list (callers wrap it with the raw output).
    """
    ranges = []
    for item in text.split(","):
        match = _TASK_ITEM.fullmatch(item.strip())
        if match is None:
            raise ValueError(f"not a task list item: {item!r}")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        step = int(match.group(3)) if match.group(3) else 1
        if first < 1 or last < first or step < 1 or last > _MAX_TASKS:
            raise ValueError(f"impossible task range: {item!r}")
        ranges.append(TaskRange(first, last, step))
    return tuple(ranges)


def format_task_ranges(ranges: Iterable[TaskRange]) -> str:
    """The inverse of `parse_task_ranges` (single tasks as ``N``, ranges as ``A-B:S``)."""
    return ",".join(
        str(r.first) if r.first == r.last else f"{r.first}-{r.last}:{r.step}" for r in ranges
    )


@dataclass(frozen=True, slots=True)
class QstatEntry:
    """One ``<job_list>`` element of ``qstat -xml``.

    Attributes:
        job: the job number.
        state: Grid Engine's state letters (``qw``, ``r``, ``Eqw``, ``hqw``, ``dr``, ...).
        tasks: the array tasks it stands for; None for a job that is not an array.
        queue: the queue instance (``all.q@host``), empty while pending.
    """

    job: str
    state: str
    tasks: tuple[TaskRange, ...] | None = None
    queue: str = ""


def _parse_xml(text: str, argv: Sequence[str], what: str) -> ET.Element:
    if "<!" in text:  # qstat/qhost never print DTDs; refusing them rules out entity expansion
        raise SchedulerOutputError(f"{what} contains a DTD or entity declaration", text, argv=argv)
    try:
        return ET.fromstring(text)  # noqa: S314 - DTDs refused above
    except ET.ParseError as exc:
        raise SchedulerOutputError(
            f"{what} is not well-formed XML ({exc})", text, argv=argv
        ) from exc


def _qstat_jobs(text: str, argv: Sequence[str]) -> list[tuple[str, ET.Element]]:
    """The ``<job_list>`` elements of ``qstat -xml`` with their job numbers."""
    root = _parse_xml(text, argv, "qstat -xml output")
    if root.tag != "job_info":
        raise SchedulerOutputError(
            f"qstat -xml output has root <{root.tag}>, not <job_info>", text, argv=argv
        )
    jobs = []
    for element in root.iter("job_list"):
        job = (element.findtext("JB_job_number") or "").strip()
        if not job.isdigit():
            raise SchedulerOutputError(
                f"qstat -xml job entry without a job number (job {job!r})", text, argv=argv
            )
        jobs.append((str(int(job)), element))
    return jobs


def parse_qstat(text: str, argv: Sequence[str] = ()) -> list[QstatEntry]:
    """Parse ``qstat -xml`` into its job entries (running ones first, as printed).

    Raises:
        SchedulerOutputError: not qstat's XML, or an entry without job number or state.
    """
    entries = []
    for job, element in _qstat_jobs(text, argv):
        state = (element.findtext("state") or "").strip()
        if not state:
            raise SchedulerOutputError(
                f"qstat -xml entry of job {job} without a state", text, argv=argv
            )
        tasks_text = element.findtext("tasks")
        try:
            tasks = parse_task_ranges(tasks_text.strip()) if tasks_text is not None else None
        except ValueError as exc:
            raise SchedulerOutputError(f"qstat -xml: {exc}", text, argv=argv) from exc
        queue = (element.findtext("queue_name") or "").strip()
        entries.append(QstatEntry(job, state, tasks, queue))
    return entries


def parse_named_jobs(text: str, argv: Sequence[str] = ()) -> list[NamedJob]:
    """The jobs ``qstat -xml`` lists, once per job number (the entries of an array's tasks
    share it) with the job's name exactly as Grid Engine shows it, oldest (lowest job
    number) first.

    Raises:
        SchedulerOutputError: not qstat's XML, or an entry without job number or name.
    """
    found: dict[int, NamedJob] = {}
    for job, element in _qstat_jobs(text, argv):
        name = element.findtext("JB_name")
        if name is None:
            raise SchedulerOutputError(
                f"qstat -xml entry of job {job} without a name (JB_name)", text, argv=argv
            )
        found.setdefault(int(job), NamedJob(job, name))
    return [found[number] for number in sorted(found)]


def parse_error_reasons(text: str) -> dict[str, dict[int, str]]:
    """The ``error reason`` lines of ``qstat -j JOB[,JOB...]``: job → task → reason.

    A job that is not an array reports its reason under task 1. Lines that are not error
    reasons are ignored (the output is long and its other fields are not needed).
    """
    reasons: dict[str, dict[int, str]] = {}
    job = ""
    for line in text.splitlines():
        if line.startswith("job_number:"):
            job = line.partition(":")[2].strip()
            continue
        match = _ERROR_REASON.match(line)
        if match and job:
            reasons.setdefault(job, {})[int(match.group(1))] = match.group(2).strip()
    return reasons


def parse_key_values(text: str, argv: Sequence[str] = ()) -> dict[str, str]:
    """Parse qconf's ``name value`` listings (``-sq``, ``-sp``, ``-sconf``, ``-se``).

    Continuation lines (a trailing backslash) are joined; ``#`` lines are skipped.

    Raises:
        SchedulerOutputError: a line has no name, or the text has no settings at all.
    """
    joined = re.sub(r"\\\n\s*", "", text)
    settings: dict[str, str] = {}
    for line in joined.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace():
            raise SchedulerOutputError(
                f"qconf output line without a name: {line!r}", text, argv=argv
            )
        name, _, value = line.partition(" ")
        settings[name.strip()] = value.strip()
    if not settings:
        raise SchedulerOutputError("qconf printed no settings", text, argv=argv)
    return settings


def parse_sge_memory(value: str) -> int | None:
    """Bytes of a Grid Engine memory value (``12052M``, ``1.5G``, ``512k``); None for
    ``INFINITY``/``NONE``.

    Upper-case suffixes are powers of 1024, lower-case ones powers of 1000 (sge_types(1)).

    Raises:
        ValueError: not a memory value.
    """
    text = value.strip()
    if text.upper() in _UNLIMITED:
        return None
    match = _MEMORY.fullmatch(text)
    if match is None:
        raise ValueError(f"not a Grid Engine memory value: {value!r}")
    return round(float(match.group(1)) * _MEMORY_SCALE[match.group(2)])


def parse_sge_time(value: str) -> int | None:
    """Seconds of a Grid Engine time value (``48:00:00``, ``0:0:3``, ``3600``); None for
    ``INFINITY``.

    Raises:
        ValueError: not a time value.
    """
    text = value.strip()
    if text.upper() in _UNLIMITED:
        return None
    if text.isdigit():
        return int(text)
    match = _CLOCK.fullmatch(text)
    if match is None:
        raise ValueError(f"not a Grid Engine time value: {value!r}")
    hours, minutes, seconds = (int(part) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def parse_complexes(text: str, argv: Sequence[str] = ()) -> dict[str, dict[str, str]]:
    """Parse ``qconf -sc`` (the complex table): name → column → value.

    Raises:
        SchedulerOutputError: a row does not have the eight columns of the table.
    """
    columns = (
        "name",
        "shortcut",
        "type",
        "relop",
        "requestable",
        "consumable",
        "default",
        "urgency",
    )
    table: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split()
        if len(cells) != len(columns):
            raise SchedulerOutputError(
                f"qconf -sc row without {len(columns)} columns: {line!r}", text, argv=argv
            )
        table[cells[0]] = dict(zip(columns, cells, strict=True))
    if not table:
        raise SchedulerOutputError("qconf -sc printed no complexes", text, argv=argv)
    return table


def complex_defaults(table: Mapping[str, Mapping[str, str]], name: str) -> int | None:
    """The default request (bytes) of memory complex `name`, if it is a consumable with one."""
    row = table.get(name)
    if row is None or row.get("consumable", "NO").upper() not in {"YES", "JOB"}:
        return None
    try:
        default = parse_sge_memory(row.get("default", "0"))
    except ValueError:
        return None
    return default or None


@dataclass(frozen=True, slots=True)
class HostShape:
    """An execution host as ``qhost -q -xml`` shows it.

    Attributes:
        name: the host name; memory_bytes: its ``mem_total`` (None if unknown);
        cpus: its ``num_proc``; slots: queue name → slots of that queue on this host;
        states: queue name → the queue instance's state letters (empty when usable).
    """

    name: str
    memory_bytes: int | None
    cpus: int | None
    slots: Mapping[str, int]
    states: Mapping[str, str]


def parse_qhost(text: str, argv: Sequence[str] = ()) -> list[HostShape]:
    """Parse ``qhost -q -xml`` into the execution hosts (the ``global`` pseudo-host is skipped).

    Raises:
        SchedulerOutputError: not qhost's XML, or a value of the wrong shape.
    """
    root = _parse_xml(text, argv, "qhost -xml output")
    if root.tag != "qhost":
        raise SchedulerOutputError(
            f"qhost -xml output has root <{root.tag}>, not <qhost>", text, argv=argv
        )
    hosts = []
    for host in root.findall("host"):
        name = host.get("name", "")
        if name == "global":
            continue
        values = {v.get("name", ""): (v.text or "").strip() for v in host.findall("hostvalue")}
        slots: dict[str, int] = {}
        states: dict[str, str] = {}
        try:
            memory = values.get("mem_total", "-")
            cpus = values.get("num_proc", "-")
            for queue in host.findall("queue"):
                qvalues = {
                    v.get("name", ""): (v.text or "").strip() for v in queue.findall("queuevalue")
                }
                qname = queue.get("name", "")
                slots[qname] = int(qvalues.get("slots", "0"))
                states[qname] = qvalues.get("state_string", "")
            hosts.append(
                HostShape(
                    name,
                    None if memory in {"-", ""} else parse_sge_memory(memory),
                    None if cpus in {"-", ""} else int(cpus),
                    slots,
                    states,
                )
            )
        except ValueError as exc:
            raise SchedulerOutputError(f"qhost -xml: {exc}", text, argv=argv) from exc
    return hosts
