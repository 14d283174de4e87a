"""CAF's job model: a `Job` that a splitter turns into `SubJob` objects, and their status.

A `Job` holds what to run (``command`` + ``arguments``, after ``setup_cmds``), where
(``working_dir``; each subjob gets ``working_dir/<id>``), with what (``input_sandbox_files``
copied in, ``input_files`` listed for `get_input_data`), what to keep (``output_patterns``,
collected into ``output_dir/<id>``) and on what (``backend_args``: the queue and resources).
Every value is validated when it is set; a bad one raises `JobError` naming the job, the field
and the value. Paths are made absolute when set, as in CAF, so a job reads the same wherever
it is loaded. `Job.dump_to_json` writes CAF's JSON layout and `Job.from_json` reads it back
into an equal job (``job == Job.from_json(path)``; dumping that again gives the same text).
"""

from __future__ import annotations

import enum
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distributor.jobs import validation as check
from distributor.jobs.errors import JobError
from distributor.jobs.validation import Argument

if TYPE_CHECKING:
    from distributor.jobs.splitters import SubjobSplitter

__all__ = [
    "EXIT_STATUSES",
    "Job",
    "JobStatus",
    "SubJob",
    "lowest_status",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,199}$")


class JobStatus(enum.StrEnum):
    """CAF's statuses, in their order: a job's status is the lowest of its subjobs'."""

    INIT = "init"
    """Not handed to a scheduler yet (waiting in the service, or not submitted at all)."""
    SUBMITTED = "submitted"
    RUNNING = "running"
    FAILED = "failed"
    COMPLETED = "completed"
    """Ended with status 0, and its outputs collected."""

    @property
    def level(self) -> int:
        """0 (init) to 4 (completed): CAF's ``Job.statuses`` value."""
        return list(JobStatus).index(self)


EXIT_STATUSES: frozenset[JobStatus] = frozenset({JobStatus.FAILED, JobStatus.COMPLETED})
"""The statuses of a job (or subjob) that has finished, well or not (CAF's ``exit_statuses``)."""


def lowest_status(statuses: Iterable[JobStatus]) -> JobStatus:
    """The lowest of `statuses` in CAF's order (``init`` when there are none)."""
    return min(statuses, key=lambda status: status.level, default=JobStatus.INIT)


class Job:
    """Something to run, possibly split into subjobs; CAF's ``Job``.

    Args:
        name: letters, digits and ``_ . + -`` (starting with a letter or digit), at most 200;
            names the job's tasks in the service journal (``<name>_<subjob id>``).
        command: the program and its first words, an argv (never a shell line).
        arguments: appended to `command` (numbers become words); a subjob has its own.
        input_sandbox_files: files and directories copied into every subjob's working
            directory.
        working_dir: each subjob runs in ``working_dir/<id>`` (made absolute; default ``.``).
        output_dir: outputs of subjob *i* are collected into ``output_dir/<i>``.
        output_patterns: globs, relative to a subjob's working directory, of its outputs.
        input_files: the files the subjobs share out (a splitter decides who gets which); a
            plain path is made absolute, a URI such as ``root://host/f`` is kept; no duplicates.
        setup_cmds: shell lines run (by bash, in the subjob's working directory) before the
            command, e.g. ``source /cvmfs/…/setup.sh``; the first that fails ends the subjob.
        backend_args: the ``queue`` and the resources (``memory``, ``runtime``, ``cores``, a
            plugin's keys such as ``slurm.account``) each subjob asks for.
        splitter: makes the subjobs (`Job.split`); not part of the JSON (as in CAF).

    Raises:
        JobError: a value that cannot be accepted (the message names job, field and value).
    """

    def __init__(
        self,
        name: str,
        *,
        command: Sequence[str] = (),
        arguments: Sequence[Argument] = (),
        input_sandbox_files: Iterable[str | os.PathLike[str]] = (),
        working_dir: str | os.PathLike[str] = ".",
        output_dir: str | os.PathLike[str] = ".",
        output_patterns: Sequence[str] = (),
        input_files: Sequence[str] = (),
        setup_cmds: Sequence[str] = (),
        backend_args: Mapping[str, Argument] | None = None,
        splitter: SubjobSplitter | None = None,
    ) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise JobError(
                repr(name), "name", name,
                "must be letters, digits and _ . + - (starting with a letter or digit), "
                "at most 200 characters",
            )  # fmt: skip
        self.name = name
        self.command = command
        self.arguments = arguments
        self.input_sandbox_files = input_sandbox_files
        self.working_dir = working_dir
        self.output_dir = output_dir
        self.output_patterns = output_patterns
        self.input_files = input_files
        self.setup_cmds = setup_cmds
        self.backend_args = {} if backend_args is None else backend_args
        self.splitter: SubjobSplitter | None = splitter
        self.subjobs: dict[int, SubJob] = {}
        self._status = JobStatus.INIT
        self.message = ""
        """Why the job failed, when it has no subjobs to say it (not part of the JSON)."""

    # -- fields ----------------------------------------------------------------------------------

    @property
    def command(self) -> list[str]:
        """The program and its first words (an argv)."""
        return self._command

    @command.setter
    def command(self, value: Sequence[str]) -> None:
        self._command = check.strings(self.name, "command", value, allow_empty_items=True)

    @property
    def arguments(self) -> list[Argument]:
        """Words appended to `command` when the job has no subjobs (each subjob has its own)."""
        return self._arguments

    @arguments.setter
    def arguments(self, value: Sequence[Argument]) -> None:
        self._arguments = check.arguments(self.name, "arguments", value)

    cmd = command
    """CAF's name for `command`."""
    args = arguments
    """CAF's name for `arguments`."""

    @property
    def input_sandbox_files(self) -> list[Path]:
        """Files and directories copied into each subjob's working directory (absolute)."""
        return self._input_sandbox_files

    @input_sandbox_files.setter
    def input_sandbox_files(self, value: Iterable[str | os.PathLike[str]]) -> None:
        if isinstance(value, str | bytes | os.PathLike) or not isinstance(value, Iterable):
            raise JobError(self.name, "input_sandbox_files", value, "must be a list of paths")
        self._input_sandbox_files = [check.path(self.name, "input_sandbox_files", p) for p in value]

    @property
    def working_dir(self) -> Path:
        """Where subjob *i* runs: ``working_dir/<i>`` (absolute)."""
        return self._working_dir

    @working_dir.setter
    def working_dir(self, value: str | os.PathLike[str]) -> None:
        self._working_dir = check.path(self.name, "working_dir", value)

    @property
    def output_dir(self) -> Path:
        """Where the outputs of subjob *i* are collected: ``output_dir/<i>`` (absolute)."""
        return self._output_dir

    @output_dir.setter
    def output_dir(self, value: str | os.PathLike[str]) -> None:
        self._output_dir = check.path(self.name, "output_dir", value)

    @property
    def output_patterns(self) -> list[str]:
        """Globs of the outputs, relative to a subjob's working directory."""
        return self._output_patterns

    @output_patterns.setter
    def output_patterns(self, value: Sequence[str]) -> None:
        self._output_patterns = check.patterns(self.name, value)

    @property
    def input_files(self) -> list[str]:
        """The files the subjobs share out, in order."""
        return self._input_files

    @input_files.setter
    def input_files(self, value: Sequence[str]) -> None:
        self._input_files = check.input_files(self.name, "input_files", value)

    @property
    def setup_cmds(self) -> list[str]:
        """Shell lines run before the command, in order."""
        return self._setup_cmds

    @setup_cmds.setter
    def setup_cmds(self, value: Sequence[str]) -> None:
        self._setup_cmds = check.strings(self.name, "setup_cmds", value, allow_empty_items=True)

    @property
    def backend_args(self) -> dict[str, Argument]:
        """The queue and resources every subjob asks for."""
        return self._backend_args

    @backend_args.setter
    def backend_args(self, value: Mapping[str, Argument]) -> None:
        self._backend_args = check.backend_args(self.name, value)

    @property
    def max_files_per_subjob(self) -> int | None:
        """Setting it makes the splitter a `MaxFilesSplitter` (as in CAF)."""
        return getattr(self.splitter, "max_files_per_subjob", None)

    @max_files_per_subjob.setter
    def max_files_per_subjob(self, value: int) -> None:
        from distributor.jobs.splitters import MaxFilesSplitter

        self.splitter = MaxFilesSplitter(max_files_per_subjob=value)

    @property
    def max_subjobs(self) -> int | None:
        """Setting it makes the splitter a `MaxSubjobsSplitter` (as in CAF)."""
        return getattr(self.splitter, "max_subjobs", None)

    @max_subjobs.setter
    def max_subjobs(self, value: int) -> None:
        from distributor.jobs.splitters import MaxSubjobsSplitter

        self.splitter = MaxSubjobsSplitter(max_subjobs=value)

    # -- subjobs and status ------------------------------------------------------------------------

    def create_subjob(
        self, subjob_id: int, input_files: Sequence[str] | None = None,
        args: Sequence[Argument] | None = None,
    ) -> SubJob:  # fmt: skip
        """Add subjob `subjob_id` with its input files and arguments, and return it.

        Raises:
            JobError: the id is not a whole number from 0, or the job already has it.
        """
        subjob_id = check.subjob_id(self.name, subjob_id)
        if subjob_id in self.subjobs:
            raise JobError(self.name, "subjobs", subjob_id, "is already a subjob of this job")
        subjob = SubJob(self, subjob_id, input_files, args)
        self.subjobs[subjob_id] = subjob
        return subjob

    def split(self) -> None:
        """Make the subjobs, if the job has none yet: with the splitter, else one subjob 0
        with every input file and the job's arguments (a job always runs as subjobs).

        Raises:
            SplitterError: the splitter cannot split this job (see each splitter).
        """
        if self.subjobs:
            return
        if self.splitter is not None:
            self.splitter.create_subjobs(self)
        else:
            self.create_subjob(0, self.input_files, self.arguments)

    @property
    def status(self) -> JobStatus:
        """The lowest status of the subjobs (CAF's order); the job's own without subjobs."""
        if self.subjobs:
            return lowest_status(subjob.status for subjob in self.subjobs.values())
        return self._status

    @status.setter
    def status(self, value: JobStatus | str) -> None:
        self._status = JobStatus(value)

    def ready(self) -> bool:
        """True once every subjob has finished (completed or failed)."""
        return self.status in EXIT_STATUSES

    # -- JSON ------------------------------------------------------------------------------------

    @property
    def job_dict(self) -> dict[str, Any]:
        """The job and its subjobs in CAF's JSON layout (``cmd``, ``args``, paths as text)."""
        return {
            "name": self.name,
            "input_sandbox_files": [p.as_posix() for p in self.input_sandbox_files],
            "working_dir": self.working_dir.as_posix(),
            "output_dir": self.output_dir.as_posix(),
            "output_patterns": list(self.output_patterns),
            "cmd": list(self.command),
            "args": list(self.arguments),
            "input_files": list(self.input_files),
            "setup_cmds": list(self.setup_cmds),
            "backend_args": dict(self.backend_args),
            "subjobs": [self.subjobs[i].job_dict for i in sorted(self.subjobs)],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        """A job from CAF's JSON layout (`job_dict`); ``name`` is required, the rest default.

        Raises:
            JobError: a missing name, an unknown key, or a bad value.
        """
        if not isinstance(data, Mapping):
            raise JobError("?", "job", data, "must be a JSON object")
        unknown = sorted(set(data) - _JSON_KEYS)
        name = data.get("name")
        label = name if isinstance(name, str) else "?"
        if unknown:
            known = ", ".join(sorted(_JSON_KEYS))
            raise JobError(label, unknown[0], data[unknown[0]],
                           f"is not a key of CAF's job JSON ({known})")  # fmt: skip
        if not isinstance(name, str):
            raise JobError(label, "name", name, "is required (a string)")
        job = cls(
            name,
            command=data.get("cmd", ()),
            arguments=data.get("args", ()),
            input_sandbox_files=data.get("input_sandbox_files", ()),
            working_dir=data.get("working_dir", "."),
            output_dir=data.get("output_dir", "."),
            output_patterns=data.get("output_patterns", ()),
            input_files=data.get("input_files", ()),
            setup_cmds=data.get("setup_cmds", ()),
            backend_args=data.get("backend_args") or {},
        )
        subjobs = data.get("subjobs", [])
        if not isinstance(subjobs, list):
            raise JobError(name, "subjobs", subjobs, "must be a list of {id, input_files, args}")
        for entry in subjobs:
            if not isinstance(entry, Mapping) or "id" not in entry:
                raise JobError(name, "subjobs", entry, "must be an object with an id")
            extra = sorted(set(entry) - {"id", "input_files", "args"})
            if extra:
                raise JobError(name, "subjobs", entry, f"unknown key {extra[0]!r}")
            job.create_subjob(entry["id"], entry.get("input_files", []), entry.get("args", []))
        return job

    def dump_to_json(self, file_path: str | os.PathLike[str]) -> None:
        """Write `job_dict` to `file_path` (CAF's ``Job.dump_to_json``), indented, sorted as
        CAF writes it; `from_json` reads it back into an equal job."""
        Path(file_path).write_text(self.to_json())

    def to_json(self) -> str:
        """The text `dump_to_json` writes."""
        return json.dumps(self.job_dict, indent=2) + "\n"

    @classmethod
    def from_json(cls, file_path: str | os.PathLike[str]) -> Job:
        """Read a job written by `dump_to_json` (or by CAF).

        Raises:
            JobError: the file is not such a job (the message names the field).
            OSError: the file cannot be read.
        """
        try:
            data = json.loads(Path(file_path).read_text())
        except json.JSONDecodeError as exc:
            raise JobError(os.fspath(file_path), "file", os.fspath(file_path),
                           f"is not JSON: {exc}") from exc  # fmt: skip
        return cls.from_dict(data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Job):
            return NotImplemented
        return self.job_dict == other.job_dict

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return f"Job({self.name})"


_JSON_KEYS = frozenset(
    {"name", "input_sandbox_files", "working_dir", "output_dir", "output_patterns", "cmd",
     "args", "input_files", "setup_cmds", "backend_args", "subjobs"}
)  # fmt: skip


class SubJob:
    """One part of a `Job`: its own input files and arguments, the rest from the job.

    Attributes:
        id: a whole number from 0, unique within the job.
        parent: the job.
        input_files: this subjob's share (listed for `get_input_data`).
        args: appended to the job's command.
        status: where it stands (`JobStatus`), set by whoever runs it.
        message: why it failed (empty otherwise).
    """

    def __init__(
        self,
        job: Job,
        subjob_id: int,
        input_files: Sequence[str] | None = None,
        args: Sequence[Argument] | None = None,
    ) -> None:
        self.id = check.subjob_id(job.name, subjob_id)
        self.parent = job
        self.input_files = list(input_files or [])
        self.args = list(args or [])
        self._status = JobStatus.INIT
        self.message = ""

    @property
    def input_files(self) -> list[str]:
        """This subjob's input files, in order."""
        return self._input_files

    @input_files.setter
    def input_files(self, value: Sequence[str]) -> None:
        self._input_files = check.input_files(
            self.parent.name, f"subjobs[{self.id}].input_files", value
        )

    @property
    def args(self) -> list[Argument]:
        """This subjob's arguments (appended to the job's command)."""
        return self._args

    @args.setter
    def args(self, value: Sequence[Argument]) -> None:
        self._args = check.arguments(self.parent.name, f"subjobs[{self.id}].args", value)

    @property
    def name(self) -> str:
        """``<job name>_<id>`` (CAF's), the task's name in the service journal."""
        return f"{self.parent.name}_{self.id}"

    @property
    def working_dir(self) -> Path:
        """``<job working_dir>/<id>``."""
        return self.parent.working_dir / str(self.id)

    @property
    def output_dir(self) -> Path:
        """``<job output_dir>/<id>``."""
        return self.parent.output_dir / str(self.id)

    @property
    def full_command(self) -> list[str]:
        """The argv this subjob runs: the job's command, then this subjob's arguments."""
        return [*self.parent.command, *(str(arg) for arg in self.args)]

    @property
    def status(self) -> JobStatus:
        """Where this subjob stands."""
        return self._status

    @status.setter
    def status(self, value: JobStatus | str) -> None:
        self._status = JobStatus(value)

    def ready(self) -> bool:
        """True once it has finished (completed or failed)."""
        return self.status in EXIT_STATUSES

    @property
    def job_dict(self) -> dict[str, Any]:
        """``{"id", "input_files", "args"}``: what is this subjob's own (CAF's layout)."""
        return {"id": self.id, "input_files": list(self.input_files), "args": list(self.args)}

    def __repr__(self) -> str:
        return f"SubJob({self.name})"
