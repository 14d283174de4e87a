"""`SgeClient`: every Grid Engine command this plugin runs, built as argv and parsed.

It is the plugin's `StatusBackend`:

* `SgeClient.query_status` is **one** ``qstat -xml -u USER`` for all tracked jobs. A pending
  array is one entry with a task range (``3-1000:1``), so the output stays small however many
  tasks are tracked; ranges are matched against the wanted ids without expanding them.
* `SgeClient.query_accounting` is **one** ``qacct`` call: ``qacct -j JOB`` when the jobs that
  left qstat belong to one job (an array, or a single job), else ``qacct -o USER -j '*' -E -b
  TIME`` — every record of this user that ended since the earliest of their submissions
  (``qacct`` takes only one ``-j``).

Commands run through a `CommandRunner` with this process's environment plus ``SGE_ROOT`` and
``SGE_CELL`` when given (the Debian ``/usr/bin/q*`` wrappers need neither).
"""

from __future__ import annotations

import os
import pwd
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from distributor import RemoteExitInfo, SchedulerError
from distributor.batch import (
    GENERIC_TRANSIENT,
    CommandRunner,
    JobStatus,
    RetryPolicy,
    TrackedJob,
    Transport,
)
from distributor.worker import ExitRecord
from distributor_sge import accounting, parsers, states

__all__ = ["SGE_SUBMIT_TRANSIENT", "SGE_TRANSIENT", "JobInfo", "SgeClient", "sge_environment"]

log = structlog.get_logger(__name__)

_NOT_ACCESS_DENIED = r"(?s)^(?!.*access denied)"
SGE_TRANSIENT: tuple[str, ...] = (
    *GENERIC_TRANSIENT,
    _NOT_ACCESS_DENIED + r".*unable to contact qmaster",
    _NOT_ACCESS_DENIED + r".*commlib error",
    r"failed receiving gdi request",
    r"got send timeout",
    r"qmaster is in (shutdown|startup)",
)
"""Failures of Grid Engine commands worth retrying (qmaster briefly unreachable). A commlib
``access denied`` (host name resolution) is permanent and not retried."""

SGE_SUBMIT_TRANSIENT: tuple[str, ...] = (
    _NOT_ACCESS_DENIED + r".*unable to contact qmaster",
    r"connection refused",
)
"""Failures after which ``qsub`` certainly did not submit, so it may be repeated."""

_MAX_TOKENS = 2000  # ids per qdel/qstat -j argument list
_DELETED = ("has deleted", "for deletion", "forced the deletion")  # qdel's success lines
_STDERR_TAIL = 4096
_QACCT_MARGIN = 600.0  # seconds subtracted from the earliest submission (clock skew)
_FALLBACK_WINDOW = 7 * 86400.0


def sge_environment(sge_root: str | None = None, sge_cell: str | None = None) -> dict[str, str]:
    """This process's environment with ``SGE_ROOT``/``SGE_CELL`` set when given."""
    env = dict(os.environ)
    if sge_root is not None:
        env["SGE_ROOT"] = sge_root
    if sge_cell is not None:
        env["SGE_CELL"] = sge_cell
    return env


@dataclass(frozen=True, slots=True)
class JobInfo:
    """What the client remembers about a job it submitted or adopted.

    Attributes:
        name: the job name given to qsub (names its ``.o``/``.e`` files).
        submitted_at: wall-clock time of the submission (bounds the accounting query).
    """

    name: str
    submitted_at: float


class SgeClient:
    """Runs and parses Grid Engine commands; implements `distributor.batch.StatusBackend`.

    Args:
        sge_root / sge_cell: ``SGE_ROOT``/``SGE_CELL`` for every command (default: the
            environment's).
        transport: where commands run (default: locally).
        retry_policy: timeouts and retries (default: 60 s, 4 tries); which failures are
            retried is `SGE_TRANSIENT` (queries) and `SGE_SUBMIT_TRANSIENT` (submissions).
        user: whose jobs qstat and qacct list (default: the effective user of this process).
    """

    def __init__(
        self,
        *,
        sge_root: str | None = None,
        sge_cell: str | None = None,
        transport: Transport | None = None,
        retry_policy: RetryPolicy | None = None,
        user: str | None = None,
    ) -> None:
        self.runner = CommandRunner(
            transport,
            retry_policy,
            transient=SGE_TRANSIENT,
            submit_transient=SGE_SUBMIT_TRANSIENT,
            env=lambda: sge_environment(sge_root, sge_cell),
        )
        # the owner Grid Engine records is the effective user, whatever $USER says
        self.user = user or pwd.getpwuid(os.geteuid()).pw_name
        self._jobs: dict[str, JobInfo] = {}

    # --- what the client remembers --------------------------------------------------------

    def remember(self, job: str, info: JobInfo) -> None:
        """Record a job's name and submission time (for log files and accounting queries)."""
        self._jobs[job] = info

    def job_info(self, job: str) -> JobInfo | None:
        """What `remember` recorded for `job`, if anything."""
        return self._jobs.get(job)

    # --- submission and deletion ----------------------------------------------------------

    def submit(self, script: Path) -> str:
        """Submit a job script with ``qsub -terse`` and return the job number.

        Raises:
            SchedulerError: qsub failed (not retried after a timeout: it may have submitted).
            SchedulerOutputError: qsub printed no job number.
        """
        argv = ["qsub", "-terse", str(script)]
        result = self.runner.submit(argv)
        return parsers.parse_qsub(result.stdout, argv)

    def delete(self, tokens: Sequence[str], *, force: bool = False) -> None:
        """``qdel`` jobs and tasks (``123``, ``123.4``) in as few calls as possible.

        Ids that no longer exist are ignored (qdel reports them and exits 1, but still
        deletes the others). With `force`, ``qdel -f``: the qmaster drops the jobs even if
        their execution daemon does not confirm (a manager's or operator's right, or anyone's
        with ``ENABLE_FORCED_QDEL``).

        Raises:
            SchedulerError: qdel failed for another reason.
        """
        for start in range(0, len(tokens), _MAX_TOKENS):
            argv = ["qdel", *(["-f"] if force else []), *tokens[start : start + _MAX_TOKENS]]
            try:
                self.runner.run(argv)
            except SchedulerError as exc:
                lines = [
                    line
                    for line in f"{exc.stdout}\n{exc.stderr}".splitlines()
                    if line.strip() and not any(ok in line for ok in _DELETED)
                ]
                if exc.returncode is None or not all("does not exist" in x for x in lines):
                    raise
                log.debug("qdel_ignored_unknown", unknown=len(lines))

    # --- cluster configuration -------------------------------------------------------------

    def _settings(self, argv: list[str]) -> dict[str, str]:
        return parsers.parse_key_values(self.runner.run(argv).stdout, argv)

    def global_config(self) -> dict[str, str]:
        """``qconf -sconf`` (the global configuration) as setting → value."""
        return self._settings(["qconf", "-sconf"])

    def queue_names(self) -> list[str]:
        """Every cluster queue (``qconf -sql``)."""
        return self.runner.run(["qconf", "-sql"]).stdout.split()

    def queue_config(self, queue: str) -> dict[str, str]:
        """``qconf -sq QUEUE`` as setting → value.

        Raises:
            SchedulerError: no such queue (qconf exits 1), or the cell does not answer.
        """
        return self._settings(["qconf", "-sq", queue])

    def pe_config(self, pe: str) -> dict[str, str]:
        """``qconf -sp PE`` as setting → value."""
        return self._settings(["qconf", "-sp", pe])

    def complexes(self) -> dict[str, dict[str, str]]:
        """``qconf -sc``: complex name → column → value."""
        argv = ["qconf", "-sc"]
        return parsers.parse_complexes(self.runner.run(argv).stdout, argv)

    def hosts(self) -> list[parsers.HostShape]:
        """Execution hosts with their memory and queue slots (``qhost -q -xml``)."""
        argv = ["qhost", "-q", "-xml"]
        return parsers.parse_qhost(self.runner.run(argv).stdout, argv)

    def error_reasons(self, jobs: Sequence[str]) -> dict[str, dict[int, str]]:
        """The ``error reason`` of jobs in an error state (``qstat -j J1,J2``): job → task →
        reason."""
        reasons: dict[str, dict[int, str]] = {}
        for start in range(0, len(jobs), _MAX_TOKENS):
            argv = ["qstat", "-j", ",".join(jobs[start : start + _MAX_TOKENS])]
            reasons.update(parsers.parse_error_reasons(self.runner.run(argv).stdout))
        return reasons

    # --- StatusBackend ---------------------------------------------------------------------

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One ``qstat -xml`` for all ids (see `distributor.batch.StatusBackend.query_status`)."""
        wanted: dict[str, list[tuple[str, int | None]]] = {}
        for distributor_id in distributor_ids:
            split = parsers.split_id(distributor_id)
            if split is not None:
                wanted.setdefault(split[0], []).append((distributor_id, split[1]))
        if not wanted:
            return {}
        argv = ["qstat", "-xml", "-u", self.user]
        entries = parsers.parse_qstat(self.runner.run(argv).stdout, argv)
        statuses: dict[str, JobStatus] = {}
        for entry in entries:
            for distributor_id, task in wanted.get(entry.job, ()):
                if entry.tasks is None:
                    matches = task is None
                else:
                    matches = task is not None and any(task in r for r in entry.tasks)
                if matches:
                    statuses[distributor_id] = JobStatus(
                        distributor_id,
                        states.phase_of(entry.state),
                        entry.state,
                        source="qstat",
                    )
        return statuses

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One ``qacct`` for all ids (see the module docstring).

        Raises:
            SchedulerError: qacct failed for another reason than "no such job".
        """
        jobs = sorted({key for key in map(parsers.job_key, distributor_ids) if key})
        if not jobs:
            return {}
        if len(jobs) == 1:
            argv = ["qacct", "-j", jobs[0]]
        else:
            known = [
                info.submitted_at
                for job in jobs
                if (info := self._jobs.get(job)) is not None and info.submitted_at > 0
            ]
            # a job without a known submission time widens the window to a week
            since = min(known) if len(known) == len(jobs) else time.time() - _FALLBACK_WINDOW
            stamp = time.strftime("%Y%m%d%H%M.%S", time.localtime(since - _QACCT_MARGIN))
            argv = ["qacct", "-o", self.user, "-j", "*", "-E", "-b", stamp]
        try:
            # accounting lagging behind is common and handled by the tracker: fail fast
            result = self.runner.run(argv, attempts=2)
        except SchedulerError as exc:
            if exc.returncode == 1 and "not found" in exc.stderr:
                return {}
            raise
        records = accounting.latest_records(accounting.parse_qacct(result.stdout, argv))
        wanted = set(distributor_ids)
        return {did: rec.to_status() for did, rec in records.items() if did in wanted}

    def stderr_path(self, job: TrackedJob) -> Path | None:
        """The job's stderr file (``<task dir>/<name>.e<job>[.<task>]``), if it can be named."""
        split = parsers.split_id(job.distributor_id)
        if split is None or job.record_path is None:
            return None
        info = self._jobs.get(split[0])
        if info is None:
            return None
        suffix = f".{split[1]}" if split[1] is not None else ""
        return job.record_path.parent / f"{info.name}.e{split[0]}{suffix}"

    def _stderr_tail(self, job: TrackedJob) -> str:
        path = self.stderr_path(job)
        if path is None:
            return ""
        try:
            with path.open("rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - _STDERR_TAIL))
                return handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        """The Grid Engine state map (`distributor_sge.states.classify`), with the tail of
        the job's stderr for anything but a success."""
        succeeded = status.exit_code == 0 and status.state == "failed 0"
        tail = "" if succeeded else self._stderr_tail(job)
        return states.classify(job, status, record, tail)
