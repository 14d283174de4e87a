"""One retry policy, honoured by every batch plugin: a submission that fails with the
scheduler's own "certainly nothing was created" message is retried with exactly the user's
delays (initial delay, multiplier, cap, no jitter), and a query failing with the scheduler's
transient message is retried although the user's policy names no pattern of its own."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from distributor.batch import BatchDistributor, CommandResult, RecordingTransport, RetryPolicy

POLICY = RetryPolicy(attempts=4, initial_delay=0.01, multiplier=3.0, max_delay=0.05, jitter=0.0)
EXPECTED_DELAYS = [0.01, 0.03, 0.05]


@dataclass(frozen=True)
class Plugin:
    """How to drive one plugin's submission through a scripted transport."""

    module: str
    distributor: str
    submit_program: str
    refused_for_now: str  # a failure its scheduler documents as "nothing was submitted"
    accepted: str  # what the submit command prints on success
    query_program: str
    query_transient: str
    options: dict[str, Any]
    empty_query: str = ""  # the status command's answer when it lists nothing


PLUGINS = [
    Plugin("distributor_slurm", "SlurmDistributor", "sbatch",
           "sbatch: error: Batch job submission failed: Unable to contact slurm controller",
           "123\n", "squeue", "slurm_receive_msg: Socket timed out", {}),
    Plugin("distributor_sge", "SgeDistributor", "qsub",
           "error: commlib error: got select error (Connection refused)",
           "123\n", "qstat", "error: failed receiving gdi request", {},
           "<?xml version='1.0'?>\n<job_info><queue_info></queue_info>"
           "<job_info></job_info></job_info>\n"),
    Plugin("distributor_htcondor", "HTCondorDistributor", "condor_submit",
           "ERROR: Can't find address of local schedd",
           "Submitting job(s).\n1 job(s) submitted to cluster 123.\n", "condor_q",
           "Failed to fetch ads from: <127.0.0.1:9618> : connection timed out", {}),
    Plugin("distributor_pbs", "PbsDistributor", "qsub",
           "qsub: cannot connect to server pbs01 (errno=111)",
           "123.pbs01\n", "qstat", "qstat: cannot connect to server pbs01 (errno=111)",
           {"flavour": "pro"}),
    Plugin("distributor_lsf", "LsfDistributor", "bsub",
           "LSF is down. Please wait ...",
           "Job <123> is submitted to default queue <normal>.\n", "bjobs",
           "LSF daemon (LIM) not responding ... still trying", {},
           '{"COMMAND": "bjobs", "JOBS": 0, "RECORDS": []}\n'),
]  # fmt: skip


def scripted(plugin: Plugin, failures: int, program: str, stderr: str) -> RecordingTransport:
    """A transport on which `program` fails `failures` times with `stderr`, then succeeds;
    every other command is answered as if nothing were known."""

    def answer(argv: tuple[str, ...], nth: int) -> CommandResult | None:
        if argv[0] == program and nth <= failures:
            return CommandResult(argv, 1, "", stderr)
        if argv[0] == plugin.submit_program:
            return CommandResult(argv, 0, plugin.accepted, "")
        if argv[0] == plugin.query_program:
            return CommandResult(argv, 0, plugin.empty_query, "")
        return CommandResult(argv, 0, "", "")

    return RecordingTransport(answer, fallback=None)


def build(plugin: Plugin, tmp_path: Path, transport: RecordingTransport) -> BatchDistributor:
    module = pytest.importorskip(plugin.module)
    factory: Callable[..., BatchDistributor] = getattr(module, plugin.distributor)
    return factory(
        "retry",
        submit_root=tmp_path / "root",
        transport=transport,
        retry_policy=POLICY,
        worker="/opt/distributor-worker",
        **plugin.options,
    )


def retry_delays(logs: Sequence[Mapping[str, Any]], program: str) -> list[float]:
    return [e["delay"] for e in logs if e["event"] == "scheduler_command_retry"
            and e["program"] == program]  # fmt: skip


@pytest.mark.parametrize("plugin", PLUGINS, ids=[p.module for p in PLUGINS])
def test_a_submission_is_retried_with_the_users_delays(plugin: Plugin, tmp_path: Path) -> None:
    """Three refusals that prove nothing was created, then success: the user's delays."""
    transport = scripted(plugin, 3, plugin.submit_program, plugin.refused_for_now)
    distributor = build(plugin, tmp_path, transport)
    with capture_logs() as logs:
        distributor.submit_to_batch_distributor("true", "retried", {})
    assert retry_delays(logs, plugin.submit_program) == EXPECTED_DELAYS
    assert len(transport.of(plugin.submit_program)) == 4
    assert importlib.import_module(plugin.module) is not None


@pytest.mark.parametrize("plugin", PLUGINS, ids=[p.module for p in PLUGINS])
def test_a_query_keeps_the_schedulers_patterns_under_a_users_policy(
    plugin: Plugin, tmp_path: Path
) -> None:
    """The user's policy adds no pattern; the scheduler's transient message still retries."""
    transport = scripted(plugin, 2, plugin.query_program, plugin.query_transient)
    distributor = build(plugin, tmp_path, transport)
    did = distributor.submit_to_batch_distributor("true", "queried", {})
    with capture_logs() as logs:
        distributor.get_submitted_or_running([did])
    assert retry_delays(logs, plugin.query_program) == EXPECTED_DELAYS[:2]
