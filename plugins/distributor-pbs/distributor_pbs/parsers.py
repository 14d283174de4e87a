"""Parsers of what PBS Pro / OpenPBS and Torque clients print.

* ``qsub``: the job id on standard output (``123.server``, ``123[].server`` for an array).
* ``qstat -x -f -F json -t IDS`` (PBS Pro): ``{"timestamp":…, "pbs_version":…, "pbs_server":…,
  "Jobs": {"123.server": {"job_state": "F", "Exit_status": 0, "resources_used": {…}, …}}}``.
  Known defects of that JSON on real servers — bare numbers such as ``"foo":005`` and
  unescaped backslashes, always inside ``Variable_List`` (openpbs/openpbs#1255, #2049,
  #2541) — are repaired by dropping the ``Variable_List`` objects, which this plugin never reads.
* ``qstat -x -t IDS`` (Torque): XML, ``<Data><Job><Job_Id>123.server</Job_Id>…
  <job_state>C</job_state>…<exit_status>0</exit_status></Job></Data>``; empty output means no
  jobs (Torque before 6.1.0 printed nothing instead of an empty document, TRQ-3622).
* ``qstat -Q -f`` / ``qstat -B -f``: ``Queue: name`` / ``Server: name`` blocks of indented
  ``attribute = value`` lines; a line starting with a tab continues the previous value.
* ``qstat --version``: ``pbs_version = 2022.1.5`` (PBS Pro) or ``Version: 6.1.3`` (Torque).
* ``qstat -f -x -F json`` (PBS Pro) / ``qstat -x`` (Torque) without ids: every job the server
  lists, read by `parse_pro_named_jobs` / `parse_torque_named_jobs` for its ``Job_Name`` only.

Every parser raises `SchedulerOutputError` carrying the complete raw text when the text does not
have the documented shape.

Distributor ids are the job ids PBS prints: ``123.server`` for a job, ``123[4].server`` for
subjob 4 of array ``123[].server`` (both flavours). A job's key is the id qsub printed:
``123.server``, or ``123[].server`` for an array (`job_key`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

from distributor import SchedulerOutputError
from distributor.batch import JobPhase, JobStatus, NamedJob
from distributor_pbs import accounting
from distributor_pbs.codes import JOB_STATES, SIGNAL_BASE, SUBSTATE_TERMINATED

__all__ = [
    "JOB_ID",
    "JobId",
    "PbsJobStatus",
    "array_token",
    "job_key",
    "parse_attribute_blocks",
    "parse_duration",
    "parse_flavour",
    "parse_job_id",
    "parse_pro_named_jobs",
    "parse_pro_status",
    "parse_qsub",
    "parse_size",
    "parse_torque_named_jobs",
    "parse_torque_status",
    "status_from_attributes",
    "subjob_id",
]

JOB_ID = re.compile(
    r"(?P<seq>[0-9]{1,15})(?:\[(?P<index>[0-9]{0,9})\])?"
    r"(?:\.(?P<server>[A-Za-z0-9](?:[A-Za-z0-9_-]|\.(?=[A-Za-z0-9])){0,252}))?"
)
"""A PBS job id: ``123``, ``123.server``, ``123[].server`` (array) or ``123[4].server``."""

_SIZE = re.compile(r"([0-9]+)\s*([kmgtp]?)(b|w)?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40, "p": 2**50}
_WORD = 8  # bytes per word on the 64-bit hosts PBS runs on
_DURATION = re.compile(r"(?:(?:([0-9]+):)?([0-9]+):)?([0-9]+)(?:\.[0-9]*)?")
_BLOCK_HEADER = re.compile(r"(Queue|Server|Job Id|Reservation Name|Hook):\s*(\S+)\s*")
_BLOCK_LINE = re.compile(r"\s+([A-Za-z_][A-Za-z0-9_.]*)\s*=\s?(.*)")


@dataclass(frozen=True, slots=True)
class JobId:
    """A parsed job id.

    Attributes:
        seq: the sequence number (``123``); index: the subjob index, None for jobs and arrays;
        array: True for an array id (``123[]``); server: the server suffix, may be empty.
    """

    seq: str
    index: int | None
    array: bool
    server: str

    def __str__(self) -> str:
        bracket = "[]" if self.array else "" if self.index is None else f"[{self.index}]"
        return f"{self.seq}{bracket}" + (f".{self.server}" if self.server else "")


@dataclass(frozen=True, slots=True)
class PbsJobStatus(JobStatus):
    """A `JobStatus` with the PBS attributes the state map needs.

    Attributes:
        exit_status: ``Exit_status`` as printed (negative: PBS's own code; 256+N: signal N).
        substate: PBS Pro's ``substate`` (91 deleted, 92 finished, 93 failed), None in Torque.
        walltime_used / walltime_limit: ``resources_used.walltime`` and
            ``Resource_List.walltime`` in seconds.
    """

    exit_status: int | None = None
    substate: int | None = None
    walltime_used: int | None = None
    walltime_limit: int | None = None


def parse_job_id(text: str) -> JobId | None:
    """The parsed id, or None if `text` is not a PBS job id."""
    match = JOB_ID.fullmatch(text)
    if match is None:
        return None
    index = match["index"]
    return JobId(
        seq=match["seq"],
        index=int(index) if index else None,
        array=index == "",
        server=match["server"] or "",
    )


def job_key(distributor_id: str) -> str | None:
    """The id qsub printed for the job a distributor id belongs to: ``123[].server`` for
    subjob ``123[4].server``, ``123.server`` for itself; None for an array id (it names no one
    task) and for text that is not a job id."""
    parsed = parse_job_id(distributor_id)
    if parsed is None or parsed.array:
        return None
    return array_token(distributor_id)


def array_token(distributor_id: str) -> str | None:
    """What names an id's job on a command line: its array (``123[].server``) for a subjob,
    else the id itself; None if it is not a job id."""
    parsed = parse_job_id(distributor_id)
    if parsed is None:
        return None
    if parsed.index is None:
        return str(parsed)
    return str(JobId(parsed.seq, None, True, parsed.server))


def subjob_id(array_id: str, index: int) -> str:
    """``123[4].server`` from ``123[].server`` and 4.

    Raises:
        ValueError: `array_id` is not an array id.
    """
    parsed = parse_job_id(array_id)
    if parsed is None or not parsed.array:
        raise ValueError(f"{array_id!r} is not a PBS array job id (such as 123[].server)")
    return str(JobId(parsed.seq, index, False, parsed.server))


def parse_qsub(stdout: str, argv: Sequence[str] = ()) -> str:
    """The job id qsub printed (its last non-empty line).

    Raises:
        SchedulerOutputError: no line is a job id.
    """
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if not lines or parse_job_id(lines[-1]) is None:
        raise SchedulerOutputError("qsub printed no job id", stdout, argv=argv)
    return lines[-1]


def parse_size(text: str) -> int:
    """Bytes of a PBS size (``5620kb``, ``4gb``, ``100mb``, ``1024``, ``2kw``); binary units.

    Raises:
        ValueError: not a PBS size.
    """
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a PBS size (such as 512mb or 4gb)")
    number, prefix, unit = match.groups()
    return int(number) * _SIZE_UNITS[prefix.lower()] * (_WORD if (unit or "").lower() == "w" else 1)


def parse_duration(text: str) -> int:
    """Seconds of a PBS duration (``[[HH:]MM:]SS[.frac]``; hours may exceed 24).

    Raises:
        ValueError: not a PBS duration.
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a PBS duration (such as 01:30:00)")
    hours, minutes, seconds = (int(part) if part else 0 for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def parse_flavour(text: str) -> str | None:
    """``pro`` or ``torque`` from ``qstat --version`` output; None if it says neither."""
    if re.search(r"pbs_version\s*=|openpbs|pbs\s*pro", text, re.IGNORECASE):
        return "pro"
    if re.search(r"^\s*version:\s*\S", text, re.IGNORECASE | re.MULTILINE) or re.search(
        r"torque", text, re.IGNORECASE
    ):
        return "torque"
    return None


def _optional(parse: Callable[[str], int], key: str, value: str | None) -> int | None:
    """`parse` of a present attribute; None for an absent or empty one."""
    if value is None or value == "":
        return None
    try:
        return parse(value)
    except ValueError:
        raise ValueError(f"{key}={value!r} is malformed") from None


def status_from_attributes(job_id: str, attributes: Mapping[str, str], source: str) -> PbsJobStatus:
    """A status from a job's attributes (nested resources flattened as ``resources_used.mem``);
    a final one with the accounting of its run (`distributor_pbs.accounting.run_figures`).

    Raises:
        ValueError: ``job_state`` is missing, or a number or size is malformed.
    """
    state = attributes.get("job_state", "")
    if not state:
        raise ValueError(f"job {job_id!r} has no job_state")
    phase = JOB_STATES.get(state, (JobPhase.QUEUED, ""))[0]
    exit_status = _optional(
        int, "Exit_status", attributes.get("Exit_status", attributes.get("exit_status"))
    )
    substate = _optional(int, "substate", attributes.get("substate"))
    maxrss = _optional(parse_size, "resources_used.mem", attributes.get("resources_used.mem"))
    wall = accounting.parse_clock(attributes.get("resources_used.walltime"))
    used = None if wall is None else int(wall)  # unreadable: unknown, not a lost status
    limit = _optional(
        parse_duration, "Resource_List.walltime", attributes.get("Resource_List.walltime")
    )
    final = phase is JobPhase.FINAL
    run = accounting.run_figures(attributes) if final else {}
    exit_code: int | None = None
    signal: int | None = None
    if final and exit_status is not None:
        if exit_status > SIGNAL_BASE:
            signal = exit_status - SIGNAL_BASE
        elif exit_status >= 0:  # negative values are PBS's codes, not the job's
            exit_code = exit_status
    return PbsJobStatus(
        distributor_id=job_id,
        phase=phase,
        state=state,
        reason=" ".join(attributes.get("comment", "").split()),
        exit_code=exit_code,
        signal=signal,
        maxrss_bytes=maxrss,
        complete=final and (exit_status is not None or substate == SUBSTATE_TERMINATED),
        source=source,
        exit_status=exit_status if final else None,
        substate=substate,
        walltime_used=used,
        walltime_limit=limit,
        **run,
    )


def _flatten(attributes: Mapping[str, Any]) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in attributes.items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                flat[f"{key}.{sub}"] = str(inner)
        elif isinstance(value, list):
            flat[key] = ",".join(str(item) for item in value)
        else:
            flat[key] = str(value)
    return flat


def _drop_variable_lists(text: str) -> str:
    """The JSON without its ``"Variable_List":{…}`` objects (one attribute per line, as
    qstat prints them), and without a comma left dangling before a closing brace."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        stripped = line.strip()
        if skipping:
            skipping = stripped not in ("}", "},")
            continue
        if re.match(r'"Variable_List"\s*:\s*\{', stripped):
            skipping = not stripped.endswith(("}", "},"))
            continue
        kept.append(line)
    return re.sub(r",(\s*[}\]])", r"\1", "\n".join(kept))


def _load_json(text: str, argv: Sequence[str]) -> Any:
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError as first:
        repaired = _drop_variable_lists(text)
        try:
            return json.loads(repaired, strict=False)
        except json.JSONDecodeError:
            raise SchedulerOutputError(
                f"qstat printed invalid JSON ({first})", text, argv=argv
            ) from first


def parse_pro_status(text: str, argv: Sequence[str] = ()) -> dict[str, PbsJobStatus]:
    """Statuses from PBS Pro's ``qstat -f -F json`` (empty output: no jobs).

    Raises:
        SchedulerOutputError: not JSON of the documented shape (raw text kept).
    """
    if not text.strip():
        return {}
    data = _load_json(text, argv)
    jobs = data.get("Jobs", {}) if isinstance(data, dict) else None
    if not isinstance(jobs, dict):
        raise SchedulerOutputError('qstat JSON has no "Jobs" object', text, argv=argv)
    statuses: dict[str, PbsJobStatus] = {}
    for job_id, attributes in jobs.items():
        try:
            if parse_job_id(job_id) is None:
                raise ValueError(f"{job_id!r} is not a job id")
            if not isinstance(attributes, dict):
                raise ValueError(f"job {job_id!r} is not an object")
            statuses[job_id] = status_from_attributes(job_id, _flatten(attributes), "qstat")
        except ValueError as exc:
            raise SchedulerOutputError(f"unexpected qstat JSON ({exc})", text, argv=argv) from exc
    return statuses


def _load_xml(text: str, argv: Sequence[str]) -> ElementTree.Element | None:
    """The ``<Data>`` root of Torque's XML; None for empty output (no jobs).

    Raises:
        SchedulerOutputError: not XML, a document type declared, or another root element.
    """
    body = text.strip()
    if not body:
        return None
    if "<!DOCTYPE" in body or "<!ENTITY" in body:
        raise SchedulerOutputError("qstat XML declares a document type", text, argv=argv)
    try:
        # qstat's own output, without DTD (refused above): nothing for defusedxml to defuse
        root = ElementTree.fromstring(body)  # noqa: S314
    except (ElementTree.ParseError, ValueError) as exc:
        raise SchedulerOutputError(f"qstat printed invalid XML ({exc})", text, argv=argv) from exc
    if root.tag != "Data":
        raise SchedulerOutputError(
            f"unexpected qstat XML (root element is <{root.tag}>, not <Data>)", text, argv=argv
        )
    return root


def _xml_jobs(root: ElementTree.Element) -> list[dict[str, str]]:
    """Each ``<Job>`` as attribute → text, nested ones flattened (``resources_used.mem``).

    Raises:
        ValueError: ``<Data>`` holds something other than ``<Job>``.
    """
    jobs = []
    for job in root:
        if job.tag != "Job":
            raise ValueError(f"<Data> contains <{job.tag}>, not <Job>")
        attributes: dict[str, str] = {}
        for child in job:
            for item in child if len(child) else [child]:
                key = f"{child.tag}.{item.tag}" if item is not child else child.tag
                attributes[key] = (item.text or "").strip()
        jobs.append(attributes)
    return jobs


def parse_torque_status(text: str, argv: Sequence[str] = ()) -> dict[str, PbsJobStatus]:
    """Statuses from Torque's ``qstat -x`` XML (empty output: no jobs).

    Raises:
        SchedulerOutputError: not XML of the documented shape, or XML declaring a document type
            (entities are refused outright: nothing legitimate needs them).
    """
    root = _load_xml(text, argv)
    if root is None:
        return {}
    statuses: dict[str, PbsJobStatus] = {}
    try:
        for attributes in _xml_jobs(root):
            job_id = attributes.get("Job_Id", "")
            if parse_job_id(job_id) is None:
                raise ValueError(f"<Job_Id> {job_id!r} is not a job id")
            statuses[job_id] = status_from_attributes(job_id, attributes, "qstat")
    except ValueError as exc:
        raise SchedulerOutputError(f"unexpected qstat XML ({exc})", text, argv=argv) from exc
    return statuses


def _named_jobs(listed: Sequence[tuple[str, str]]) -> list[NamedJob]:
    """One `NamedJob` per job or array of (id, ``Job_Name``) pairs, lowest sequence number
    (oldest) first; a subjob stands for its array, named without Torque's ``-<index>``.

    Raises:
        ValueError: an id is not a job id.
    """
    found: dict[str, tuple[int, NamedJob]] = {}
    for job_id, name in listed:
        parsed = parse_job_id(job_id)
        if parsed is None:
            raise ValueError(f"{job_id!r} is not a job id")
        key = str(JobId(parsed.seq, None, parsed.array or parsed.index is not None, parsed.server))
        if parsed.index is not None:  # Torque's qstat -t names subjob i of array "x" "x-i"
            name = name.removesuffix(f"-{parsed.index}")
        found.setdefault(key, (int(parsed.seq), NamedJob(key, name)))
    return [job for _, job in sorted(found.values(), key=lambda entry: entry[0])]


def parse_pro_named_jobs(text: str, argv: Sequence[str] = ()) -> list[NamedJob]:
    """The jobs and arrays of PBS Pro's ``qstat -f -x -F json`` (no ids: every job the server
    lists, finished ones from its history included) with their ``Job_Name``, oldest first; jobs
    without a name are left out (empty output: none).

    Raises:
        SchedulerOutputError: not JSON of the documented shape (raw text kept).
    """
    if not text.strip():
        return []
    data = _load_json(text, argv)
    jobs = data.get("Jobs", {}) if isinstance(data, dict) else None
    if not isinstance(jobs, dict):
        raise SchedulerOutputError('qstat JSON has no "Jobs" object', text, argv=argv)
    listed = []
    for job_id, attributes in jobs.items():
        if not isinstance(attributes, dict):
            raise SchedulerOutputError(
                f"unexpected qstat JSON (job {job_id!r} is not an object)", text, argv=argv
            )
        name = attributes.get("Job_Name")
        if isinstance(name, str):
            listed.append((job_id, name))
    try:
        return _named_jobs(listed)
    except ValueError as exc:
        raise SchedulerOutputError(f"unexpected qstat JSON ({exc})", text, argv=argv) from exc


def parse_torque_named_jobs(text: str, argv: Sequence[str] = ()) -> list[NamedJob]:
    """The jobs and arrays of Torque's ``qstat -x`` (no ids: every job the server lists, an
    array summarised as ``123[].server``, completed jobs kept ``keep_completed`` seconds) with
    their ``Job_Name``, oldest first; jobs without a name are left out (empty output: none).

    Raises:
        SchedulerOutputError: not XML of the documented shape (raw text kept).
    """
    root = _load_xml(text, argv)
    if root is None:
        return []
    try:
        listed = [
            (attributes.get("Job_Id", ""), attributes["Job_Name"])
            for attributes in _xml_jobs(root)
            if "Job_Name" in attributes
        ]
        return _named_jobs(listed)
    except ValueError as exc:
        raise SchedulerOutputError(f"unexpected qstat XML ({exc})", text, argv=argv) from exc


def parse_attribute_blocks(text: str, argv: Sequence[str] = ()) -> dict[str, dict[str, str]]:
    """``qstat -Q -f`` / ``qstat -B -f`` output as name → attribute → value.

    Raises:
        SchedulerOutputError: a line is neither a block header, an ``attribute = value`` line
            inside a block, nor a continuation line.
    """
    blocks: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    last: str | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        header = _BLOCK_HEADER.fullmatch(line)
        if header is not None:
            current = blocks.setdefault(header[2], {})
            last = None
            continue
        if line.startswith("\t") and current is not None and last is not None:
            current[last] += line[1:]  # qstat wraps long values at a fixed column
            continue
        attribute = _BLOCK_LINE.fullmatch(line)
        if current is None or attribute is None:
            raise SchedulerOutputError(f"unexpected qstat line {line!r}", text, argv=argv)
        last = attribute[1]
        current[last] = attribute[2]
    return {name: {k: v.strip() for k, v in block.items()} for name, block in blocks.items()}
