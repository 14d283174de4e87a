"""`HTCondorClient`: every HTCondor command this plugin runs, built as argv and parsed.

* `HTCondorClient.submit`: ``condor_submit FILE`` → ``(cluster, number of jobs)``.
* `HTCondorClient.queue_ads`: **one** ``condor_q -json -attributes ... C1 C2 ...`` for any
  number of ids (each cluster named once; beyond `MAX_CLUSTERS` clusters, all of the user's
  jobs).
* `HTCondorClient.history_ads`: one ``condor_history -json -match N -constraint ...`` per
  `MAX_CLUSTERS` clusters of jobs that left the queue.
* `HTCondorClient.remove`: ``condor_rm`` of clusters and jobs; ids already gone are ignored.
* `HTCondorClient.find_jobs`: **one** ``condor_q -constraint '(DistributorName =?= "a") || ...'
  -af:t ClusterId DistributorName Cmd``.

Commands run through a `CommandRunner` whose environment is this process's plus
``CONDOR_CONFIG`` and any extra variables given; ``-name``/``-pool`` select a schedd. Every
value on a command line is an argv element (never a shell word); the one text that reaches
HTCondor's own parser, a constraint, is built from integers or `constraint_string` literals.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from distributor import SchedulerError
from distributor.batch import (
    GENERIC_TRANSIENT,
    CommandRunner,
    NamedJob,
    RetryPolicy,
    Transport,
)
from distributor.logs import get_logger
from distributor_htcondor import parsers
from distributor_htcondor.parsers import JobAd

__all__ = [
    "HTCONDOR_RETRY_POLICY",
    "HTCONDOR_SUBMIT_TRANSIENT",
    "HTCONDOR_TRANSIENT",
    "MAX_CLUSTERS",
    "NAME_ATTRIBUTE",
    "HTCondorClient",
    "constraint_string",
    "condor_environment",
    "history_constraint",
    "name_constraint",
]

log = get_logger(__name__)

HTCONDOR_TRANSIENT: tuple[str, ...] = (
    *GENERIC_TRANSIENT,
    r"can't find address (of|for) (local )?schedd",
    r"failed to connect to (local )?queue manager",
    r"failed to fetch ads",
    r"CEDAR:\d+:Failed to connect",
    r"SECMAN:\d+:Failed to end classad message",
)
"""Failures of HTCondor commands worth retrying (schedd briefly unreachable or busy). Recorded
on 23.9.6 and 25.14.1 with the schedd stopped: ``condor_q`` says ``Error: Can't find address
for schedd vm``, ``condor_rm`` ``condor_rm: Can't find address for schedd vm`` and
``condor_submit`` ``ERROR: Can't find address of local schedd``; right after a crash,
``-- Failed to fetch ads from: <...>`` with ``SECMAN:2007:Failed to end classad message.``,
``ERROR: Failed to connect to local queue manager``."""

HTCONDOR_SUBMIT_TRANSIENT: tuple[str, ...] = (
    r"can't find address (of|for) (local )?schedd",
    r"failed to connect to (local )?queue manager",
    r"CEDAR:\d+:Failed to connect",
)
"""Failures after which ``condor_submit`` certainly queued nothing, so it may be repeated."""

HTCONDOR_RETRY_POLICY = RetryPolicy(attempts=10, max_delay=8.0)
"""The default retries: transient failures are retried for 35.6 to 59.4 s (delays 0.5, 1, 2,
4 s, then 8 s, each ± 25 %), longer than a schedd restart takes (``condor_master`` started a
SIGKILLed schedd again after 10.2 s on 23.9.6), so an outage fails no submission or removal."""

MAX_CLUSTERS = 2000
"""Cluster ids named on one command line; beyond that condor_q lists all of the user's jobs."""

NAME_ATTRIBUTE = "DistributorName"
"""The job attribute carrying the job name (``+DistributorName`` in the submit description):
this plugin's own, so the jobs of other tools never match a lookup by name."""

_LITERAL_TEXT = re.compile(r"[^\x00-\x1f\x7f\\]*")


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
        parts = parsers.job_id_parts(distributor_id)
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


def constraint_string(value: str) -> str:
    """`value` as a ClassAd string literal for a constraint: ``"..."`` with ``\\"`` for each
    double quote.

    condor_q parses constraints in old ClassAd syntax (``ParseClassAdRvalExpr``), where a
    backslash is special only before a double quote, while new syntax also reads ``\\\\`` and
    ``\\n``: text with a backslash or a control character has no literal that both read
    alike, so it is refused. A literal is always followed by more text in this plugin's
    constraints, as old syntax requires for an escaped quote.

    Raises:
        ValueError: `value` contains a backslash or a control character.
    """
    if not _LITERAL_TEXT.fullmatch(value):
        raise ValueError(f"{value!r} cannot be written as a ClassAd string literal")
    return '"' + value.replace('"', '\\"') + '"'


def name_constraint(job_names: Collection[str]) -> str:
    """``(DistributorName =?= "a") || (DistributorName =?= "b")`` for every name `constraint_string`
    can write (the others cannot be job names: `HTCondorScheduler.job_name` gives only
    ``[A-Za-z0-9_.-]``); an empty string when none is left.

    ``=?=`` compares strings case-sensitively and is false where the attribute is undefined.
    """
    terms = []
    for name in sorted(set(job_names)):
        try:
            literal = constraint_string(name)
        except ValueError:
            log.debug("job_name_not_looked_up", job_name=name)
            continue
        terms.append(f"({NAME_ATTRIBUTE} =?= {literal})")
    return " || ".join(terms)


class HTCondorClient:
    """Runs and parses HTCondor commands (see the module docstring).

    Args:
        schedd: the schedd to talk to (``-name``; default: the local one).
        pool: the central manager (``-pool``; default: the configured one).
        condor_config: ``CONDOR_CONFIG`` for every command (default: the environment's).
        environment: further variables for every command.
        transport: where commands run (default: locally).
        retry_policy: timeouts and retries (default `HTCONDOR_RETRY_POLICY`: 60 s per try,
            transient failures retried for at least 35 s); which failures are retried is
            `HTCONDOR_TRANSIENT` (queries, removals) and `HTCONDOR_SUBMIT_TRANSIENT`
            (submissions).
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
            retry_policy if retry_policy is not None else HTCONDOR_RETRY_POLICY,
            transient=HTCONDOR_TRANSIENT,
            submit_transient=HTCONDOR_SUBMIT_TRANSIENT,
            env=lambda: condor_environment(condor_config, extra),
        )
        self._where = [*(["-name", schedd] if schedd else []), *(["-pool", pool] if pool else [])]

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

    # --- queries --------------------------------------------------------------------------

    def queue_ads(self, distributor_ids: Sequence[str]) -> dict[str, JobAd]:
        """The job ads condor_q lists for the ids that are ``cluster.proc``, with one command.

        Raises:
            SchedulerError: condor_q failed.
            SchedulerOutputError: its output is not a list of job ClassAds.
        """
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
        ads = parsers.parse_ads(self.runner.run(argv).stdout, argv, source="condor_q")
        wanted = set(distributor_ids)
        return {did: ad for did, ad in ads.items() if did in wanted}

    def history_ads(self, distributor_ids: Sequence[str]) -> dict[str, JobAd]:
        """The job ads condor_history keeps for the ids, newest first (one command per
        `MAX_CLUSTERS` clusters; each tried twice at most, as a missing answer is retried by
        the caller's next poll anyway).

        Raises:
            SchedulerError: condor_history failed (no history file, schedd unreachable).
            SchedulerOutputError: its output is not a list of job ClassAds.
        """
        clusters = _clusters(distributor_ids)
        wanted = set(distributor_ids)
        found: dict[str, JobAd] = {}
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
            result = self.runner.run(argv, attempts=2)
            ads = parsers.parse_ads(result.stdout, argv, source="condor_history")
            found.update((did, ad) for did, ad in ads.items() if did in wanted)
        return found

    def find_jobs(self, job_names: Collection[str]) -> list[NamedJob]:
        """The clusters condor_q lists under any of `job_names` (queued, running or held;
        HTCondor's queue holds no completed jobs), oldest first, each with its executable's
        path (``Cmd``: the job script in its task directory), with one ``condor_q -constraint
        (DistributorName =?= "a") || ... -af:t ClusterId DistributorName Cmd``.

        Raises:
            SchedulerError: condor_q failed.
            SchedulerOutputError: a line of its output is not ``<cluster>\\t<name>\\t<path>``.
        """
        constraint = name_constraint(job_names)
        if not constraint:
            return []
        argv = [
            "condor_q",
            *self._where,
            "-constraint",
            constraint,
            "-af:t",  # tab-separated; last: condor_q reads every later word as an attribute
            "ClusterId",
            NAME_ATTRIBUTE,
            "Cmd",
        ]
        return parsers.parse_named_jobs(self.runner.run(argv).stdout, argv)
