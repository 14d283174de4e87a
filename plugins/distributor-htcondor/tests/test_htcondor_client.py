"""HTCondorClient: the argv of each command, and constraints that carry hostile names only as
ClassAd string literals."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor.batch import CommandResult, NamedJob, RecordingTransport, RetryPolicy
from distributor_htcondor.client import (
    HTCONDOR_RETRY_POLICY,
    NAME_ATTRIBUTE,
    HTCondorClient,
    constraint_string,
    history_constraint,
    name_constraint,
)

FAKE = Path(__file__).with_name("htcondor_fake.py")


def _reader() -> Callable[[str], list[tuple[str, str]]]:
    """The fake schedd's reader of constraints (old ClassAd string syntax, as condor_q's)."""
    spec = importlib.util.spec_from_file_location("htcondor_fake", FAKE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    read: Callable[[str], list[tuple[str, str]]] = module._disjunction
    return read


READ = _reader()
quotable = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\\"))


@given(st.lists(quotable, max_size=8))
def test_every_quotable_name_is_one_literal_term(job_names: list[str]) -> None:
    """Whatever quotes, parentheses, ``||`` or ``=?=`` a name holds, the schedd reads back
    exactly one ``DistributorName =?= <that name>`` term per distinct name, and nothing else."""
    constraint = name_constraint(job_names)
    expected = [(NAME_ATTRIBUTE, name) for name in sorted(set(job_names))]
    assert (READ(constraint) if constraint else []) == expected


@pytest.mark.parametrize(
    ("name", "literal"),
    [
        ("fit_model.1", '"fit_model.1"'),
        ('x" || true || "', '"x\\" || true || \\""'),
        ('"', '"\\""'),
        ("", '""'),
    ],
)
def test_string_literals(name: str, literal: str) -> None:
    """A double quote is written ``\\"``; nothing else is escaped."""
    assert constraint_string(name) == literal


@pytest.mark.parametrize("name", ["a\\b", "trailing\\", "a\nb", "tab\there", "nul\x00", "\x7f"])
def test_unquotable_names_are_refused_and_left_out(name: str) -> None:
    """A backslash or control character has no literal that old and new ClassAd syntax read
    alike: refused, and left out of a lookup (no job name contains one)."""
    with pytest.raises(ValueError, match="ClassAd string literal"):
        constraint_string(name)
    assert name_constraint([name]) == ""
    assert READ(name_constraint([name, "ok"])) == [(NAME_ATTRIBUTE, "ok")]


def test_history_constraint_names_each_job() -> None:
    """condor_history's constraint is made of integers only."""
    assert history_constraint({7: [2, 0, 2], 9: [1]}) == (
        "(ClusterId == 7 && member(ProcId, {0, 2})) || (ClusterId == 9 && member(ProcId, {1}))"
    )


def _answered(stdout: str) -> tuple[HTCondorClient, RecordingTransport]:
    def answer(argv: tuple[str, ...], _: int) -> CommandResult:
        return CommandResult(argv, 0, stdout)

    transport = RecordingTransport(answer, fallback=None)
    return HTCondorClient(schedd="s1", pool="cm", transport=transport), transport


def test_find_jobs_is_one_condor_q_ending_in_af() -> None:
    """One condor_q for all names: -name/-pool, the constraint as one argv element, and -af:t
    last (condor_q reads every later word as an attribute); each cluster with its script."""
    client, transport = _answered(
        "12\tb\t/r/b-2/job.sh\n9\ta\t/r/a-1/job.sh\n12\tb\t/r/b-2/job.sh\n"
    )
    assert client.find_jobs(["b", "a", "b"]) == [
        NamedJob("9", "a", "/r/a-1/job.sh"),
        NamedJob("12", "b", "/r/b-2/job.sh"),
    ]
    assert transport.argvs == [
        (
            "condor_q",
            "-name",
            "s1",
            "-pool",
            "cm",
            "-constraint",
            '(DistributorName =?= "a") || (DistributorName =?= "b")',
            "-af:t",
            "ClusterId",
            "DistributorName",
            "Cmd",
        )
    ]


def test_find_jobs_without_a_lookable_name_runs_nothing() -> None:
    """No name (or only unquotable ones) asks HTCondor nothing."""
    client, transport = _answered("")
    assert client.find_jobs([]) == [] and client.find_jobs(["a\\b"]) == []
    assert transport.argvs == []


def test_queue_ads_name_each_cluster_once() -> None:
    """condor_q names every cluster once and keeps only the ads of the ids asked for."""
    ads = (
        '[{"ClusterId": 4, "ProcId": 0, "JobStatus": 2},'
        ' {"ClusterId": 4, "ProcId": 1, "JobStatus": 1}]'
    )
    client, transport = _answered(ads)
    found = client.queue_ads(["4.0", "5.2", "4.7", "bogus"])
    assert set(found) == {"4.0"}
    (argv,) = transport.argvs
    assert argv[:7] == ("condor_q", "-name", "s1", "-pool", "cm", "-json", "-attributes")
    assert argv[8:] == ("4", "5")


@pytest.mark.parametrize(
    ("program", "stderr"),
    [
        ("condor_q", "Error: Can't find address for schedd vm\n\nExtra Info: ... try again.\n"),
        ("condor_rm", "condor_rm: Can't find address for schedd vm\n"),
        ("condor_q", "\n-- Failed to fetch ads from: <127.0.0.1:9618> : vm\n"
                     "SECMAN:2007:Failed to end classad message.\n"),
        ("condor_rm", "SECMAN:2007:Failed to end classad message.\nNo result found for job 1.0\n"),
    ],
)  # fmt: skip
def test_an_unreachable_schedd_is_transient(program: str, stderr: str) -> None:
    """What queries and removals print with the schedd stopped or just crashed (recorded on
    23.9.6 and 25.14.1) is retried; condor_rm's "Can't find address for schedd" was not."""
    answers = iter([CommandResult((program,), 1, "", stderr), CommandResult((program,), 0, "")])
    transport = RecordingTransport(lambda argv, _: next(answers))
    client = HTCondorClient(transport=transport, retry_policy=RetryPolicy(initial_delay=0))
    client.runner.run([program])
    assert len(transport.argvs) == 2


@pytest.mark.parametrize(
    "stderr",
    [
        "\nERROR: Can't find address of local schedd\n",
        "\nERROR: Failed to connect to local queue manager\nSECMAN:2011:Connection closed during "
        "command authorization. Probably due to an unknown command.\n",
    ],
)
def test_a_submission_the_schedd_never_saw_is_repeated(stderr: str) -> None:
    """condor_submit against a stopped or crashed schedd queued nothing: it is repeated."""
    queued = "Submitting job(s).\n1 job(s) submitted to cluster 9.\n"
    answers = iter([
        CommandResult(("condor_submit",), 1, "Submitting job(s)", stderr),
        CommandResult(("condor_submit",), 0, queued),
    ])  # fmt: skip
    transport = RecordingTransport(lambda argv, _: next(answers))
    client = HTCondorClient(transport=transport, retry_policy=RetryPolicy(initial_delay=0))
    assert client.submit(Path("/x/job.sub")) == (9, 1)


def test_the_default_retries_outlast_a_schedd_restart() -> None:
    """The default policy keeps retrying a transient failure for at least 30 s, even with every
    delay at the low end of its jitter: a crashed schedd was back after 10.2 s."""
    policy = HTCONDOR_RETRY_POLICY
    shortest = sum(
        min(policy.max_delay, policy.initial_delay * policy.multiplier ** (retry - 1))
        * (1 - policy.jitter)
        for retry in range(1, policy.attempts)
    )
    assert shortest >= 30
    assert HTCondorClient().runner.policy == policy
