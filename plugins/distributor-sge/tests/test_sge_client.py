"""SgeClient's command lines and how it reads their answers, with a transport that replays
outputs recorded on the dev cell (the live tests run the same code against the cell itself)."""

from __future__ import annotations

import time
from collections.abc import Mapping

import pytest

from distributor import SchedulerError
from distributor.batch import CommandResult, JobPhase, RecordingTransport, RetryPolicy
from distributor_sge.client import JobInfo, SgeClient

QSTAT = """<?xml version='1.0'?>
<job_info><queue_info>
<job_list state="running"><JB_job_number>5</JB_job_number><state>r</state>
<queue_name>all.q@vm</queue_name><tasks>1</tasks></job_list>
</queue_info><job_info>
<job_list state="pending"><JB_job_number>5</JB_job_number><state>qw</state>
<queue_name></queue_name><tasks>3-999:2</tasks></job_list>
<job_list state="pending"><JB_job_number>6</JB_job_number><state>Eqw</state>
<queue_name></queue_name></job_list>
</job_info></job_info>
"""


def client(answers: Mapping[str, tuple[int, str, str]]) -> tuple[SgeClient, RecordingTransport]:
    """A client over a replaying transport, without retries."""
    replay = RecordingTransport(
        lambda argv, n: CommandResult(argv, *answers[argv[0]]), fallback=None
    )
    return SgeClient(transport=replay, retry_policy=RetryPolicy(attempts=1), user="me"), replay


def test_one_qstat_answers_for_ranges_and_single_jobs() -> None:
    """One qstat for all ids; task ranges are matched without expanding them."""
    sge, replay = client({"qstat": (0, QSTAT, "")})
    wanted = ["5.1", "5.3", "5.4", "5.999", "5.1001", "6", "6.1", "7"]
    statuses = sge.query_status(wanted)
    assert replay.argvs == [("qstat", "-xml", "-u", "me")]
    assert set(statuses) == {"5.1", "5.3", "5.999", "6"}
    assert statuses["5.1"].phase is JobPhase.RUNNING
    assert statuses["5.999"].phase is JobPhase.QUEUED and statuses["6"].state == "Eqw"
    assert sge.query_status(["bogus", "1;id"]) == {} and len(replay.argvs) == 1


def test_accounting_of_one_job_names_it() -> None:
    """Tasks of one job are asked for with qacct -j JOB; 'not found' means no rows yet."""
    sge, replay = client({"qacct": (1, "", "error: job id 5 not found\n")})
    assert sge.query_accounting(["5.1", "5.2"]) == {}
    assert replay.argvs == [("qacct", "-j", "5")]


def test_accounting_of_several_jobs_is_one_windowed_query() -> None:
    """Several jobs are one qacct of this user's records that ended since the earliest
    submission (less a margin for clock skew)."""
    sge, replay = client({"qacct": (1, "", "error: job name * not found\n")})
    sge.remember("5", JobInfo("a", 1_795_000_000.0))
    sge.remember("6", JobInfo("b", 1_795_000_100.0))
    assert sge.query_accounting(["5.1", "6"]) == {}
    stamp = time.strftime("%Y%m%d%H%M.%S", time.localtime(1_795_000_000.0 - 600))
    assert replay.argvs == [("qacct", "-o", "me", "-j", "*", "-E", "-b", stamp)]


def test_accounting_failures_other_than_not_found_raise() -> None:
    """A qacct that fails for another reason raises SchedulerError with its stderr."""
    sge, _ = client({"qacct": (1, "", "error: can't open accounting file\n")})
    with pytest.raises(SchedulerError, match="accounting file"):
        sge.query_accounting(["5"])


def test_qdel_ignores_ids_that_no_longer_exist() -> None:
    """qdel exits 1 when some ids are gone; that is ignored, other failures are not."""
    gone = 'root has deleted job 5\ndenied: job "6" does not exist\njob "7" task "3" does not exist'
    sge, replay = client({"qdel": (1, gone, "")})
    sge.delete(["5", "6", "7.3"])
    assert replay.argvs == [("qdel", "5", "6", "7.3")]
    sge, _ = client({"qdel": (1, "", "error: commlib error: access denied\n")})
    with pytest.raises(SchedulerError, match="access denied"):
        sge.delete(["5"])
