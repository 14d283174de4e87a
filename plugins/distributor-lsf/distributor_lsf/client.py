"""`LsfClient`: every LSF command this plugin runs, built as argv and parsed.

* `LsfClient.query_status` is **one** ``bjobs -a -o ... -json`` call for all ids (array
  elements are asked for by their job id). ``-a`` makes bjobs report jobs that finished less
  than ``CLEAN_PERIOD`` (lsb.params, default 1 hour) ago with their final state, so the
  history command is needed only for jobs mbatchd has already cleaned.
* `LsfClient.query_accounting` is one ``bhist -a -l`` call for the jobs bjobs no longer
  knows.
* `LsfClient.find_jobs` is one ``bjobs -a -o "jobid jobindex job_name" -json`` listing all of
  the user's jobs, filtered here by name (``bjobs -J`` takes a single name).
* `LsfClient.max_array_size` reads ``MAX_JOB_ARRAY_SIZE`` from ``bparams -a``.

Jobs are submitted as ``bsub < job.sh`` (the script on standard input): that is the form in
which every LSF version reads the ``#BSUB`` lines (``bsub job.sh`` needs
``LSB_BSUB_PARSE_SCRIPT=Y``).

Commands run through a `CommandRunner` whose environment is this process's, minus the
``LSB_*_FORMAT`` variables that would change what the commands print, with
``LSB_HMS_TIME_FORMAT=N`` (times in ``N second(s)``, CPU time to a tenth of a second: the
variable overrides lsf.conf's), plus `env` (for example ``LSF_ENVDIR`` to select a cluster).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence

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
from distributor_lsf import parsers

__all__ = [
    "DEFAULT_MAX_JOB_ARRAY_SIZE",
    "LSF_SUBMIT_TRANSIENT",
    "LSF_TRANSIENT",
    "LsfClient",
    "lsf_environment",
]

log = get_logger(__name__)

LSF_TRANSIENT: tuple[str, ...] = (
    *GENERIC_TRANSIENT,
    r"LSF is down",
    r"batch system daemon not responding",
    r"LSF daemon \(LIM\) not responding",
    r"Failed in an LSF library call",
    r"Cannot connect to LSF",
    r"mbatchd.*(not responding|unreachable)",
)
"""Failures of LSF commands worth retrying (mbatchd or LIM briefly unreachable)."""

LSF_SUBMIT_TRANSIENT: tuple[str, ...] = (
    r"LSF is down",
    r"LSF daemon \(LIM\) not responding",
    r"Cannot connect to LSF",
)
"""Failures after which ``bsub`` certainly did not submit, so it may be repeated."""

DEFAULT_MAX_JOB_ARRAY_SIZE = 1000
"""LSF's ``MAX_JOB_ARRAY_SIZE`` where lsb.params does not set it."""

_DROPPED = {"LSB_BJOBS_FORMAT", "LSB_BQUEUES_FORMAT", "LSB_BHOSTS_FORMAT", "LSB_HIST_FORMAT"}
_MAX_TOKENS = 2000  # job ids per command line; beyond that, ask about all of the user's jobs
_CANCEL_HARMLESS = (
    "is being terminated",
    "has already finished",
    "no matching job found",
    "is not found",
    "is being signaled",
    "no unfinished job found",
)


def lsf_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without output-format overrides and with LSF's default
    time format (``LSB_HMS_TIME_FORMAT=N``), updated with `extra`."""
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED}
    env["LSB_HMS_TIME_FORMAT"] = "N"
    env.update(extra or {})
    return env


def tokens(distributor_ids: Sequence[str]) -> list[str]:
    """The job ids to name on a command line: array elements by their job id, deduplicated."""
    seen: dict[str, None] = {}
    for distributor_id in distributor_ids:
        key = parsers.job_key(distributor_id)
        if key is not None:
            seen[key] = None
    return list(seen)


class LsfClient:
    """Runs and parses LSF commands.

    Args:
        env: extra environment for every command (``LSF_ENVDIR``, ``PATH``, ...).
        transport: where commands run (default: locally).
        retry_policy: timeouts and retries (default: 60 s, 4 tries); which failures are
            retried is `LSF_TRANSIENT` (queries) and `LSF_SUBMIT_TRANSIENT` (submissions).
        unit_for_limits: the cluster's ``LSF_UNIT_FOR_LIMITS`` (unit of bare numbers in
            ``bqueues -l``).
    """

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        transport: Transport | None = None,
        retry_policy: RetryPolicy | None = None,
        unit_for_limits: str = "KB",
    ) -> None:
        self.env = dict(env or {})
        self.runner = CommandRunner(
            transport,
            retry_policy,
            transient=LSF_TRANSIENT,
            submit_transient=LSF_SUBMIT_TRANSIENT,
            env=lambda: lsf_environment(self.env),
        )
        self.unit_for_limits = unit_for_limits

    # --- submission and cancellation ------------------------------------------------------

    def submit(self, script: str) -> str:
        """Submit a job script as ``bsub < script`` and return the job id.

        Raises:
            SchedulerError: bsub failed (not retried after a timeout: it may have submitted).
            SchedulerOutputError: bsub printed no job id.
        """
        argv = ["bsub"]
        result = self.runner.submit(argv, stdin=script)
        job_id, queue = parsers.parse_bsub(result.stdout, argv)
        log.debug("bsub_accepted", job_id=job_id, queue=queue)
        return job_id

    def cancel(self, job_tokens: Sequence[str], *, force: bool = False) -> None:
        """``bkill`` the given ids (``123``, ``123[4]``); ids that already finished or that LSF
        no longer knows are not an error. With `force`, ``bkill -r``: LSF removes the jobs at
        once, without waiting for their processes to end (TERM_FORCE_OWNER).

        Raises:
            SchedulerError: bkill failed for another reason.
        """
        for start in range(0, len(job_tokens), _MAX_TOKENS):
            try:
                flags = ["-r"] if force else []
                self.runner.run(["bkill", *flags, *job_tokens[start : start + _MAX_TOKENS]])
            except SchedulerError as exc:
                lines = [
                    line.lower()
                    for line in f"{exc.stdout}\n{exc.stderr}".splitlines()
                    if line.strip()
                ]
                if exc.returncode is None or not lines:
                    raise
                if not all(any(words in line for words in _CANCEL_HARMLESS) for line in lines):
                    raise
                log.debug("bkill_partly_moot", output=lines[:5])

    # --- queues ------------------------------------------------------------------------------

    def queues(self) -> dict[str, parsers.QueueInfo]:
        """Every queue's limits (``bqueues -l``)."""
        argv = ["bqueues", "-l"]
        return parsers.parse_bqueues(
            self.runner.run(argv).stdout, argv, unit_for_limits=self.unit_for_limits
        )

    def max_array_size(self) -> int:
        """The cluster's ``MAX_JOB_ARRAY_SIZE`` (``bparams -a``; LSF's default 1000 where it
        is not set or not a number).

        Raises:
            SchedulerError: bparams failed, or printed no parameters.
        """
        argv = ["bparams", "-a"]
        value = parsers.parse_bparams(self.runner.run(argv).stdout, argv).get(
            "MAX_JOB_ARRAY_SIZE", ""
        )
        return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_JOB_ARRAY_SIZE

    # --- status --------------------------------------------------------------------------

    def _bjobs(self, argv: list[str]) -> str | None:
        """Run a ``bjobs ... -json``; its JSON text, or None when it found no job at all."""
        try:
            result = self.runner.run(argv)
        except SchedulerError as exc:
            # no job found: bjobs exits 255 (every id unknown, or with
            # LSB_BJOBS_CONSISTENT_EXIT_CODE=Y), with JSON error records or plain lines
            if exc.returncode is None:
                raise
            if parsers.not_found_only(exc.stderr) and not exc.stdout.strip():
                return None
            if '"RECORDS"' not in exc.stdout:
                raise
            return exc.stdout
        if not result.stdout.strip() and parsers.not_found_only(result.stderr):
            return None  # "No job found" instead of a JSON document, exit status 0
        return result.stdout

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One ``bjobs`` for all ids (see `distributor.batch.StatusBackend.query_status`)."""
        job_tokens = tokens(distributor_ids)
        if not job_tokens:
            return {}
        argv = ["bjobs", "-a", "-o", parsers.BJOBS_FORMAT, "-json"]
        if len(job_tokens) <= _MAX_TOKENS:
            argv += job_tokens
        text = self._bjobs(argv)
        if text is None:
            return {}
        result = parsers.parse_bjobs(text, argv)
        for token, error in result.errors.items():
            log.warning("bjobs_record_error", job=token, error=error[:300])
        wanted = set(distributor_ids)
        return {did: status for did, status in result.statuses.items() if did in wanted}

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One ``bhist -l`` for all ids (see `distributor.batch.StatusBackend.query_accounting`)."""
        job_tokens = tokens(distributor_ids)
        wanted = set(distributor_ids)
        found: dict[str, JobStatus] = {}
        for start in range(0, len(job_tokens), _MAX_TOKENS):
            argv = ["bhist", "-a", "-l", *job_tokens[start : start + _MAX_TOKENS]]
            try:
                # history unavailable is handled by the tracker: fail fast, do not retry much
                text = self.runner.run(argv, attempts=2).stdout
            except SchedulerError as exc:
                if "no matching job found" in f"{exc.stderr}\n{exc.stdout}".lower():
                    continue
                raise
            for did, status in parsers.parse_bhist(text, argv).items():
                if did in wanted:
                    found[did] = status
        return found

    def find_jobs(self, job_names: Collection[str]) -> list[NamedJob]:
        """The jobs bjobs lists under any of `job_names` (pending, running, suspended, and
        finished less than ``CLEAN_PERIOD`` ago), oldest first, with one
        ``bjobs -a -o "jobid jobindex job_name" -json``.

        bjobs lists the jobs of the user running it when no user is named, which is the
        submitting user also when the commands run elsewhere (a remote `Transport`).

        Raises:
            SchedulerError: bjobs failed, or its output could not be parsed.
        """
        names = set(job_names)
        if not names:
            return []
        argv = ["bjobs", "-a", "-o", parsers.NAMED_FORMAT, "-json"]
        text = self._bjobs(argv)
        if text is None:
            return []
        return [job for job in parsers.parse_named_jobs(text, argv) if job.job_name in names]
