"""SgeClient's command lines and how it reads their answers, with a transport that replays
outputs recorded on the dev cell (the live tests run the same code against the cell itself)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from distributor import SchedulerError
from distributor.batch import (
    CommandResult,
    JobPhase,
    NamedJob,
    RecordingTransport,
    RetryPolicy,
)
from distributor_sge.client import SgeClient

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


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_795_000_000.0

    def __call__(self) -> float:
        return self.now


def client(
    answers: Mapping[str, tuple[int, str, str]], clock: Clock | None = None
) -> tuple[SgeClient, RecordingTransport]:
    """A client over a replaying transport, without retries."""
    replay = RecordingTransport(
        lambda argv, n: CommandResult(argv, *answers[argv[0]]), fallback=None
    )
    sge = SgeClient(
        transport=replay,
        retry_policy=RetryPolicy(attempts=1),
        user="me",
        clock=clock or Clock(),
    )
    return sge, replay


def stamp(when: float) -> str:
    """qacct's -b argument for `when`, less the client's ten-minute margin."""
    return time.strftime("%Y%m%d%H%M.%S", time.localtime(when - 600))


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
    clock = Clock()
    answers = {"qsub": (0, "5\n", ""), "qacct": (1, "", "error: job name * not found\n")}
    sge, replay = client(answers, clock)
    submitted = clock.now
    sge.submit(Path("/nowhere/job.sh"))
    answers["qsub"] = (0, "6.1-3:1\n", "")
    clock.now += 100
    sge.submit(Path("/nowhere/job.sh"))
    clock.now += 5000
    assert sge.query_accounting(["5", "6.1"]) == {}
    assert replay.argvs[-1] == ("qacct", "-o", "me", "-j", "*", "-E", "-b", stamp(submitted))


def test_after_a_restart_the_window_starts_when_qstat_first_listed_the_jobs() -> None:
    """A new client knows adopted jobs from the first qstat that listed them; a job it never
    saw (it ended before the restart) widens the window to a week."""
    clock = Clock()
    answers = {"qstat": (0, QSTAT, ""), "qacct": (1, "", "error: job name * not found\n")}
    sge, replay = client(answers, clock)
    seen = clock.now
    sge.query_status(["5.1", "6"])
    clock.now += 3600
    sge.query_accounting(["5.1", "6"])
    assert replay.argvs[-1][-1] == stamp(seen)
    sge.query_accounting(["5.1", "7"])
    assert replay.argvs[-1][-1] == stamp(clock.now - 7 * 86400)


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


def test_find_jobs_is_one_qstat_filtered_by_name() -> None:
    """Lookup by name runs one qstat for all names and keeps the jobs listed under them,
    once per job (an array's entries share it), oldest first."""
    listing = QSTAT.replace(
        "<JB_job_number>5</JB_job_number>", "<JB_job_number>5</JB_job_number><JB_name>b</JB_name>"
    ).replace(
        "<JB_job_number>6</JB_job_number>", "<JB_job_number>6</JB_job_number><JB_name>a</JB_name>"
    )
    sge, replay = client({"qstat": (0, listing, "")})
    assert sge.find_jobs(["a", "b", "c"]) == [NamedJob("5", "b"), NamedJob("6", "a")]
    assert sge.find_jobs(["a"]) == [NamedJob("6", "a")]
    assert replay.argvs == [("qstat", "-xml", "-u", "me")] * 2
    assert sge.find_jobs([]) == [] and len(replay.argvs) == 2


def test_error_reasons_are_one_qstat_j() -> None:
    """The reasons of all jobs in an error state come from one qstat -j; jobs deleted in the
    meantime (qstat -j exits 1) have none."""
    reasons = "job_number:   6\nerror reason    1:   can't chdir to /x\n"
    sge, replay = client({"qstat": (0, reasons, "")})
    assert sge.error_reasons(["6", "8"]) == {"6": {1: "can't chdir to /x"}}
    assert replay.argvs == [("qstat", "-j", "6,8")]
    gone, _ = client({"qstat": (1, "", "Following jobs do not exist: \n6, 8\n")})
    assert gone.error_reasons(["6", "8"]) == {}
    broken, _ = client({"qstat": (1, "", "error: commlib error: access denied\n")})
    with pytest.raises(SchedulerError, match="access denied"):
        broken.error_reasons(["6"])
