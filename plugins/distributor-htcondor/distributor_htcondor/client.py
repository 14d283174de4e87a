"""`HTCondorClient`: every HTCondor command this plugin runs, built as argv and parsed.

It is the plugin's `StatusBackend`:

* `HTCondorClient.query_status` is **one** ``condor_q -json -attributes ... C1 C2 ...`` for all
  tracked ids (each cluster named once; beyond `MAX_CLUSTERS` clusters, all of the user's jobs).
* `HTCondorClient.query_accounting` is one ``condor_history -json -match N -constraint ...``
  for the jobs that left the queue.
* `HTCondorClient.classify` is the state map of `distributor_htcondor.states`, fed with the
  job ad that the last query returned for the id.

Jobs held for a resource limit are final (their attempt is over) but stay in the queue; the
client remembers them, and `HTCondorClient.take_held` hands them to the distributor, which
removes them.

Commands run through a `CommandRunner` whose environment is this process's plus
``CONDOR_CONFIG`` and any extra variables given; ``-name``/``-pool`` select a schedd.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import structlog

from distributor import RemoteExitInfo, SchedulerError, TaskInstanceStatus
from distributor.batch import (
    GENERIC_TRANSIENT,
    CommandRunner,
    JobStatus,
    RetryPolicy,
    TrackedJob,
    Transport,
)
from distributor.worker import ExitRecord
from distributor_htcondor import parsers, states
from distributor_htcondor.parsers import JobAd

__all__ = [
    "HTCONDOR_SUBMIT_TRANSIENT",
    "HTCONDOR_TRANSIENT",
    "MAX_CLUSTERS",
    "HTCondorClient",
    "condor_environment",
]

log = structlog.get_logger(__name__)

HTCONDOR_TRANSIENT: tuple[str, ...] = (
    *GENERIC_TRANSIENT,
    r"can't find address of (local )?schedd",
    r"failed to connect to (local )?queue manager",
    r"failed to fetch ads",
    r"CEDAR:\d+:Failed to connect",
    r"SECMAN:\d+:Failed to end classad message",
)
"""Failures of HTCondor commands worth retrying (schedd briefly unreachable or busy)."""

HTCONDOR_SUBMIT_TRANSIENT: tuple[str, ...] = (
    r"can't find address of (local )?schedd",
    r"failed to connect to (local )?queue manager",
    r"CEDAR:\d+:Failed to connect",
)
"""Failures after which ``condor_submit`` certainly queued nothing, so it may be repeated."""

MAX_CLUSTERS = 2000
"""Cluster ids named on one command line; beyond that condor_q lists all of the user's jobs."""


def condor_environment(
    condor_config: str | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """This process's environment plus ``CONDOR_CONFIG`` (if given) and `extra`."""
    env = dict(os.environ)
    if condor_config is not None:
        env["CONDOR_CONFIG"] = condor_config
    if extra:
        env.update(extra)
    return env


def _clusters(distributor_ids: Sequence[str]) -> dict[int, list[int]]:
    """Cluster → procs of the ids that are ``cluster.proc``, in first-seen order."""
    out: dict[int, list[int]] = {}
    for distributor_id in distributor_ids:
        parts = parsers.split_id(distributor_id)
        if parts is not None:
            out.setdefault(parts[0], []).append(parts[1])
    return out


def history_constraint(clusters: Mapping[int, Sequence[int]]) -> str:
    """A ClassAd constraint matching exactly these jobs (integers only: no user input)."""
    terms = []
    for cluster, procs in clusters.items():
        listed = ", ".join(str(int(proc)) for proc in sorted(set(procs)))
        terms.append(f"(ClusterId == {int(cluster)} && member(ProcId, {{{listed}}}))")
    return " || ".join(terms)


class HTCondorClient:
    """Runs and parses HTCondor commands; implements `distributor.batch.StatusBackend`.

    Args:
        schedd: the schedd to talk to (``-name``; default: the local one).
        pool: the central manager (``-pool``; default: the configured one).
        condor_config: ``CONDOR_CONFIG`` for every command (default: the environment's).
        environment: further variables for every command.
        transport: where commands run (default: locally).
        retry_policy: timeouts and retries (default: 60 s, 4 tries); which failures are
            retried is `HTCONDOR_TRANSIENT` (queries) and `HTCONDOR_SUBMIT_TRANSIENT` (submissions).
    """

    def __init__(
        self,
        *,
        schedd: str | None = None,
        pool: str | None = None,
        condor_config: str | None = None,
        environment: Mapping[str, str] | None = None,
        transport: Transport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        extra = dict(environment or {})
        self.runner = CommandRunner(
            transport,
            retry_policy,
            transient=HTCONDOR_TRANSIENT,
            submit_transient=HTCONDOR_SUBMIT_TRANSIENT,
            env=lambda: condor_environment(condor_config, extra),
        )
        self._where = [*(["-name", schedd] if schedd else []), *(["-pool", pool] if pool else [])]
        self._ads: dict[str, JobAd] = {}
        self._held: list[str] = []
        self._lock = threading.Lock()

    # --- submission and removal -------------------------------------------------------------

    def submit(self, description: Path) -> tuple[int, int]:
        """Submit a description file; return ``(cluster, number of jobs)``.

        Raises:
            SchedulerError: condor_submit failed (not retried after a timeout: it may have
                queued jobs).
            SchedulerOutputError: it printed no ``N job(s) submitted to cluster C.`` line.
        """
        argv = ["condor_submit", *self._where, str(description)]
        result = self.runner.submit(argv)
        return parsers.parse_submit(result.stdout, argv)

    def remove(self, tokens: Sequence[str]) -> None:
        """``condor_rm`` clusters (``123``) or jobs (``123.4``); ids already gone are ignored.

        Raises:
            SchedulerError: condor_rm failed for another reason than ids not in the queue.
        """
        for start in range(0, len(tokens), MAX_CLUSTERS):
            argv = ["condor_rm", *self._where, *tokens[start : start + MAX_CLUSTERS]]
            try:
                self.runner.run(argv)
            except SchedulerError as exc:
                if exc.returncode == 1 and parsers.only_not_found(exc.stderr, exc.stdout):
                    log.debug("condor_rm_ids_gone", stderr=exc.stderr.strip()[:300])
                    continue
                raise

    def take_held(self) -> list[str]:
        """Ids classified as held for a resource limit since the last call (to be removed)."""
        with self._lock:
            held, self._held = self._held, []
        return held

    # --- StatusBackend ---------------------------------------------------------------------

    def _remember(self, ads: Mapping[str, JobAd], wanted: set[str]) -> dict[str, JobStatus]:
        out = {}
        with self._lock:
            for distributor_id, ad in ads.items():
                if distributor_id in wanted:
                    self._ads[distributor_id] = ad
                    out[distributor_id] = states.job_status(ad)
        return out

    def ads(self, distributor_ids: Sequence[str]) -> dict[str, JobAd]:
        """The last job ad seen for each of the ids that has one."""
        with self._lock:
            return {i: self._ads[i] for i in distributor_ids if i in self._ads}

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One ``condor_q`` for all ids (see `distributor.batch.StatusBackend.query_status`)."""
        clusters = _clusters(distributor_ids)
        if not clusters:
            return {}
        named = [str(c) for c in clusters] if len(clusters) <= MAX_CLUSTERS else []
        argv = [
            "condor_q",
            *self._where,
            "-json",
            "-attributes",
            ",".join(parsers.ATTRIBUTES),
            *named,
        ]
        result = self.runner.run(argv)
        ads = parsers.parse_ads(result.stdout, argv, source="condor_q")
        return self._remember(ads, set(distributor_ids))

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One ``condor_history`` for all ids (`StatusBackend.query_accounting`)."""
        clusters = _clusters(distributor_ids)
        wanted = set(distributor_ids)
        found: dict[str, JobStatus] = {}
        items = list(clusters.items())
        for start in range(0, len(items), MAX_CLUSTERS):
            chunk = dict(items[start : start + MAX_CLUSTERS])
            argv = [
                "condor_history",
                *self._where,
                "-json",
                "-attributes",
                ",".join(parsers.ATTRIBUTES),
                "-match",
                str(sum(len(set(procs)) for procs in chunk.values())),
                "-constraint",
                history_constraint(chunk),
            ]
            # the tracker treats a failing history as "no rows yet": fail fast
            result = self.runner.run(argv, attempts=2)
            ads = parsers.parse_ads(result.stdout, argv, source="condor_history")
            found.update(self._remember(ads, wanted))
        return found

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        """The HTCondor state map (`distributor_htcondor.states.classify`) on the job's ad."""
        with self._lock:
            ad = self._ads.pop(job.distributor_id, None)
        if ad is None:  # pragma: no cover - every status the tracker holds came from an ad
            return RemoteExitInfo(
                TaskInstanceStatus.UNKNOWN_ERROR,
                f"no job ad for {job.distributor_id} ({status.state}); retryable",
            )
        info = states.classify(job, ad, record)
        if ad.status == 5 and not job.terminated:
            with self._lock:
                self._held.append(job.distributor_id)
        return info
