"""`PbsClient`: every PBS command this plugin runs, built as argv and parsed.

It answers for `distributor_pbs.scheduler.PbsScheduler` (which hands it to the batch layer):

* `PbsClient.query_status` is **one** qstat for all tracked ids — ``qstat -x -f -F json -t``
  (PBS Pro) or ``qstat -x -t`` (Torque, XML) — naming each array once as ``123[].server``
  (``-t`` expands its subjobs). PBS Pro's ``-x`` includes finished jobs from the server's job
  history, so a job that ended comes back ``F`` with its ``Exit_status``; Torque keeps ended jobs
  as ``C`` for ``keep_completed`` seconds. Ids qstat no longer knows (``Unknown Job Id``: history
  disabled or expired) are simply absent; qstat's non-zero status for them is expected.
* `PbsClient.query_accounting` returns nothing: PBS Pro's history is already read by the
  status command, and Torque offers users no history (``tracejob`` needs the server's logs).
  The tracker then waits its accounting delay and falls back on the worker's exit record.
* `PbsClient.classify` is `distributor_pbs.states.classify` for the client's flavour.
* `PbsClient.find_jobs` is **one** qstat listing every job the server shows —
  ``qstat -f -x -F json`` (PBS Pro, history included) or ``qstat -x`` (Torque, arrays
  summarised as ``123[].server``) — filtered here by ``Job_Name``: ``qselect -N`` takes one
  name per call, and neither flavour combines ``-u`` with the full formats. As with Slurm's
  ``squeue --name``, other users' jobs are not excluded (a server with ``query_other_jobs``
  shows them), so lookup by name relies on names no one else uses (the service's carry its
  own ids).

The flavour of an ``auto`` client is asked with ``qstat --version`` before its first command
that depends on it (submission, status, lookup, array limit, forced delete), once.

Commands run through a `CommandRunner` whose environment is this process's minus
``PBS_QSTAT_*`` (``PBS_QSTAT_NO_COMPLETE`` would hide Torque's completed jobs), plus
``PBS_DEFAULT`` when a server is given, plus any extra variables (tests put fake clients first on
``PATH`` this way).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from distributor import RemoteExitInfo, ResourceError, SchedulerError, SchedulerOutputError
from distributor.batch import (
    GENERIC_TRANSIENT,
    CommandRunner,
    JobStatus,
    NamedJob,
    RetryPolicy,
    TrackedJob,
    Transport,
)
from distributor.logs import get_logger
from distributor.worker import ExitRecord
from distributor_pbs import parsers, states
from distributor_pbs.flavours import Flavour, flavour_named

__all__ = [
    "PBS_SUBMIT_TRANSIENT",
    "PBS_TRANSIENT",
    "PbsClient",
    "pbs_environment",
]

log = get_logger(__name__)

PBS_TRANSIENT: tuple[str, ...] = (
    *GENERIC_TRANSIENT,
    r"cannot connect to (default )?server",
    r"pbs_connect",
    r"communication failure",
    r"premature end of message",
    r"server (is )?busy",
    r"pbs_iff",
)
"""Failures of PBS commands worth retrying (server briefly unreachable or busy)."""

PBS_SUBMIT_TRANSIENT: tuple[str, ...] = (
    r"cannot connect to (default )?server",
    r"connection refused",
    r"pbs_iff",
)
"""Failures after which ``qsub`` certainly submitted nothing, so it may be repeated."""

_BENIGN_QSTAT = re.compile(r"Unknown Job Id|Job has finished")
_BENIGN_QDEL = re.compile(
    r"Unknown Job Id|has finished|invalid state for job - COMPLETE|nonexistent job id"
)
_MAX_TOKENS = 500  # ids per qstat/qdel argv; more jobs than that cost one command per 500


def pbs_environment(
    server: str | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """This process's environment without ``PBS_QSTAT_*``, with ``PBS_DEFAULT`` = `server` if
    given, updated with `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PBS_QSTAT_")}
    if server is not None:
        env["PBS_DEFAULT"] = server
    if extra:
        env.update(extra)
    return env


def _tokens(distributor_ids: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for distributor_id in distributor_ids:
        token = parsers.array_token(distributor_id)
        if token is not None:
            seen[token] = None
    return list(seen)


class PbsClient:
    """Runs and parses PBS commands (a `distributor.batch.StatusBackend`, among others).

    Args:
        flavour: ``pro``, ``torque``, or ``auto`` (ask ``qstat --version`` once, when first
            needed).
        server: the PBS server (``PBS_DEFAULT``); default: the clients' configuration.
        environment: extra variables for every command.
        transport: where commands run (default: locally).
        retry_policy: timeouts and retries (default: 60 s, 4 tries); which failures are
            retried is `PBS_TRANSIENT` (queries) and `PBS_SUBMIT_TRANSIENT` (submissions).

    Raises:
        ResourceError: `flavour` is not one of the three.
    """

    def __init__(
        self,
        *,
        flavour: str = "auto",
        server: str | None = None,
        environment: Mapping[str, str] | None = None,
        transport: Transport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self._flavour = None if flavour == "auto" else flavour_named(flavour)
        extra = dict(environment or {})
        self.runner = CommandRunner(
            transport,
            retry_policy,
            transient=PBS_TRANSIENT,
            submit_transient=PBS_SUBMIT_TRANSIENT,
            env=lambda: pbs_environment(server, extra),
        )
        self._lock = threading.Lock()

    # --- flavour ---------------------------------------------------------------------------

    @property
    def flavour(self) -> Flavour:
        """The flavour, detected with ``qstat --version`` on first use if it was ``auto``.

        Raises:
            SchedulerOutputError: qstat's version says neither PBS Pro nor Torque.
            SchedulerError: qstat failed.
        """
        with self._lock:
            if self._flavour is None:
                argv = ["qstat", "--version"]
                result = self.runner.run(argv)
                name = parsers.parse_flavour(f"{result.stdout}\n{result.stderr}")
                if name is None:
                    raise SchedulerOutputError(
                        "qstat --version says neither PBS Pro nor Torque (is another "
                        "scheduler's qstat first on PATH?); pass flavour='pro' or 'torque'",
                        result.stdout + result.stderr,
                        argv=argv,
                    )
                self._flavour = flavour_named(name)
                log.info("pbs_flavour_detected", flavour=name)
            return self._flavour

    # --- commands --------------------------------------------------------------------------

    def _run_tolerating(self, argv: list[str], benign: re.Pattern[str]) -> str:
        """Run `argv`; a failure whose every stderr line is `benign` still returns stdout."""
        try:
            return self.runner.run(argv).stdout
        except SchedulerError as exc:
            lines = [line for line in exc.stderr.splitlines() if line.strip()]
            if exc.returncode is None or not lines or not all(benign.search(x) for x in lines):
                raise
            return exc.stdout

    def submit(self, script: Path) -> str:
        """Submit a job script with ``qsub`` and return the job id it printed.

        Raises:
            SchedulerError: qsub failed (not retried after a timeout: it may have submitted).
            SchedulerOutputError: qsub printed no job id.
        """
        argv = ["qsub", str(script)]
        result = self.runner.submit(argv)
        return parsers.parse_qsub(result.stdout, argv)

    def delete(self, tokens: Sequence[str], *, force: bool = False) -> None:
        """``qdel`` jobs, subjobs or whole arrays; ids PBS no longer knows or that have ended
        are ignored (``Unknown Job Id``, ``Job has finished``, ``invalid state … COMPLETE``).
        With `force`, the flavour's forced delete (``-W force`` / ``-p``): the server drops
        the jobs even if their MoM does not answer."""
        flags = list(self.flavour.force_delete) if force else []
        for start in range(0, len(tokens), _MAX_TOKENS):
            argv = ["qdel", *flags, *tokens[start : start + _MAX_TOKENS]]
            self._run_tolerating(argv, _BENIGN_QDEL)

    def queues(self) -> dict[str, dict[str, str]]:
        """Every queue's attributes (``qstat -Q -f``)."""
        argv = ["qstat", "-Q", "-f"]
        return parsers.parse_attribute_blocks(self.runner.run(argv).stdout, argv)

    def queue_attributes(self, queue: str) -> dict[str, str]:
        """The attributes of `queue` (``resources_max.walltime`` and so on).

        Raises:
            ResourceError: there is no such queue (the message lists those there are).
        """
        queues = self.queues()
        if queue not in queues:
            raise ResourceError(
                "queue",
                queue,
                "is not a queue of this PBS server; queues: " + ", ".join(sorted(queues)),
            )
        return queues[queue]

    def max_array_size(self) -> int | None:
        """The server's array length limit (``max_array_size`` / ``max_job_array_size``), or
        None if it sets none."""
        argv = ["qstat", "-B", "-f"]
        servers = parsers.parse_attribute_blocks(self.runner.run(argv).stdout, argv)
        for attributes in servers.values():
            value = attributes.get(self.flavour.array_size_attribute, "")
            if value.isdigit() and int(value) > 0:
                return int(value)
        return None

    # --- StatusBackend ---------------------------------------------------------------------

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One qstat for all ids (see `distributor.batch.StatusBackend.query_status`)."""
        tokens = _tokens(distributor_ids)
        flavour = self.flavour
        wanted = set(distributor_ids)
        found: dict[str, JobStatus] = {}
        for start in range(0, len(tokens), _MAX_TOKENS):
            argv = flavour.status_argv(tokens[start : start + _MAX_TOKENS])
            stdout = self._run_tolerating(argv, _BENIGN_QSTAT)
            for distributor_id, status in flavour.parse_status(stdout, argv).items():
                if distributor_id in wanted:
                    found[distributor_id] = status
        return found

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """Nothing: the status command already reads PBS Pro's history, and Torque has none."""
        return {}

    def find_jobs(self, job_names: Collection[str]) -> list[NamedJob]:
        """The jobs and arrays the server lists under any of `job_names` (queued, running,
        held, and finished ones while history or ``keep_completed`` keeps them), oldest first,
        with one qstat (see the module docstring); no command for no names.

        Raises:
            SchedulerError: qstat failed.
            SchedulerOutputError: its output could not be parsed.
        """
        wanted = set(job_names)
        if not wanted:
            return []
        flavour = self.flavour
        argv = ["qstat", *flavour.list_options]
        listed = flavour.parse_named(self.runner.run(argv).stdout, argv)
        return [job for job in listed if job.job_name in wanted]

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        """The PBS state map (`distributor_pbs.states.classify`) for this flavour."""
        return states.classify(self.flavour, job, status, record)
