"""Parsers for what Slurm 22.05's clients print: sbatch, squeue, sacct, scontrol, sinfo.

Every parser takes the raw text and returns typed values; text that does not have the expected
shape raises `SchedulerOutputError` carrying the complete raw text. The formats are fixed by the
argv this plugin builds (`SQUEUE_FORMAT`, `SACCT_FIELDS`, `SINFO_FORMAT`), so user settings such
as ``SQUEUE_FORMAT`` cannot change them.

Distributor ids are the job id (``123``) or, for array tasks, ``<array job id>_<task id>``
(``123_4``), exactly as squeue's ``JobArrayID`` and sacct's ``JobID`` print them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from distributor import SchedulerOutputError, parse_runtime
from distributor.batch import JobPhase, JobStatus, NamedJob
from distributor_slurm.states import phase_of

__all__ = [
    "DISTRIBUTOR_ID",
    "SACCT_FIELDS",
    "SINFO_FORMAT",
    "SQUEUE_FIELDS",
    "SQUEUE_FORMAT",
    "NodeShape",
    "expand_task_list",
    "job_key",
    "parse_config",
    "parse_cpu_time",
    "parse_duration",
    "parse_exit_code",
    "parse_gres_gpus",
    "parse_key_values",
    "parse_memory_mb",
    "parse_partitions",
    "parse_rss",
    "parse_sacct",
    "parse_sbatch",
    "parse_sinfo",
    "parse_named_jobs",
    "parse_squeue",
]

DISTRIBUTOR_ID = re.compile(r"(?P<job>[1-9][0-9]{0,11})(?:_(?P<task>[0-9]{1,9}))?")
"""A distributor id this plugin issues: ``123`` or ``123_4``."""

SQUEUE_FIELDS = ("JobArrayID", "State", "Reason", "exit_code")
SQUEUE_FORMAT = ",".join(f"{name}:|" for name in SQUEUE_FIELDS)
"""``squeue --Format`` value: the fields separated by ``|``, not padded or cut."""

SACCT_FIELDS = (
    "JobID", "State", "ExitCode", "Reason", "MaxRSS", "ElapsedRaw", "NodeList", "TotalCPU",
)  # fmt: skip
_SACCT_REQUIRED = 5  # the accounting figures after MaxRSS may be missing (older callers)
SINFO_FORMAT = "%c|%m|%G"
"""``sinfo --format`` value: CPUs, memory (MB) and generic resources of each node group."""

_SACCT_JOB_ID = re.compile(
    r"(?P<job>\d+)(?:_(?:(?P<task>\d+)|\[(?P<tasks>[0-9,%\-]+)\]))?(?:\+\d+)?"
    r"(?:\.(?P<step>[A-Za-z0-9_+\-]+))?"
)
_EXIT_CODE = re.compile(r"(\d+):(\d+)")
_RSS = re.compile(r"(\d+(?:\.\d+)?)([KMGTP]?)")
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}
_UNLIMITED = {"UNLIMITED", "INFINITE", "NONE", "N/A", "(null)", ""}
_KEY_VALUE = re.compile(r"(\w+)=(\S*)")
_CONFIG_LINE = re.compile(r"(\S+)\s*=\s*(.*?)\s*")


def job_key(distributor_id: str) -> str | None:
    """The Slurm job id a distributor id belongs to (``123`` for ``123_4``), or None if the
    text is not an id this plugin issues."""
    match = DISTRIBUTOR_ID.fullmatch(distributor_id)
    return match["job"] if match else None


def parse_sbatch(stdout: str, argv: Sequence[str] = ()) -> str:
    """The job id from ``sbatch --parsable`` output (``123`` or ``123;cluster``)."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    match = re.fullmatch(r"(\d+)(?:;\S+)?", lines[-1]) if lines else None
    if match is None:
        raise SchedulerOutputError("sbatch --parsable printed no job id", stdout, argv=argv)
    return match.group(1)


def parse_exit_code(text: str) -> tuple[int, int] | None:
    """``3:0`` → ``(3, 0)`` (exit code, signal); None for an empty field.

    Raises:
        ValueError: anything else.
    """
    if not text:
        return None
    match = _EXIT_CODE.fullmatch(text)
    if match is None:
        raise ValueError(f"exit code {text!r} is not CODE:SIGNAL")
    return int(match.group(1)), int(match.group(2))


def parse_rss(text: str) -> int | None:
    """sacct's ``MaxRSS`` (``224K``, ``1.50M``, ``0``) in bytes; None for an empty field.

    Raises:
        ValueError: anything else.
    """
    if not text:
        return None
    match = _RSS.fullmatch(text)
    if match is None:
        raise ValueError(f"MaxRSS {text!r} is not a size")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def expand_task_list(spec: str) -> list[int]:
    """``2-6,8-9%2`` → ``[2, 3, 4, 5, 6, 8, 9]`` (the ``%`` limit is dropped).

    Raises:
        ValueError: a malformed list.
    """
    tasks: list[int] = []
    for part in spec.split("%")[0].split(","):
        first, _, last = part.partition("-")
        low, high = int(first), int(last or first)
        if high < low or high - low > 10_000_000:
            raise ValueError(f"task range {part!r} is malformed")
        tasks.extend(range(low, high + 1))
    return tasks


def _squeue_status(fields: list[str]) -> JobStatus:
    distributor_id, state, reason, raw_exit = fields
    if not DISTRIBUTOR_ID.fullmatch(distributor_id):
        raise ValueError(f"job id {distributor_id!r} is not JOB or JOB_TASK")
    if not re.fullmatch(r"[A-Z_]+", state):
        raise ValueError(f"state {state!r} is not a Slurm state")
    code = signal = None
    if raw_exit.isdigit():
        status = int(raw_exit)  # a wait(2) status
        code, signal = (status >> 8) & 0xFF, status & 0x7F
    elif raw_exit not in _UNLIMITED:
        raise ValueError(f"exit_code {raw_exit!r} is not a number")
    phase = phase_of(state)
    return JobStatus(
        distributor_id,
        phase,
        state,
        reason="" if reason == "None" else reason,
        exit_code=code if phase is JobPhase.FINAL else None,
        signal=signal if phase is JobPhase.FINAL else None,
        # a SIGKILL of the whole job may be a memory kill: accounting has the peak memory
        complete=not (state == "FAILED" and signal == 9),
        source="squeue",
    )


def parse_named_jobs(stdout: str, argv: Sequence[str] = ()) -> list[NamedJob]:
    """Jobs from ``squeue --noheader --Format=ArrayJobID:|,Name:|,Command:|``, one per job or
    array, oldest (lowest id) first, with the batch script's path.

    Raises:
        SchedulerOutputError: a line is not ``<job id>|<name>|<command>|``.
    """
    found: dict[int, NamedJob] = {}
    for number, line in enumerate(stdout.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) < 3 or not re.fullmatch(r"[1-9][0-9]{0,11}", parts[0].strip()):
            raise SchedulerOutputError(
                f"squeue line {number} is not '<job id>|<name>|<command>|': {line!r}",
                stdout,
                argv=argv,
            )
        key = parts[0].strip()
        rest = "|".join(parts[2:])  # the script path may hold '|'; one more ends the line
        command = rest[:-1] if rest.endswith("|") else rest
        found.setdefault(int(key), NamedJob(key, parts[1], command or None))
    return [found[job] for job in sorted(found)]


def parse_squeue(stdout: str, argv: Sequence[str] = ()) -> dict[str, JobStatus]:
    """Statuses from ``squeue --noheader --array --Format=SQUEUE_FORMAT``, keyed by id."""
    statuses: dict[str, JobStatus] = {}
    for number, line in enumerate(stdout.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.rstrip().split("|")
        if len(fields) == len(SQUEUE_FIELDS) + 1 and fields[-1] == "":
            fields.pop()
        try:
            if len(fields) != len(SQUEUE_FIELDS):
                raise ValueError(f"{len(fields)} fields instead of {len(SQUEUE_FIELDS)}")
            status = _squeue_status(fields)
        except ValueError as exc:
            raise SchedulerOutputError(
                f"squeue output line {number} is not {'|'.join(SQUEUE_FIELDS)} ({exc})",
                stdout,
                argv=argv,
            ) from exc
        statuses[status.distributor_id] = status
    return statuses


@dataclass
class _SacctJob:
    state: str = ""
    reason: str = ""
    exit: tuple[int, int] | None = None
    batch_exit: tuple[int, int] | None = None
    maxrss: int | None = None
    explicit: bool = True
    elapsed: float | None = None
    host: str | None = None
    cpu: float | None = None


def parse_sacct(stdout: str, argv: Sequence[str] = ()) -> dict[str, JobStatus]:
    """Statuses from ``sacct --parsable2 --noheader --format=SACCT_FIELDS``, keyed by id.

    Job lines give the state (first word; ``CANCELLED by 0`` gives reason ``by 0``), exit
    code and reason; the ``.batch`` step supplies the signal when the job line says ``0:0``
    (TIMEOUT, CANCELLED, PREEMPTED); MaxRSS is the largest of all steps. A pending array
    remainder (``19_[2-6,8-9%2]``) stands for each listed task that has no line of its own.
    """
    jobs: dict[str, _SacctJob] = {}
    for number, line in enumerate(stdout.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("|")
        try:
            if len(fields) not in (_SACCT_REQUIRED, len(SACCT_FIELDS)):
                raise ValueError(f"{len(fields)} fields instead of {len(SACCT_FIELDS)}")
            _add_sacct_line(jobs, fields + [""] * (len(SACCT_FIELDS) - len(fields)))
        except ValueError as exc:
            raise SchedulerOutputError(
                f"sacct output line {number} is not {'|'.join(SACCT_FIELDS)} ({exc})",
                stdout,
                argv=argv,
            ) from exc
    return {did: _sacct_status(did, job) for did, job in jobs.items() if job.state}


def _add_sacct_line(jobs: dict[str, _SacctJob], fields: list[str]) -> None:
    job_id, state_text, exit_text, reason, rss_text, elapsed_text, nodes, cpu_text = fields
    match = _SACCT_JOB_ID.fullmatch(job_id)
    if match is None:
        raise ValueError(f"JobID {job_id!r} is not a Slurm job id")
    exit_code = parse_exit_code(exit_text)
    rss = parse_rss(rss_text)
    words = state_text.split(" ", 1)
    state = words[0]
    if state and not re.fullmatch(r"[A-Z_]+", state):
        raise ValueError(f"state {state_text!r} is not a Slurm state")
    if match["tasks"] is not None:
        ids = [f"{match['job']}_{task}" for task in expand_task_list(match["tasks"])]
        explicit = False
    elif match["task"] is not None:
        ids, explicit = [f"{match['job']}_{match['task']}"], True
    else:
        ids, explicit = [match["job"]], True
    for did in ids:
        job = jobs.get(did)
        if job is None:
            job = jobs[did] = _SacctJob(explicit=explicit)
        elif job.explicit and not explicit and match["step"] is None:
            continue  # the task's own line beats a stale bracket list
        if rss is not None:
            job.maxrss = max(job.maxrss or 0, rss)
        if match["step"] is None:
            if explicit:
                job.explicit = True
            job.state = state
            by = words[1] if len(words) > 1 else ""
            job.reason = by if by.startswith("by ") else ("" if reason == "None" else reason)
            job.exit = exit_code
            job.elapsed = float(elapsed_text) if elapsed_text.isdigit() else None
            job.host = nodes if _SINGLE_NODE.fullmatch(nodes) else None
            job.cpu = parse_cpu_time(cpu_text)
        elif match["step"] == "batch":
            job.batch_exit = exit_code


def _sacct_status(distributor_id: str, job: _SacctJob) -> JobStatus:
    code, signal = job.exit if job.exit is not None else (None, None)
    if job.batch_exit is not None:
        batch_code, batch_signal = job.batch_exit
        if not signal and batch_signal:
            signal = batch_signal
        if not code and batch_code:
            code = batch_code
    return JobStatus(
        distributor_id,
        phase_of(job.state, unknown=JobPhase.FINAL),
        job.state,
        reason=job.reason,
        exit_code=code,
        signal=signal or None,
        maxrss_bytes=job.maxrss,
        source="sacct",
        elapsed=job.elapsed if job.state not in _NEVER_RAN else None,
        cpu_seconds=job.cpu if job.state not in _NEVER_RAN else None,
        host=job.host,
    )


_SINGLE_NODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # not "None assigned", not "n[1-2]"
_NEVER_RAN = {"PENDING", "CANCELLED"}  # 0 s and 0 CPU there say nothing about a run
_CPU_TIME = re.compile(r"(?:(?:(?P<d>\d+)-)?(?P<h>\d+):)?(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)")


def parse_cpu_time(text: str) -> float | None:
    """Seconds of a ``TotalCPU`` value (``[[D-]HH:]MM:SS[.mmm]``); None when empty or
    unreadable."""
    match = _CPU_TIME.fullmatch(text.strip())
    if match is None:
        return None
    days, hours = int(match["d"] or 0), int(match["h"] or 0)
    return round(((days * 24 + hours) * 60 + int(match["m"])) * 60 + float(match["s"]), 6)


def parse_key_values(line: str) -> dict[str, str]:
    """``Key=Value`` pairs of one ``scontrol show ... -o`` line."""
    return dict(_KEY_VALUE.findall(line))


def parse_partitions(stdout: str, argv: Sequence[str] = ()) -> dict[str, dict[str, str]]:
    """``scontrol show partition -o`` output → partition name → its settings."""
    partitions = {}
    for line in stdout.splitlines():
        if not line.strip():
            continue
        values = parse_key_values(line)
        name = values.get("PartitionName")
        if not name:
            raise SchedulerOutputError(
                "scontrol show partition line without PartitionName=", stdout, argv=argv
            )
        partitions[name] = values
    return partitions


def parse_config(stdout: str, argv: Sequence[str] = ()) -> dict[str, str]:
    """``scontrol show config`` output → setting → value (as printed)."""
    config = {}
    for line in stdout.splitlines():
        match = _CONFIG_LINE.fullmatch(line)
        if match and " " not in match.group(1):
            config[match.group(1)] = match.group(2)
    if "ClusterName" not in config and "MaxArraySize" not in config:
        raise SchedulerOutputError("scontrol show config printed no settings", stdout, argv=argv)
    return config


def parse_duration(text: str) -> int | None:
    """A Slurm time limit in seconds (``1:00:00``, ``2-00:00:00``, ``30`` minutes); None for
    ``UNLIMITED``/``NONE``.

    Raises:
        ValueError: anything else.
    """
    if text in _UNLIMITED:
        return None
    if text.isdigit():
        return int(text) * 60  # a bare number is minutes in Slurm
    try:
        return parse_runtime(text)
    except ValueError as exc:
        raise ValueError(f"time limit {text!r} is not a Slurm duration") from exc


def parse_memory_mb(text: str) -> int | None:
    """A Slurm memory size in MB (``24105``, ``4G``) as bytes; None for ``UNLIMITED``.

    Raises:
        ValueError: anything else.
    """
    if text in _UNLIMITED:
        return None
    match = re.fullmatch(r"(\d+)([MGT]?)", text)
    if match is None:
        raise ValueError(f"memory {text!r} is not a Slurm size")
    unit = {"": 1024**2, "M": 1024**2, "G": 1024**3, "T": 1024**4}[match.group(2)]
    return int(match.group(1)) * unit


def parse_gres_gpus(text: str) -> int:
    """GPUs per node in a GRES list (``gpu:2``, ``gpu:a100:4(S:0-1),mps:100``); 0 if none."""
    total = 0
    for item in text.split(","):
        parts = re.sub(r"\(.*?\)", "", item).split(":")
        if parts[0] == "gpu":
            count = parts[-1] if len(parts) > 1 else "1"
            total += int(count) if count.isdigit() else 1
    return total


@dataclass(frozen=True, slots=True)
class NodeShape:
    """One node group of a partition: CPUs, memory (bytes) and GPUs per node."""

    cpus: int
    memory_bytes: int | None
    gpus: int


def parse_sinfo(stdout: str, argv: Sequence[str] = ()) -> list[NodeShape]:
    """``sinfo --noheader --format=SINFO_FORMAT`` output → one shape per line."""
    shapes = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        fields = line.strip().split("|")
        try:
            if len(fields) != 3:
                raise ValueError(f"{len(fields)} fields instead of 3")
            cpus = int(fields[0].rstrip("+"))
            shapes.append(
                NodeShape(cpus, parse_memory_mb(fields[1].rstrip("+")), parse_gres_gpus(fields[2]))
            )
        except ValueError as exc:
            raise SchedulerOutputError(
                f"sinfo output is not CPUS|MEMORY|GRES ({exc})", stdout, argv=argv
            ) from exc
    return shapes
