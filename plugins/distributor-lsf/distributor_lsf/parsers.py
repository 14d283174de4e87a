"""Parsers for what IBM Spectrum LSF 10.1's commands print: bsub, bjobs -json, bhist -l, bqueues -l.

Every parser takes the raw text and returns typed values; text without the expected shape
raises `SchedulerOutputError` carrying the complete raw text. Formats (see the README for the
documents they were written from):

* ``bsub``: ``Job <123> is submitted to queue <normal>.`` (or ``to default queue <normal>``).
* ``bjobs -o "jobid jobindex stat ..." -json``: ``{"COMMAND":"bjobs","JOBS":n,"RECORDS":[...]}``,
  one record per job or array element, every value a string; an id bjobs does not know gives
  a record ``{"JOBID":"123","ERROR":"Job <123> is not found"}``. The run's accounting
  (``RUN_TIME``, ``CPU_USED``, ``EXEC_HOST``) is read by `distributor_lsf.accounting`.
* ``bjobs -a -o "jobid jobindex job_name" -json`` (no ids: all of the user's jobs): the same
  records; an array element's ``JOB_NAME`` is the array's name with its index
  (``name[4]``). Without any job, bjobs may print ``No job found`` on standard error instead.
* ``bparams -a``: ``NAME = value`` lines, among them ``MAX_JOB_ARRAY_SIZE = 1000``.
* ``bhist -l``: one block per job (``Job <123[4]>, ...``) separated by dashed lines, events
  prefixed by a time stamp, lines wrapped at 79 columns with 21-space continuation indents,
  and a closing ``PEND PSUSP RUN USUSP SSUSP UNKWN TOTAL`` table of seconds per state.
* ``bqueues -l``: ``QUEUE: name`` sections with ``DEFAULT LIMITS:``/``MAXIMUM LIMITS:`` blocks of
  column-aligned limit names over their values.

Distributor ids are the job id (``123``) or, for array elements, ``<job id>[<index>]``
(``123[4]``, LSF's own notation; indices are 1-based).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from distributor import SchedulerOutputError
from distributor.batch import JobPhase, JobStatus, NamedJob
from distributor_lsf import accounting
from distributor_lsf.states import TERMINATION_REASONS, phase_of

__all__ = [
    "BJOBS_FIELDS",
    "BJOBS_FORMAT",
    "DISTRIBUTOR_ID",
    "NAMED_FORMAT",
    "BjobsResult",
    "QueueInfo",
    "job_key",
    "not_found_only",
    "parse_bhist",
    "parse_bjobs",
    "parse_bparams",
    "parse_bqueues",
    "parse_bsub",
    "parse_memory",
    "parse_named_jobs",
    "termination_reason",
    "unwrap",
]

DISTRIBUTOR_ID = re.compile(r"(?P<job>[1-9][0-9]{0,11})(?:\[(?P<index>[1-9][0-9]{0,8})\])?")
"""A distributor id this plugin issues: ``123`` or ``123[4]``."""

BJOBS_FIELDS = (
    "jobid",
    "jobindex",
    "stat",
    "exit_code",
    "exit_reason",
    "kill_reason",
    "max_mem",
    "pend_reason",
    "run_time",
    "cpu_used",
    "exec_host",
)
BJOBS_FORMAT = " ".join(BJOBS_FIELDS)
"""``bjobs -o`` value: the fields the status parser reads (JSON keys are their upper case)."""

NAMED_FORMAT = "jobid jobindex job_name"
"""``bjobs -o`` value of the lookup by job name (`parse_named_jobs`)."""

_BSUB = re.compile(r"Job <(?P<job>\d+)> is submitted to (?:default )?queue <(?P<queue>[^<>]*)>\.")
_NOT_FOUND = re.compile(r"Job <[^<>]*> is not found")
_NO_JOB = re.compile(r"No (?:unfinished )?job found")
_TERM = re.compile(r"\bTERM_[A-Z_]+\b")
_MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGTPEZ]?)(?:B|bytes|byte)?", re.IGNORECASE)
_UNITS = {
    "": 1,
    "K": 1024,
    "M": 1024**2,
    "G": 1024**3,
    "T": 1024**4,
    "P": 1024**5,
    "E": 1024**6,
    "Z": 1024**7,
}
_DESCRIPTIONS = {text.lower(): key for key, text in TERMINATION_REASONS.items()}
_EMPTY = {"", "-"}
_CONTINUATION = " " * 21
_SEPARATOR = re.compile(r"-{20,}\s*")
_EVENT = re.compile(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d(?: \d{4})?: (?P<text>.*)")
_BHIST_JOB = re.compile(r"Job <(?P<id>\d+(?:\[\d+\])?)>")
_SUMMARY_HEADER = re.compile(r"\s*PEND\s+PSUSP\s+RUN\s+USUSP\s+SSUSP\s+UNKWN\s+TOTAL\s*")
_MINUTES = re.compile(r"(\d+(?:\.\d+)?)\s*min\b")
_LIMIT_NAME = re.compile(r"[A-Z][A-Z_]*LIMIT")
_ELEMENT_NAME = re.compile(r"(?P<name>.*)\[[1-9][0-9]{0,8}\]", re.DOTALL)
_PARAMETER = re.compile(r"\s*(?P<name>[A-Z][A-Z0-9_]*)\s*=\s*(?P<value>.*?)\s*")


def job_key(distributor_id: str) -> str | None:
    """The LSF job id a distributor id belongs to (``123`` for ``123[4]``), or None if the
    text is not an id this plugin issues."""
    match = DISTRIBUTOR_ID.fullmatch(distributor_id)
    return match["job"] if match else None


def parse_bsub(stdout: str, argv: Sequence[str] = ()) -> tuple[str, str]:
    """``(job id, queue)`` from bsub's ``Job <123> is submitted to queue <normal>.``

    Raises:
        SchedulerOutputError: no such line.
    """
    match = _BSUB.search(stdout)
    if match is None:
        raise SchedulerOutputError(
            "bsub printed no 'Job <id> is submitted' line", stdout, argv=argv
        )
    return match["job"], match["queue"]


def parse_memory(text: str, default_unit: str = "K") -> int | None:
    """An LSF memory amount in bytes: ``152 Mbytes``, ``2 G``, ``100MB``, ``1.5 GB``; a bare
    number is in `default_unit` (KB unless ``LSF_UNIT_FOR_LIMITS`` says otherwise). None for
    an empty field or ``-``.

    Raises:
        ValueError: anything else.
    """
    text = text.strip()
    if text in _EMPTY:
        return None
    match = _MEMORY.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not an amount of memory")
    unit = match.group(2).upper() or default_unit.upper()[:1]
    return math.ceil(float(match.group(1)) * _UNITS[unit])


def termination_reason(*texts: str) -> str:
    """The ``TERM_*`` keyword in exit/kill-reason texts (the keyword itself, or IBM's
    description of it); ``""`` if none is recognised."""
    for text in texts:
        found = _TERM.search(text)
        if found and found.group(0) in TERMINATION_REASONS:
            return found.group(0)
        key = _DESCRIPTIONS.get(text.strip().rstrip(".;").lower())
        if key is not None:
            return key
    return ""


@dataclass(frozen=True, slots=True)
class BjobsResult:
    """What one ``bjobs -json`` call said.

    Attributes:
        statuses: distributor id → status, for every record without an error.
        missing: ids bjobs reported as not found.
        errors: id → error text, for records with any other error.
    """

    statuses: dict[str, JobStatus] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise ValueError(f"{key} is {type(value).__name__}, not a string")
    return str(value).strip()


def _index(record: Mapping[str, Any]) -> str:
    """The record's JOBINDEX, "" outside arrays (LSF prints 0 there)."""
    index = _text(record, "JOBINDEX")
    return "" if index in ("", "0") else index


def _record_id(record: Mapping[str, Any]) -> str:
    job = _text(record, "JOBID")
    index = _index(record)
    candidate = job if "[" in job or not index else f"{job}[{index}]"
    if DISTRIBUTOR_ID.fullmatch(candidate) is None:
        raise ValueError(f"JOBID {job!r} / JOBINDEX {index!r} is not a job id")
    return candidate


def _lenient(record: Mapping[str, Any], key: str) -> str:
    """A field whose value may be anything: its text, or "" when it is not a string."""
    value = record.get(key)
    return value.strip() if isinstance(value, str) else ""


def _accounting(record: Mapping[str, Any]) -> dict[str, Any]:
    """A final record's run: elapsed ``RUN_TIME``, CPU ``CPU_USED`` and the first host of
    ``EXEC_HOST``; nothing for a job that never ran (no host, no run time)."""
    elapsed = accounting.parse_seconds(_lenient(record, "RUN_TIME"))
    host = accounting.first_host(_lenient(record, "EXEC_HOST"))
    if host is None and not elapsed:
        return {}
    cpu = accounting.parse_seconds(_lenient(record, "CPU_USED"))
    return {"elapsed": elapsed, "cpu_seconds": cpu, "host": host}


def _exit_code(text: str) -> int | None:
    if text in _EMPTY:
        return None
    if not text.isdigit():
        raise ValueError(f"EXIT_CODE {text!r} is not a number")
    return int(text)


def _bjobs_status(record: Mapping[str, Any]) -> JobStatus:
    distributor_id = _record_id(record)
    state = _text(record, "STAT")
    if not re.fullmatch(r"[A-Z]{2,10}", state):
        raise ValueError(f"STAT {state!r} is not an LSF job state")
    phase = phase_of(state)
    run: dict[str, Any] = {}
    if phase is JobPhase.FINAL:
        reason = termination_reason(_text(record, "EXIT_REASON"), _text(record, "KILL_REASON"))
        code = _exit_code(_text(record, "EXIT_CODE"))
        if code is None and state == "DONE":
            code = 0
        run = _accounting(record)
    else:
        pending = _text(record, "PEND_REASON")
        reason = "" if pending in _EMPTY else pending
        code = None
    return JobStatus(
        distributor_id,
        phase,
        state,
        reason=reason,
        exit_code=code,
        maxrss_bytes=parse_memory(_text(record, "MAX_MEM")),
        source="bjobs",
        **run,
    )


def parse_bjobs(text: str, argv: Sequence[str] = ()) -> BjobsResult:
    """Parse ``bjobs -o BJOBS_FORMAT -json`` output.

    Raises:
        SchedulerOutputError: not JSON of that shape, or a record without a usable JOBID/STAT.
    """
    try:
        result = BjobsResult()
        for record in _bjobs_records(text):
            error = _text(record, "ERROR")
            if error:
                token = _text(record, "JOBID") or "?"
                if _NOT_FOUND.search(error):
                    result.missing.append(token)
                else:
                    result.errors[token] = error
                continue
            status = _bjobs_status(record)
            result.statuses[status.distributor_id] = status
    except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
        raise SchedulerOutputError(
            f"unexpected bjobs -json output ({exc})", text, argv=argv
        ) from exc
    return result


def _bjobs_records(text: str) -> list[dict[str, Any]]:
    """The records of a ``bjobs -json`` document, with a ValueError for any other shape."""
    document = json.loads(text)
    if not isinstance(document, dict) or not isinstance(document.get("RECORDS"), list):
        raise ValueError("no RECORDS list")
    records = [record for record in document["RECORDS"] if isinstance(record, dict)]
    if len(records) != len(document["RECORDS"]):
        raise ValueError("a record is not an object")
    return records


def parse_named_jobs(text: str, argv: Sequence[str] = ()) -> list[NamedJob]:
    """Parse ``bjobs -a -o NAMED_FORMAT -json`` output: one `NamedJob` per job or array (its
    job id and its name, without an element's ``[index]``), oldest (lowest job id) first
    (bjobs orders by state and priority; LSF numbers jobs in submission order until its ids
    wrap at ``MAX_JOBID``). Records with an ``ERROR`` are skipped.

    Raises:
        SchedulerOutputError: not JSON of that shape, or a record without a usable JOBID or a
            string JOB_NAME.
    """
    found: dict[int, NamedJob] = {}
    try:
        for record in _bjobs_records(text):
            if _text(record, "ERROR"):
                continue
            key = _record_id(record).split("[")[0]
            name = record.get("JOB_NAME")
            if not isinstance(name, str):
                raise ValueError(f"JOB_NAME of job {key} is not a string")
            element = _ELEMENT_NAME.fullmatch(name)
            if element is not None and ("[" in _text(record, "JOBID") or _index(record)):
                name = element["name"]
            found.setdefault(int(key), NamedJob(key, name))
    except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
        raise SchedulerOutputError(
            f"unexpected bjobs -json output ({exc})", text, argv=argv
        ) from exc
    return [found[job] for job in sorted(found)]


def parse_bparams(text: str, argv: Sequence[str] = ()) -> dict[str, str]:
    """Parse ``bparams -a`` output: parameter → value (as printed), from its ``NAME = value``
    lines.

    Raises:
        SchedulerOutputError: no such line.
    """
    parameters = {}
    for line in text.splitlines():
        match = _PARAMETER.fullmatch(line)
        if match is not None:
            parameters[match["name"]] = match["value"]
    if not parameters:
        raise SchedulerOutputError(
            "unexpected bparams -a output: no 'NAME = value' line", text, argv=argv
        )
    return parameters


def not_found_only(text: str) -> bool:
    """True if every non-blank line of `text` says ``Job <...> is not found`` or ``No
    [unfinished ]job found``."""
    lines = [line for line in text.splitlines() if line.strip()]
    return bool(lines) and all(_NOT_FOUND.search(line) or _NO_JOB.search(line) for line in lines)


def unwrap(text: str) -> list[str]:
    """Join LSF's wrapped long-format lines: a line starting with exactly 21 spaces continues
    the previous one (LSF cuts at 79 columns, even inside a word)."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if lines and line.startswith(_CONTINUATION):
            lines[-1] += line[len(_CONTINUATION) :]
        else:
            lines.append(line)
    return lines


@dataclass
class _History:
    distributor_id: str
    state: str = "PEND"
    reason: str = ""
    exit_code: int | None = None
    signal: int | None = None
    maxrss: int | None = None
    final: bool = False
    ran: bool = False
    host: str | None = None
    cpu: float | None = None
    run_seconds: float | None = None

    def event(self, text: str) -> None:
        if "Dispatched" in text or "Starting (Pid" in text or "Running with" in text:
            self.state = "RUN" if not self.final else self.state
            self.ran = True
        if (host := accounting.bhist_host(text)) is not None:
            self.host, self.ran = host, True
        if (cpu := accounting.bhist_cpu(text)) is not None:
            self.cpu = cpu
        if "Done successfully" in text or "Completed <done>" in text:
            self.state, self.final = "DONE", True
            self.exit_code = 0 if self.exit_code is None else self.exit_code
        if (found := re.search(r"Exited with exit code (\d+)", text)) is not None:
            self.state, self.final, self.exit_code = "EXIT", True, int(found.group(1))
        if (found := re.search(r"Exited by (?:LSF )?signal (\d+)", text)) is not None:
            self.state, self.final, self.signal = "EXIT", True, int(found.group(1))
        if "Completed <exit>" in text or text.startswith("Exited"):
            self.state, self.final = "EXIT", True
            self.reason = termination_reason(text) or self.reason

    def status(self) -> JobStatus:
        phase = JobPhase.FINAL if self.final else phase_of(self.state)
        run = self.final and self.ran  # a job that never ran has no run to account for
        return JobStatus(
            self.distributor_id,
            phase,
            self.state,
            reason=self.reason,
            exit_code=self.exit_code if self.final else None,
            signal=self.signal,
            maxrss_bytes=self.maxrss,
            source="bhist",
            elapsed=self.run_seconds if run else None,
            cpu_seconds=self.cpu if run else None,
            host=self.host if run else None,
        )


def parse_bhist(text: str, argv: Sequence[str] = ()) -> dict[str, JobStatus]:
    """Parse ``bhist -l`` output: distributor id → the state its events end in.

    Raises:
        SchedulerOutputError: non-empty output without any ``Job <id>`` block.
    """
    histories: dict[str, _History] = {}
    current: _History | None = None
    summary: str | None = None  # the header line of the time summary, until its values
    for line in unwrap(text):
        if _SEPARATOR.fullmatch(line):
            current = summary = None
            continue
        if current is None:
            found = _BHIST_JOB.match(line)
            if found is not None:
                current = histories.setdefault(found["id"], _History(found["id"]))
            continue
        if summary is not None and line.strip():
            current.run_seconds = accounting.summary_run_seconds(summary, line)
            summary = None
            continue
        if _SUMMARY_HEADER.fullmatch(line):
            summary = line
            continue
        event = _EVENT.fullmatch(line)
        if event is not None:
            current.event(event["text"])
        elif (peak := re.search(r"MAX MEM: ([^;]+);", line)) is not None:
            try:
                current.maxrss = parse_memory(peak.group(1))
            except ValueError:
                current.maxrss = None
    if not histories and text.strip():
        raise SchedulerOutputError(
            "unexpected bhist -l output: no 'Job <id>' block", text, argv=argv
        )
    return {did: history.status() for did, history in histories.items()}


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue's limits as ``bqueues -l`` shows them (None: no limit).

    Attributes:
        name: the queue.
        max_runtime_seconds / default_runtime_seconds: RUNLIMIT.
        max_memory_bytes / default_memory_bytes: MEMLIMIT.
        max_tasks / default_tasks: PROCLIMIT (TASKLIMIT from LSF 10.1 on).
        raw_limits: every limit seen, ``(section, name) → value text``.
    """

    name: str
    max_runtime_seconds: int | None = None
    default_runtime_seconds: int | None = None
    max_memory_bytes: int | None = None
    default_memory_bytes: int | None = None
    max_tasks: int | None = None
    default_tasks: int | None = None
    raw_limits: dict[tuple[str, str], str] = field(default_factory=dict)


def _columns(header: str, values: str) -> dict[str, str]:
    """Cut `values` at the start columns of the limit names in `header`."""
    names = [(m.start(), m.group(0)) for m in _LIMIT_NAME.finditer(header)]
    out: dict[str, str] = {}
    for i, (start, name) in enumerate(names):
        end = names[i + 1][0] if i + 1 < len(names) else None
        out[name] = values[start:end].strip()
    return out


def _limits(lines: list[str]) -> dict[tuple[str, str], str]:
    """The limit values of one queue section, keyed by (DEFAULT|MAXIMUM, name)."""
    found: dict[tuple[str, str], str] = {}
    section = ""
    header: str | None = None
    for line in lines:
        stripped = line.strip()
        if stripped in ("DEFAULT LIMITS:", "MAXIMUM LIMITS:"):
            section, header = stripped.split()[0], None
            continue
        if not section:
            continue
        if not stripped:
            continue
        if re.fullmatch(r"[A-Z][A-Z /_-]*:.*", stripped) and not _LIMIT_NAME.match(stripped):
            section, header = "", None  # the next block (SCHEDULING PARAMETERS, USERS: ...)
            continue
        if header is None:
            if _LIMIT_NAME.fullmatch(stripped.split()[0]) and all(
                _LIMIT_NAME.fullmatch(word) for word in stripped.split()
            ):
                header = line
            continue
        for name, value in _columns(header, line.ljust(len(header))).items():
            found[(section, name)] = value
        header = None
    return found


def _runlimit(value: str) -> int:
    match = _MINUTES.search(value)
    if match is None:
        raise ValueError(f"RUNLIMIT {value!r} is not 'N min'")
    return math.ceil(float(match.group(1)) * 60)


def _memlimit(value: str, unit: str) -> int:
    """MEMLIMIT ``2 G``, ``100 M``, ``2048`` (in `unit`), possibly followed by more words."""
    words = value.split()
    if len(words) >= 2 and re.fullmatch(r"[KMGTPEZ](?:B|bytes)?", words[1], re.IGNORECASE):
        words = [words[0] + words[1]]
    amount = parse_memory(words[0] if words else "", unit)
    if amount is None:
        raise ValueError(f"MEMLIMIT {value!r} is empty")
    return amount


def _tasks(value: str) -> tuple[int | None, int]:
    """PROCLIMIT/TASKLIMIT ``[min [default]] max`` → (default, max)."""
    numbers = [int(word) for word in value.split()]
    if not 1 <= len(numbers) <= 3:
        raise ValueError(f"task limit {value!r} is not '[min [default]] max'")
    return (numbers[1] if len(numbers) == 3 else None), numbers[-1]


def _queue_info(name: str, limits: dict[tuple[str, str], str], unit: str) -> QueueInfo:
    values: dict[str, Any] = {"name": name, "raw_limits": limits}
    for (section, limit), value in limits.items():
        prefix = "max" if section == "MAXIMUM" else "default"
        if limit == "RUNLIMIT":
            values[f"{prefix}_runtime_seconds"] = _runlimit(value)
        elif limit == "MEMLIMIT":
            values[f"{prefix}_memory_bytes"] = _memlimit(value, unit)
        elif limit in ("PROCLIMIT", "TASKLIMIT"):
            default, maximum = _tasks(value)
            values["max_tasks"] = maximum
            if default is not None:
                values["default_tasks"] = default
    return QueueInfo(**values)


def parse_bqueues(
    text: str, argv: Sequence[str] = (), *, unit_for_limits: str = "KB"
) -> dict[str, QueueInfo]:
    """Parse ``bqueues -l`` output: queue name → its limits.

    Args:
        unit_for_limits: the unit of bare numbers (``LSF_UNIT_FOR_LIMITS``, default KB).

    Raises:
        SchedulerOutputError: no ``QUEUE:`` section in non-empty text, or a limit of an
            unexpected shape.
    """
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        found = re.fullmatch(r"QUEUE:\s*(\S+)\s*", line)
        if found is not None:
            sections.append((found.group(1), []))
        elif sections:
            sections[-1][1].append(line)
    if not sections:
        raise SchedulerOutputError(
            "unexpected bqueues -l output: no 'QUEUE:' line", text, argv=argv
        )
    queues: dict[str, QueueInfo] = {}
    for name, lines in sections:
        try:
            queues[name] = _queue_info(name, _limits(lines), unit_for_limits)
        except ValueError as exc:
            raise SchedulerOutputError(
                f"unexpected limits of queue {name!r} in bqueues -l output ({exc})", text, argv=argv
            ) from exc
    return queues
