"""`SlurmClient`: every Slurm command this plugin runs, built as argv and parsed.

It is the plugin's `StatusBackend`: `SlurmClient.query_status` is **one** ``squeue`` call for all
ids (array tasks are asked for by their array job id), `SlurmClient.query_accounting` one
``sacct`` call. With ``use_queue_history`` (the default) squeue is asked with ``--states=all``,
so jobs that ended less than ``MinJobAge`` ago come back with their final state and accounting
is needed only for jobs Slurm has already forgotten.

Commands run through a `CommandRunner` whose environment is this process's, minus the
``SBATCH_*``/``SQUEUE_*``/``SACCT_*``/... input variables that would change what the commands
do, plus ``SLURM_CONF`` when one was given.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from distributor import RemoteExitInfo, SchedulerError
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
from distributor_slurm import parsers, states

__all__ = [
    "SLURM_SUBMIT_TRANSIENT",
    "SLURM_TRANSIENT",
    "SlurmClient",
    "slurm_environment",
]

log = get_logger(__name__)

SLURM_TRANSIENT: tuple[str, ...] = (
    *GENERIC_TRANSIENT,
    r"unable to contact slurm controller",
    r"slurm_receive_msg",
    r"zero bytes were transmitted",
    r"backup controller in standby",
    r"temporarily unable to accept job",
    r"communication connection failure",
)
"""Failures of Slurm commands worth retrying (controller or database briefly unreachable)."""

SLURM_SUBMIT_TRANSIENT: tuple[str, ...] = (
    r"unable to contact slurm controller",
    r"backup controller in standby",
    r"temporarily unable to accept job",
    r"connection refused",
)
"""Failures after which ``sbatch`` certainly did not submit, so it may be repeated."""

_DROPPED_PREFIXES = ("SBATCH_", "SQUEUE_", "SACCT_", "SINFO_", "SCANCEL_", "SCONTROL_")
_DROPPED = {"SLURM_TIME_FORMAT", "SLURM_BITSTR_LEN"}
_MAX_TOKENS = 2000  # job ids per squeue/sacct/scancel argument; beyond that, split or --me


def slurm_environment(slurm_conf: str | None = None) -> dict[str, str]:
    """This process's environment, cleaned for Slurm clients, with `slurm_conf` if given."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_DROPPED_PREFIXES) and key not in _DROPPED
    }
    if slurm_conf is not None:
        env["SLURM_CONF"] = slurm_conf
    return env


def _tokens(distributor_ids: Sequence[str]) -> list[str]:
    """The job ids to name on a command line: array tasks by their array job id, deduplicated."""
    seen: dict[str, None] = {}
    for distributor_id in distributor_ids:
        key = parsers.job_key(distributor_id)
        if key is not None:
            seen[key] = None
    return list(seen)


class SlurmClient:
    """Runs and parses Slurm commands; implements `distributor.batch.StatusBackend`.

    Args:
        slurm_conf: path of ``slurm.conf`` for every command (default: the environment's).
        transport: where commands run (default: locally).
        retry_policy: timeouts and retries (default: 60 s, 4 tries); which failures are
            retried is `SLURM_TRANSIENT` (queries) and `SLURM_SUBMIT_TRANSIENT` (submissions).
        use_queue_history: ask squeue for recently finished jobs too (``--states=all``).
    """

    def __init__(
        self,
        *,
        slurm_conf: str | None = None,
        transport: Transport | None = None,
        retry_policy: RetryPolicy | None = None,
        use_queue_history: bool = True,
    ) -> None:
        self.slurm_conf = slurm_conf
        self.runner = CommandRunner(
            transport,
            retry_policy,
            transient=SLURM_TRANSIENT,
            submit_transient=SLURM_SUBMIT_TRANSIENT,
            env=lambda: slurm_environment(slurm_conf),
        )
        self.use_queue_history = use_queue_history

    # --- submission and cancellation ------------------------------------------------------

    def submit(self, script: Path) -> str:
        """Submit a job script with ``sbatch --parsable`` and return the job id.

        Raises:
            SchedulerError: sbatch failed (not retried after a timeout: it may have submitted).
            SchedulerOutputError: sbatch printed no job id.
        """
        argv = ["sbatch", "--parsable", str(script)]
        result = self.runner.submit(argv)
        return parsers.parse_sbatch(result.stdout, argv)

    def cancel(self, tokens: Sequence[str]) -> None:
        """``scancel`` the given job ids (``123``, ``123_4``), in as few calls as possible."""
        for start in range(0, len(tokens), _MAX_TOKENS):
            self.runner.run(["scancel", *tokens[start : start + _MAX_TOKENS]])

    # --- cluster configuration -------------------------------------------------------------

    def config(self) -> dict[str, str]:
        """``scontrol show config`` as setting → value."""
        argv = ["scontrol", "show", "config"]
        return parsers.parse_config(self.runner.run(argv).stdout, argv)

    def partitions(self) -> dict[str, dict[str, str]]:
        """Every partition's settings (``scontrol show partition -o``)."""
        argv = ["scontrol", "show", "partition", "-o"]
        return parsers.parse_partitions(self.runner.run(argv).stdout, argv)

    def node_shapes(self, partition: str) -> list[parsers.NodeShape]:
        """CPUs, memory and GPUs of the node groups of `partition` (``sinfo``)."""
        argv = [
            "sinfo",
            "--noheader",
            f"--partition={partition}",
            f"--format={parsers.SINFO_FORMAT}",
        ]
        return parsers.parse_sinfo(self.runner.run(argv).stdout, argv)

    # --- StatusBackend ---------------------------------------------------------------------

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One ``squeue`` for all ids (see `distributor.batch.StatusBackend.query_status`)."""
        tokens = _tokens(distributor_ids)
        if not tokens:
            return {}
        argv = ["squeue", "--noheader", "--array", f"--Format={parsers.SQUEUE_FORMAT}"]
        if self.use_queue_history:
            argv.append("--states=all")
        argv.append(f"--jobs={','.join(tokens)}" if len(tokens) <= _MAX_TOKENS else "--me")
        try:
            result = self.runner.run(argv)
        except SchedulerError as exc:
            if "Invalid job id specified" in exc.stderr:
                return {}  # every id asked for has left slurmctld's memory
            raise
        wanted = set(distributor_ids)
        statuses = parsers.parse_squeue(result.stdout, argv)
        return {did: status for did, status in statuses.items() if did in wanted}

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One ``sacct`` for all ids (see `distributor.batch.StatusBackend.query_accounting`)."""
        tokens = _tokens(distributor_ids)
        wanted = set(distributor_ids)
        found: dict[str, JobStatus] = {}
        for start in range(0, len(tokens), _MAX_TOKENS):
            argv = [
                "sacct",
                "--parsable2",
                "--noheader",
                f"--format={','.join(parsers.SACCT_FIELDS)}",
                f"--jobs={','.join(tokens[start : start + _MAX_TOKENS])}",
            ]
            # accounting down is common and handled by the tracker: fail fast, do not retry
            result = self.runner.run(argv, attempts=2)
            for did, status in parsers.parse_sacct(result.stdout, argv).items():
                if did in wanted:
                    found[did] = status
        return found

    def find_jobs(self, job_names: Collection[str]) -> list[NamedJob]:
        """The jobs squeue lists under any of `job_names` (recently ended ones included),
        oldest first, with one ``squeue --states=all --name=...``."""
        names = sorted(set(job_names))
        if not names:
            return []
        argv = [
            "squeue",
            "--noheader",
            "--states=all",
            f"--name={','.join(names)}",
            "--Format=ArrayJobID:|,Name:|,Command:|",
        ]
        return parsers.parse_named_jobs(self.runner.run(argv).stdout, argv)

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        """The Slurm state map (`distributor_slurm.states.classify`)."""
        return states.classify(job, status, record)
