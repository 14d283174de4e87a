"""`SgeClient`: every Grid Engine command this plugin runs, built as argv and parsed.

* `SgeClient.query_status` is **one** ``qstat -xml -u USER`` for all tracked jobs. A pending
  array is one entry with a task range (``3-1000:1``), so the output stays small however many
  tasks are tracked; ranges are matched against the wanted ids without expanding them.
* `SgeClient.query_accounting` is **one** ``qacct`` call: ``qacct -j JOB`` when the jobs that
  left qstat belong to one job (an array, or a single job), else ``qacct -o USER -j '*' -E -b
  TIME`` — every record of this user that *ended* since ``TIME`` (``qacct`` takes only one
  ``-j``). ``TIME`` is the earliest moment each job is known to have existed: its submission
  by this client, or the first qstat of this client that listed it — which is what a new
  process has for jobs adopted from an earlier one that are still queued or running. A job
  known neither way (it ended before this process first looked) widens the window to a week.
* `SgeClient.find_jobs` is **one** ``qstat -xml -u USER``, filtered by job name here.

Commands run through a `CommandRunner` with this process's environment plus ``SGE_ROOT`` and
``SGE_CELL`` when given (the Debian ``/usr/bin/q*`` wrappers need neither).
"""

from __future__ import annotations

import os
import pwd
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path

from distributor import SchedulerError
from distributor.batch import (
    GENERIC_TRANSIENT,
    CommandRunner,
    JobStatus,
    NamedJob,
    RetryPolicy,
    Transport,
)
from distributor.logs import get_logger
from distributor_sge import accounting, parsers, states

__all__ = ["SGE_SUBMIT_TRANSIENT", "SGE_TRANSIENT", "SgeClient", "sge_environment"]

log = get_logger(__name__)

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

MAX_ERROR_REASON_JOBS = 2000
"""Jobs one ``qstat -j`` is asked about (its argument stays far below the kernel's limit)."""

_MAX_TOKENS = 2000  # ids per qdel argument list
_DELETED = ("has deleted", "for deletion", "forced the deletion")  # qdel's success lines
_QACCT_MARGIN = 600.0  # seconds subtracted from the earliest known time (clock skew)
_FALLBACK_WINDOW = 7 * 86400.0
_KNOWN_JOBS = 20_000  # job keys whose earliest known time is kept (oldest dropped first)


def sge_environment(sge_root: str | None = None, sge_cell: str | None = None) -> dict[str, str]:
    """This process's environment with ``SGE_ROOT``/``SGE_CELL`` set when given."""
    env = dict(os.environ)
    if sge_root is not None:
        env["SGE_ROOT"] = sge_root
    if sge_cell is not None:
        env["SGE_CELL"] = sge_cell
    return env


class SgeClient:
    """Runs and parses Grid Engine commands (see the module docstring).

    Args:
        sge_root / sge_cell: ``SGE_ROOT``/``SGE_CELL`` for every command (default: the
            environment's).
        transport: where commands run (default: locally).
        retry_policy: timeouts and retries (default: 60 s, 4 tries); which failures are
            retried is `SGE_TRANSIENT` (queries) and `SGE_SUBMIT_TRANSIENT` (submissions).
        user: whose jobs qstat and qacct list (default: the effective user of this process).
        clock: wall-clock seconds, for the accounting window (injectable for tests).
    """

    def __init__(
        self,
        *,
        sge_root: str | None = None,
        sge_cell: str | None = None,
        transport: Transport | None = None,
        retry_policy: RetryPolicy | None = None,
        user: str | None = None,
        clock: Callable[[], float] = time.time,
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
        self._clock = clock
        self._existed_at: OrderedDict[str, float] = OrderedDict()  # job → earliest time it existed

    def _note(self, jobs: Iterable[str], when: float) -> None:
        for job in jobs:
            if job not in self._existed_at:
                self._existed_at[job] = when
                if len(self._existed_at) > _KNOWN_JOBS:
                    self._existed_at.popitem(last=False)

    # --- submission and deletion ----------------------------------------------------------

    def submit(self, script: Path) -> str:
        """Submit a job script with ``qsub -terse`` and return the job number.

        Raises:
            SchedulerError: qsub failed (not retried after a timeout: it may have submitted).
            SchedulerOutputError: qsub printed no job number.
        """
        submitted_at = self._clock()
        argv = ["qsub", "-terse", str(script)]
        result = self.runner.submit(argv)
        job = parsers.parse_qsub(result.stdout, argv)
        self._note([job], submitted_at)
        return job

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

    # --- jobs ----------------------------------------------------------------------------

    def error_reasons(self, jobs: Sequence[str]) -> dict[str, dict[int, str]]:
        """The ``error reason`` of jobs in an error state with one ``qstat -j J1,J2,...`` (the
        first `MAX_ERROR_REASON_JOBS` of them): job → task → reason. Jobs that no longer
        exist have none.

        Raises:
            SchedulerError: qstat failed for another reason.
        """
        if not jobs:
            return {}
        argv = ["qstat", "-j", ",".join(jobs[:MAX_ERROR_REASON_JOBS])]
        try:
            return parsers.parse_error_reasons(self.runner.run(argv).stdout)
        except SchedulerError as exc:
            # qstat -j exits 1 only when none of the jobs exists (any longer)
            if exc.returncode == 1 and "do not exist" in exc.stderr:
                return {}
            raise

    def find_jobs(self, job_names: Collection[str]) -> list[NamedJob]:
        """The jobs of this user that qstat lists (queued or running) under any of
        `job_names`, oldest (lowest job number) first, with one ``qstat -xml -u USER``.

        Raises:
            SchedulerError: qstat failed.
            SchedulerOutputError: its output could not be parsed.
        """
        wanted = set(job_names)
        if not wanted:
            return []
        argv = ["qstat", "-xml", "-u", self.user]
        now = self._clock()
        listed = parsers.parse_named_jobs(self.runner.run(argv).stdout, argv)
        found = [job for job in listed if job.job_name in wanted]
        self._note((job.key for job in found), now)
        return found

    # --- status and accounting ------------------------------------------------------------

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
        now = self._clock()
        entries = parsers.parse_qstat(self.runner.run(argv).stdout, argv)
        self._note({entry.job for entry in entries if entry.job in wanted}, now)
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
        jobs = sorted({key for key in map(parsers.job_key, distributor_ids) if key}, key=int)
        if not jobs:
            return {}
        if len(jobs) == 1:
            argv = ["qacct", "-j", jobs[0]]
        else:
            known = [when for job in jobs if (when := self._existed_at.get(job)) is not None]
            # a job that ended before this client first looked widens it to a week
            complete = len(known) == len(jobs)
            since = min(known) if complete else self._clock() - _FALLBACK_WINDOW
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
