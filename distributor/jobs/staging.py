"""A subjob's files: its working directory before it runs, its outputs after it succeeded.

`SubjobPlan` is everything a subjob needs on disk, derived from its `SubJob`. A `Staging`
puts it there (`Staging.stage_in`: the sandbox, the input-data JSON and the script) and brings
the outputs back (`Staging.collect`). `SharedFilesystem` is the one built in: the working and
output directories are on a filesystem the submitting machine and the nodes share (the usual
batch set-up, and this machine's dev clusters). A transport that copies files to a remote
cluster (an SSH transport's staging) is another `Staging`; `distributor.jobs.runner.JobRunner`
takes it as ``staging=`` and needs nothing else.

Both steps are idempotent and atomic, so a controller killed in the middle and started again
neither loses nor doubles anything: a working directory is built beside its place and renamed
into it (its ``.distributor-subjob.json`` records which definition it holds, and one of another
definition is refused, not reused), and outputs are copied into a directory beside
``output_dir/<id>`` that is renamed into place with ``.distributor-collected.json`` listing them.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shlex
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from distributor.jobs.errors import JobError
from distributor.jobs.input_data import INPUT_DATA_ENV, INPUT_DATA_FILE, write_input_data
from distributor.jobs.model import SubJob
from distributor.logs import get_logger

__all__ = [
    "COLLECTED_FILE",
    "RESERVED_NAMES",
    "SCRIPT_FILE",
    "SUBJOB_FILE",
    "SharedFilesystem",
    "Staging",
    "SubjobPlan",
]

log = get_logger(__name__)

SCRIPT_FILE = "__DISTRIBUTOR_SUBJOB__.sh"
"""The script a subjob runs (setup commands, then its command), in its working directory."""
SUBJOB_FILE = ".distributor-subjob.json"
"""Which subjob, of which definition, a working directory was prepared for."""
COLLECTED_FILE = ".distributor-collected.json"
"""The outputs collected into ``output_dir/<id>`` (its presence: collection finished)."""
RESERVED_NAMES = frozenset({SCRIPT_FILE, SUBJOB_FILE, INPUT_DATA_FILE})


@dataclass(frozen=True, slots=True)
class SubjobPlan:
    """What one subjob needs on disk and runs.

    Attributes:
        name: the task's name (``<job>_<id>``); job: the job's name; subjob_id: its id.
        working_dir / output_dir: absolute, the subjob's own (``…/<id>``).
        sandbox: files and directories copied into `working_dir`.
        input_files: listed in the input-data JSON.
        argv: the command and arguments (an argv: quoted into the script).
        setup_cmds: shell lines run before it.
        output_patterns: globs relative to `working_dir`.
    """

    name: str
    job: str
    subjob_id: int
    working_dir: Path
    output_dir: Path
    sandbox: tuple[Path, ...]
    input_files: tuple[str, ...]
    argv: tuple[str, ...]
    setup_cmds: tuple[str, ...]
    output_patterns: tuple[str, ...]

    @classmethod
    def of(cls, subjob: SubJob) -> SubjobPlan:
        """The plan of `subjob`.

        Raises:
            JobError: the job has no command, or a sandbox entry takes a reserved name.
        """
        job = subjob.parent
        if not job.command or not job.command[0]:
            raise JobError(job.name, "command", job.command, "is empty: give the program to run")
        for path in job.input_sandbox_files:
            if path.name in RESERVED_NAMES:
                reason = f"takes the name {path.name!r}, used by the subjob's own files"
                raise JobError(job.name, "input_sandbox_files", str(path), reason)
        return cls(
            name=subjob.name,
            job=job.name,
            subjob_id=subjob.id,
            working_dir=subjob.working_dir,
            output_dir=subjob.output_dir,
            sandbox=tuple(job.input_sandbox_files),
            input_files=tuple(subjob.input_files),
            argv=tuple(subjob.full_command),
            setup_cmds=tuple(job.setup_cmds),
            output_patterns=tuple(job.output_patterns),
        )

    @property
    def script_path(self) -> Path:
        """Where the subjob's script is."""
        return self.working_dir / SCRIPT_FILE

    def script(self) -> str:
        """The bash script the subjob runs: every value quoted, the setup lines as written
        (they are shell by contract), stopping at the first that fails; then ``exec`` of the
        argv."""
        lines = [
            "#!/bin/bash",
            f"# subjob {self.subjob_id} of job {self.job}: written by distributor.jobs",
            "set -e",
            f"export {INPUT_DATA_ENV}={shlex.quote(str(self.working_dir / INPUT_DATA_FILE))}",
            f"export DISTRIBUTOR_JOB={shlex.quote(self.job)}",
            f"export DISTRIBUTOR_SUBJOB_ID={self.subjob_id}",
            f"cd -- {shlex.quote(str(self.working_dir))}",
            *self.setup_cmds,
            "set +e",
            f"exec {shlex.join(self.argv)}",
        ]
        return "\n".join(lines) + "\n"

    def fingerprint(self) -> str:
        """A digest of everything that goes into the working directory."""
        record = {
            "sandbox": [str(p) for p in self.sandbox],
            "input_files": list(self.input_files),
            "script": self.script(),
        }
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


@runtime_checkable
class Staging(Protocol):
    """Puts a subjob's files where it runs and brings its outputs back."""

    def stage_in(self, plan: SubjobPlan) -> None:
        """Prepare `plan.working_dir` (sandbox, input-data JSON, script); a no-op if it is
        already prepared for this plan.

        Raises:
            JobError: the directory holds another definition's subjob, or a sandbox file is
                missing.
            OSError: the files cannot be written.
        """
        ...

    def collect(self, plan: SubjobPlan) -> list[str]:
        """Bring the files matching `plan.output_patterns` into `plan.output_dir`, once.

        Returns:
            The collected paths, relative to `plan.output_dir`, sorted.

        Raises:
            OSError: the outputs cannot be read or written.
        """
        ...


class SharedFilesystem:
    """`Staging` when the submitting machine and the nodes share the filesystem."""

    def stage_in(self, plan: SubjobPlan) -> None:
        """See `Staging.stage_in`."""
        target = plan.working_dir
        fingerprint = plan.fingerprint()
        if target.exists():
            _check_prepared(plan, target, fingerprint)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(target.parent, f".{target.name}.staging-")
        building = target.parent / f".{target.name}.staging-{secrets.token_hex(4)}"
        building.mkdir()
        try:
            for source in plan.sandbox:
                _copy_in(plan, source, building / source.name)
            write_input_data(building, plan.input_files)
            script = building / SCRIPT_FILE
            script.write_text(plan.script())
            script.chmod(0o755)
            record = {"job": plan.job, "subjob": plan.subjob_id, "fingerprint": fingerprint}
            (building / SUBJOB_FILE).write_text(json.dumps(record) + "\n")
            os.rename(building, target)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        log.debug("subjob_staged", job=plan.job, subjob=plan.subjob_id, working_dir=str(target))

    def collect(self, plan: SubjobPlan) -> list[str]:
        """See `Staging.collect`. When the output directory is the working directory (both
        left at ``.``), the outputs are already in place and only listed."""
        target = plan.output_dir
        marker = target / COLLECTED_FILE
        if marker.exists():
            return list(json.loads(marker.read_text())["outputs"])
        matches = _matches(plan)
        if target.resolve() == plan.working_dir.resolve():
            return sorted(matches)
        if target.exists():
            raise JobError(plan.job, "output_dir", str(target),
                           "already exists and was not collected by distributor; remove it "
                           "or choose another output_dir")  # fmt: skip
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(target.parent, f".{target.name}.collecting-")
        building = target.parent / f".{target.name}.collecting-{secrets.token_hex(4)}"
        building.mkdir()
        try:
            for relative in sorted(matches):
                source, destination = plan.working_dir / relative, building / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                if source.is_dir() and not source.is_symlink():
                    shutil.copytree(source, destination, symlinks=True)
                else:
                    shutil.copy2(source, destination, follow_symlinks=False)
            record = {"job": plan.job, "subjob": plan.subjob_id, "outputs": sorted(matches)}
            (building / COLLECTED_FILE).write_text(json.dumps(record) + "\n")
            os.rename(building, target)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        log.info("outputs_collected", job=plan.job, subjob=plan.subjob_id, outputs=len(matches),
                 output_dir=str(target))  # fmt: skip
        return sorted(matches)


def _check_prepared(plan: SubjobPlan, target: Path, fingerprint: str) -> None:
    try:
        record = json.loads((target / SUBJOB_FILE).read_text())
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict) or record.get("fingerprint") != fingerprint:
        raise JobError(plan.job, "working_dir", str(target),
                       f"already exists and does not hold this definition of subjob "
                       f"{plan.subjob_id}; remove it or choose another working_dir")  # fmt: skip


def _copy_in(plan: SubjobPlan, source: Path, destination: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, destination, symlinks=True)
    elif source.exists():
        shutil.copy2(source, destination)
    else:
        raise JobError(plan.job, "input_sandbox_files", str(source), "does not exist")


def _remove_leftovers(directory: Path, prefix: str) -> None:
    """Remove what a killed controller left half-built (never the finished directory)."""
    for path in directory.glob(f"{prefix}*"):
        shutil.rmtree(path, ignore_errors=True)


def _matches(plan: SubjobPlan) -> list[str]:
    """Paths matching the patterns, relative to the working directory, inside it (a match
    reached through a symbolic link to elsewhere is skipped), the subjob's own files left out."""
    root = plan.working_dir.resolve()
    found: set[str] = set()
    for pattern in plan.output_patterns:
        for path in plan.working_dir.glob(pattern):
            relative = path.relative_to(plan.working_dir)
            if relative.parts and relative.parts[0] in RESERVED_NAMES:
                continue
            if not path.parent.resolve().is_relative_to(root):
                log.warning("output_outside_working_dir", job=plan.job, subjob=plan.subjob_id,
                            path=str(path))  # fmt: skip
                continue
            found.add(relative.as_posix())
    return _outermost(found)


def _outermost(paths: Sequence[str] | set[str]) -> list[str]:
    """`paths` without those inside another one of them (a matched directory brings its
    contents)."""
    kept: list[str] = []
    for path in sorted(paths):
        if not any(path.startswith(parent + "/") for parent in kept):
            kept.append(path)
    return kept
