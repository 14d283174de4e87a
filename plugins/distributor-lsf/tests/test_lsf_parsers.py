"""Parsers of bsub, bjobs -json (status and lookup), bparams -a, bhist -l and bqueues -l output:
documented samples, round trips and garbage."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import SchedulerOutputError
from distributor.batch import JobPhase, JobStatus, NamedJob
from distributor_lsf import parsers
from distributor_lsf.states import FINAL_STATES, QUEUED_STATES, RUNNING_STATES, TERMINATION_REASONS

ALL_STATES = sorted(FINAL_STATES | QUEUED_STATES | RUNNING_STATES)
job_ids = st.integers(min_value=1, max_value=10**9)
indices = st.integers(min_value=0, max_value=10**6)
printable = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=120)

# bhist -l / bacct -l as published (IBM's termination-reason examples; a real bacct -l of
# LSF 7 quoted in gc3pie's LSF backend): 79 columns, 21-space continuation, words cut anywhere.
BHIST_SAMPLE = """\
Job <3224113>, User <rmurri>, Project <default>, Status <EXIT>, Queue <pub.1h>,
                     Command <sleep 300>, Share group charged </lsf_biol_all/ls
                     f_aeber/rmurri>
Fri Oct  5 17:49:35: Submitted from host <brutus4>, CWD <$HOME>, Output File <l
                     sf.o%J>;
Fri Oct  5 17:50:35: Dispatched to <a3191>;
Thu Mar 13 17:32:05: Signal <KILL> requested by user or administrator <user2>;
Thu Mar 13 17:32:06: Exited by signal 2. The CPU time used is 0.1 seconds;
Fri Oct  5 17:51:30: Completed <exit>; TERM_OWNER: job killed by owner.
------------------------------------------------------------------------------

Job <42[7]>, Job Name <x[7]>, User <u>, Project <default>, Command <x>
Tue Dec 23 14:46:43: Starting (Pid 258999);
Tue Dec 23 16:34:13: Exited with exit code 1. The CPU time used is 31911.0 seco
                     nds;

Tue Dec 23 16:34:13: Completed <exit>; TERM_MEMLIMIT: job killed after reaching
                      LSF memory usage limit;

MEMORY USAGE:
MAX MEM: 48 Gbytes;  AVG MEM: 1.3 Gbytes
------------------------------------------------------------------------------

Job <43>, User <u>, Project <default>, Command <true>
Tue Dec 23 14:46:43: Dispatched to <h1>;
Tue Dec 23 14:46:44: Done successfully. The CPU time used is 0.1 seconds.
------------------------------------------------------------------------------

Job <44>, User <u>, Project <default>, Command <sleep 9>
Tue Dec 23 14:46:43: Submitted from host <h0>, CWD <$HOME>;
"""

BQUEUES_SAMPLE = """\
QUEUE: normal
  -- For normal low priority jobs, running only if hosts are lightly loaded.

PARAMETERS/STATISTICS
PRIO NICE STATUS          MAX JL/U JL/P JL/H NJOBS  PEND   RUN SSUSP USUSP  RSV
 30   20  Open:Active       -    -    -    -     0     0     0     0     0    0
Interval for a host to accept two jobs is 0 seconds

DEFAULT LIMITS:
 RUNLIMIT
 360.0 min

MAXIMUM LIMITS:
 CPULIMIT                 RUNLIMIT                 MEMLIMIT
 600.0 min of hostA       720.0 min of hostA       2 G

 PROCLIMIT
 1     4     8

SCHEDULING PARAMETERS
           r15s   r1m  r15m   ut      pg    io   ls    it    tmp    swp    mem
 loadSched   -     -     -     -       -     -    -     -     -      -      -

USERS: all
HOSTS:  all
------------------------------------------------------------------------------

QUEUE: owners
  -- No limits.

PARAMETERS/STATISTICS
USERS: all
"""


def test_bsub_documented_lines() -> None:
    """Both documented forms of bsub's answer give the job id and queue."""
    assert parsers.parse_bsub("Job <123> is submitted to queue <normal>.\n") == ("123", "normal")
    assert parsers.parse_bsub(
        "Warning: job being submitted without an AFS token.\n"
        "Job <473713> is submitted to default queue <pub.1h>.\n"
    ) == ("473713", "pub.1h")


@given(job_ids, st.from_regex(r"[A-Za-z0-9_.-]{1,30}", fullmatch=True), st.booleans())
def test_bsub_round_trip(job: int, queue: str, default: bool) -> None:
    """A rendered bsub answer parses back to its id and queue."""
    line = f"Job <{job}> is submitted to {'default ' if default else ''}queue <{queue}>.\n"
    assert parsers.parse_bsub(line) == (str(job), queue)


@st.composite
def bjobs_records(draw: st.DrawFn) -> dict[str, str]:
    """One bjobs -json record as LSF prints it (every value a string)."""
    state = draw(st.sampled_from(ALL_STATES))
    reason = draw(st.sampled_from(["", *sorted(TERMINATION_REASONS)]))
    shown_reason = draw(st.sampled_from([reason, TERMINATION_REASONS.get(reason, "")]))
    code = draw(st.one_of(st.just(""), st.integers(0, 255).map(str)))
    ran = draw(st.booleans())
    return {
        "JOBID": str(draw(job_ids)),
        "JOBINDEX": str(draw(indices)),
        "STAT": state,
        "EXIT_CODE": code if state in FINAL_STATES else "",
        "EXIT_REASON": shown_reason if state in FINAL_STATES else "",
        "KILL_REASON": "",
        "MAX_MEM": draw(st.sampled_from(["", "-", "2 Mbytes", "1.5 Gbytes", "100 MB"])),
        "PEND_REASON": draw(st.sampled_from(["", "New job is waiting for scheduling"])),
        "RUN_TIME": f"{draw(st.integers(1, 10**7)) if ran else 0} second(s)",
        "CPU_USED": f"{draw(st.integers(0, 10**6)) / 10 if ran else 0:.1f} second(s)",
        "EXEC_HOST": draw(exec_hosts) if ran else draw(st.sampled_from(["", "-"])),
    }


hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z0-9-]{1,10}){0,2}", fullmatch=True)
exec_hosts = st.lists(st.tuples(st.integers(1, 64), hosts), min_size=1, max_size=3).map(
    lambda slots: ":".join(f"{n}*{host}" if n > 1 else host for n, host in slots)
)
"""``EXEC_HOST`` values: ``hostA``, ``4*hostA``, several separated by ``:``."""


def record_id(record: dict[str, str]) -> str:
    """The distributor id of a record."""
    index = record["JOBINDEX"]
    return record["JOBID"] if index == "0" else f"{record['JOBID']}[{index}]"


@given(st.lists(bjobs_records(), max_size=20, unique_by=record_id), st.lists(job_ids, max_size=3))
def test_bjobs_round_trip(records: list[dict[str, str]], unknown: list[int]) -> None:
    """Records parse back to ids, states, reasons, exit codes; unknown ids are 'missing'."""
    errors = [{"JOBID": str(job), "ERROR": f"Job <{job}> is not found"} for job in unknown]
    text = json.dumps({"COMMAND": "bjobs", "JOBS": 1, "RECORDS": records + errors}, indent=2)
    result = parsers.parse_bjobs(text)
    assert set(result.statuses) == {record_id(r) for r in records}
    assert result.missing == [str(job) for job in unknown]
    for record in records:
        status = result.statuses[record_id(record)]
        assert status.state == record["STAT"]
        if status.phase is JobPhase.FINAL:
            expected = int(record["EXIT_CODE"]) if record["EXIT_CODE"] else None
            assert status.exit_code == (
                0 if expected is None and status.state == "DONE" else expected
            )
            assert status.reason == parsers.termination_reason(record["EXIT_REASON"])
            assert_accounting(status, record)
        else:
            assert status.exit_code is None
            assert (status.elapsed, status.cpu_seconds, status.host) == (None, None, None)


def assert_accounting(status: JobStatus, record: dict[str, str]) -> None:
    """A final record's run time, CPU time and first execution host, or none of them for a
    job that never ran."""
    if record["EXEC_HOST"] in ("", "-"):
        assert (status.elapsed, status.cpu_seconds, status.host) == (None, None, None)
        return
    first = record["EXEC_HOST"].split(":")[0].split("*")[-1]
    assert status.elapsed == float(record["RUN_TIME"].split()[0])
    assert status.cpu_seconds == float(record["CPU_USED"].split()[0])
    assert status.host == first


def test_bjobs_display_enh_ids_and_other_errors() -> None:
    """JOBID ``123[4]`` (LSB_BJOBS_DISPLAY_ENH=Y) is an element id; other errors are kept."""
    text = json.dumps(
        {
            "COMMAND": "bjobs",
            "JOBS": 2,
            "RECORDS": [
                {"JOBID": "123[4]", "STAT": "RUN"},
                {"JOBID": "9", "ERROR": "Permission denied"},
            ],
        }
    )
    result = parsers.parse_bjobs(text)
    assert result.statuses["123[4]"].phase is JobPhase.RUNNING
    assert result.errors == {"9": "Permission denied"}


def test_named_jobs_sample() -> None:
    """bjobs -a of a single job, a two-element array (LSF shows ``name[i]`` per element) and an
    error record: one entry per job, element indices stripped, oldest first."""
    text = """{
  "COMMAND":"bjobs",
  "JOBS":4,
  "RECORDS":[
    {"JOBID":"4712","JOBINDEX":"2","JOB_NAME":"fit_arr[2]"},
    {"JOBID":"4711","JOBINDEX":"0","JOB_NAME":"fit"},
    {"JOBID":"4712","JOBINDEX":"1","JOB_NAME":"fit_arr[1]"},
    {"JOBID":"4713[3]","JOBINDEX":"3","JOB_NAME":"enh[3]"},
    {"JOBID":"4710","JOBINDEX":"0","JOB_NAME":"single[7]"},
    {"JOBID":"9","ERROR":"Permission denied"}
  ]
}"""
    assert parsers.parse_named_jobs(text) == [
        NamedJob("4710", "single[7]"),
        NamedJob("4711", "fit"),
        NamedJob("4712", "fit_arr"),
        NamedJob("4713", "enh"),
    ]


job_names = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=30) | (
    st.from_regex(r"[a-z_]{1,8}\[[1-9][0-9]{0,3}\]", fullmatch=True)
)


@given(
    st.dictionaries(job_ids, st.tuples(job_names, st.none() | st.integers(1, 5)), max_size=8),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_named_jobs_round_trip(
    jobs: dict[int, tuple[str, int | None]], display_enh: bool, rng: random.Random
) -> None:
    """Any jobs and arrays, their records in any order, with or without the element index in
    JOBID (LSB_BJOBS_DISPLAY_ENH), parse back to one entry per job, by job id."""
    records = []
    for job, (name, length) in jobs.items():
        if length is None:
            records.append({"JOBID": str(job), "JOBINDEX": "0", "JOB_NAME": name})
        for index in range(1, (length or 0) + 1):
            shown = f"{job}[{index}]" if display_enh else str(job)
            records.append({"JOBID": shown, "JOBINDEX": str(index), "JOB_NAME": f"{name}[{index}]"})
    rng.shuffle(records)
    text = json.dumps({"COMMAND": "bjobs", "JOBS": len(records), "RECORDS": records}, indent=2)
    assert parsers.parse_named_jobs(text) == [
        NamedJob(str(job), jobs[job][0]) for job in sorted(jobs)
    ]


def test_bparams_parameters() -> None:
    """``bparams -a`` lines give each parameter's value as printed."""
    text = (
        "lsb.params configuration at Tue Dec 23 14:46:43 2025\n"
        "    DEFAULT_QUEUE = normal\n"
        "    MAX_JOB_ARRAY_SIZE = 10000\n"
        "    DEFAULT_PROJECT = default\n"
    )
    assert parsers.parse_bparams(text) == {
        "DEFAULT_QUEUE": "normal",
        "MAX_JOB_ARRAY_SIZE": "10000",
        "DEFAULT_PROJECT": "default",
    }


def test_bhist_documented_blocks() -> None:
    """Wrapped published bhist/bacct blocks give signal, exit code, reason and memory."""
    parsed = parsers.parse_bhist(BHIST_SAMPLE)
    killed = parsed["3224113"]
    assert (killed.state, killed.signal, killed.reason) == ("EXIT", 2, "TERM_OWNER")
    memory = parsed["42[7]"]
    assert (memory.exit_code, memory.reason, memory.maxrss_bytes) == (
        1,
        "TERM_MEMLIMIT",
        48 * 2**30,
    )
    assert (parsed["43"].state, parsed["43"].exit_code) == ("DONE", 0)
    assert parsed["44"].phase is JobPhase.QUEUED and parsed["44"].exit_code is None
    assert (killed.host, killed.cpu_seconds, killed.elapsed) == ("a3191", 0.1, None)
    assert (memory.host, memory.cpu_seconds) == (None, 31911.0)  # no dispatch event kept
    assert (parsed["43"].host, parsed["43"].cpu_seconds) == ("h1", 0.1)


def test_bhist_accounting_of_a_run_and_of_a_job_that_never_ran() -> None:
    """LSF 10.1's dispatch event names the host (the first of several), the end event the CPU
    time and the closing table the seconds it ran; a job killed while pending claims none."""
    ran = [
        "Job <51>, User <u>, Project <default>, Command <x>",
        "Mon Nov  3 10:00:00: Submitted from host <h0>, CWD <$HOME>;",
        *wrap(
            "Mon Nov  3 10:00:01: Dispatched 4 Task(s) on Host(s) <2*node7> <2*node8>, "
            "Allocated 4 Slot(s) on Host(s) <2*node7> <2*node8>, Effective RES_REQ "
            "<select[type == local] order[r15s:pg] >;"
        ),
        "Mon Nov  3 10:00:01: Starting (Pid 4242);",
        "Mon Nov  3 10:01:01: Done successfully. The CPU time used is 58.3 seconds.",
        "Mon Nov  3 10:01:01: Completed <done>.",
        *summary(1, 60),
    ]
    pending = [
        "Job <52>, User <u>, Project <default>, Command <x>",
        "Mon Nov  3 10:00:00: Submitted from host <h0>, CWD <$HOME>;",
        "Mon Nov  3 10:00:05: Signal <KILL> requested by user or administrator <u>;",
        "Mon Nov  3 10:00:05: Completed <exit>; TERM_OWNER: job killed by owner.",
        *summary(5, 0),
    ]
    text = "\n".join(ran) + "\n" + "-" * 78 + "\n\n" + "\n".join(pending) + "\n"
    parsed = parsers.parse_bhist(text)
    done, killed = parsed["51"], parsed["52"]
    assert (done.elapsed, done.cpu_seconds, done.host) == (60.0, 58.3, "node7")
    assert killed.phase is JobPhase.FINAL
    assert (killed.elapsed, killed.cpu_seconds, killed.host) == (None, None, None)


def summary(pend: int, run: int) -> list[str]:
    """bhist -l's closing table of seconds per state, as IBM's examples lay it out."""
    return [
        "",
        "Summary of time in seconds spent in various states by  Mon Nov  3 10:00:09",
        "  PEND     PSUSP    RUN      USUSP    SSUSP    UNKWN    TOTAL",
        f"  {pend:<9d}0        {run:<9d}0        0        0        {pend + run}",
    ]


def wrap(line: str) -> list[str]:
    """LSF's 79-column wrapping with 21-space continuations."""
    out, rest = [line[:79]], line[79:]
    while rest:
        out.append(" " * 21 + rest[:58])
        rest = rest[58:]
    return out


@given(printable.filter(lambda s: not s.startswith(" " * 21)))
def test_unwrap_inverts_wrapping(line: str) -> None:
    """Any printable line survives LSF's wrapping, even cut inside words."""
    assert parsers.unwrap("\n".join(wrap(line))) == [line]


@given(
    st.lists(
        st.tuples(
            job_ids,
            indices,
            st.sampled_from(["done", "exit", "signal", "running"]),
            st.integers(0, 255),
            st.sampled_from(["", "TERM_RUNLIMIT", "TERM_OWNER", "TERM_PREEMPT"]),
            st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=60),
        ),
        max_size=8,
        unique_by=lambda row: (row[0], row[1]),
    )
)
def test_bhist_round_trip(rows: list[tuple[int, int, str, int, str, str]]) -> None:
    """Rendered, wrapped bhist blocks with hostile names parse back to their end states."""
    blocks = []
    for job, index, how, code, reason, name in rows:
        did = f"{job}[{index}]" if index else str(job)
        lines = wrap(f"Job <{did}>, Job Name <{name}>, User <u>, Command <{name}>")
        lines += wrap(f"Mon Nov  3 10:00:00: Dispatched to <host{job}>, CWD <{name}>;")
        end = {
            "done": "Done successfully. The CPU time used is 0.1 seconds.",
            "exit": f"Exited with exit code {code}. The CPU time used is 0.1 seconds.",
            "signal": f"Exited by signal {code % 64 + 1}. The CPU time used is 0.1 seconds.",
            "running": "",
        }[how]
        if end:
            lines += wrap(f"Mon Nov  3 10:00:09: {end}")
            tail = f"Completed <exit>; {reason}: {TERMINATION_REASONS[reason]}." if reason else ""
            lines += wrap(f"Mon Nov  3 10:00:09: {tail or 'Completed <exit>.'}")
        lines += summary(1, code)
        blocks.append("\n".join(lines))
    parsed = parsers.parse_bhist(("\n" + "-" * 78 + "\n\n").join(blocks))
    for job, index, how, code, reason, _ in rows:
        status = parsed[f"{job}[{index}]" if index else str(job)]
        if how == "running":
            assert status.phase is JobPhase.RUNNING
            assert (status.elapsed, status.cpu_seconds, status.host) == (None, None, None)
            continue
        assert status.phase is JobPhase.FINAL
        assert (status.elapsed, status.cpu_seconds, status.host) == (code, 0.1, f"host{job}")
        if how == "exit":
            assert status.exit_code == code
        if how == "signal":
            assert status.signal == code % 64 + 1
        if how != "done":
            assert status.reason == reason


def test_bqueues_documented_layout() -> None:
    """Column-aligned limits, 'N min of host' run limits and PROCLIMIT triples parse."""
    queues = parsers.parse_bqueues(BQUEUES_SAMPLE)
    normal = queues["normal"]
    assert normal.max_runtime_seconds == 720 * 60 and normal.default_runtime_seconds == 360 * 60
    assert normal.max_memory_bytes == 2 * 2**30
    assert (normal.max_tasks, normal.default_tasks) == (8, 4)
    assert queues["owners"].max_runtime_seconds is None


@given(
    st.one_of(st.none(), st.integers(1, 100000)),
    st.one_of(st.none(), st.integers(1, 10**6)),
    st.sampled_from(["K", "M", "G"]),
    st.one_of(st.none(), st.integers(1, 4096)),
    st.sampled_from(["PROCLIMIT", "TASKLIMIT"]),
)
def test_bqueues_round_trip(
    minutes: int | None, amount: int | None, unit: str, tasks: int | None, task_word: str
) -> None:
    """Rendered MAXIMUM LIMITS parse back to seconds, bytes and task counts."""
    limits = {}
    if minutes is not None:
        limits["RUNLIMIT"] = f"{minutes}.0 min"
    if amount is not None:
        limits["MEMLIMIT"] = f"{amount} {unit}"
    lines = ["QUEUE: q", "  -- test", "", "MAXIMUM LIMITS:"]
    if limits:
        lines.append(" " + "".join(f"{key:<25}" for key in limits))
        lines.append(" " + "".join(f"{value:<25}" for value in limits.values()))
        lines.append("")
    if tasks is not None:
        lines += [f" {task_word}", f" 1     {tasks}", ""]
    lines += ["USERS: all"]
    queue = parsers.parse_bqueues("\n".join(lines) + "\n")["q"]
    assert queue.max_runtime_seconds == (None if minutes is None else minutes * 60)
    scale = {"K": 2**10, "M": 2**20, "G": 2**30}[unit]
    assert queue.max_memory_bytes == (None if amount is None else amount * scale)
    assert queue.max_tasks == tasks


@pytest.mark.parametrize(
    ("parser", "text"),
    [
        (parsers.parse_bsub, "Request <1> is submitted\n"),
        (parsers.parse_bsub, ""),
        (parsers.parse_bjobs, "JOBID STAT\n1 RUN\n"),
        (parsers.parse_bjobs, '{"COMMAND":"bjobs","JOBS":1}'),
        (parsers.parse_bjobs, '{"RECORDS":[{"JOBID":"x","STAT":"RUN"}]}'),
        (parsers.parse_bjobs, '{"RECORDS":[{"JOBID":"1","STAT":"run fast"}]}'),
        (parsers.parse_bjobs, '{"RECORDS":[{"JOBID":"1","STAT":"EXIT","EXIT_CODE":"lots"}]}'),
        (parsers.parse_bjobs, '{"RECORDS":[{"JOBID":"1","STAT":"RUN","MAX_MEM":"huge"}]}'),
        (parsers.parse_bjobs, '{"RECORDS":[["1","RUN"]]}'),
        (parsers.parse_named_jobs, "No job found\n"),
        (parsers.parse_named_jobs, '{"RECORDS":[{"JOBID":"1","JOBINDEX":"0"}]}'),
        (parsers.parse_named_jobs, '{"RECORDS":[{"JOBID":"1[2","JOB_NAME":"x"}]}'),
        (parsers.parse_named_jobs, '{"RECORDS":[{"JOBID":"1","JOB_NAME":["x"]}]}'),
        (parsers.parse_bparams, "bparams: LSF is down\n"),
        (parsers.parse_bhist, "Summary of time in seconds spent in various states\n"),
        (parsers.parse_bqueues, "QUEUE_NAME PRIO STATUS\nnormal 30 Open:Active\n"),
        (parsers.parse_bqueues, "QUEUE: q\nMAXIMUM LIMITS:\n RUNLIMIT\n forever\n"),
        (parsers.parse_bqueues, "QUEUE: q\nMAXIMUM LIMITS:\n MEMLIMIT\n lots\n"),
    ],
)
def test_garbage_raises_with_the_raw_text(parser: object, text: str) -> None:
    """Output of the wrong shape raises SchedulerOutputError carrying the whole raw text."""
    with pytest.raises(SchedulerOutputError) as caught:
        parser(text)  # type: ignore[operator]  # each parser takes the text first
    assert caught.value.raw == text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children)
    ),
    max_leaves=20,
)


PARSERS: tuple[Callable[[str], object], ...] = (
    parsers.parse_bsub,
    parsers.parse_bjobs,
    parsers.parse_named_jobs,
    parsers.parse_bparams,
    parsers.parse_bhist,
    parsers.parse_bqueues,
)


def raw_seen(parser: Callable[[str], object], text: str) -> str:
    """The raw text of the SchedulerOutputError `parser` raises, or `text` if it parses."""
    try:
        parser(text)
    except SchedulerOutputError as exc:
        return exc.raw
    return text


@given(st.one_of(st.text(max_size=300), json_values.map(json.dumps)))
def test_parsers_never_fail_otherwise(text: str) -> None:
    """Arbitrary text or JSON either parses or raises SchedulerOutputError, nothing else."""
    for parser in PARSERS:
        assert raw_seen(parser, text) == text


record_keys = st.sampled_from(
    ["JOBID", "JOBINDEX", "STAT", "EXIT_CODE", "MAX_MEM", "RUN_TIME", "CPU_USED", "EXEC_HOST"]
)


@given(st.dictionaries(record_keys, json_values))
def test_bjobs_hostile_records(record: dict[str, object]) -> None:
    """A record of any shape is parsed or refused with SchedulerOutputError."""
    text = json.dumps({"RECORDS": [record]})
    assert raw_seen(parsers.parse_bjobs, text) == text


named_keys = st.sampled_from(["JOBID", "JOBINDEX", "JOB_NAME", "ERROR"])


@given(st.dictionaries(named_keys, json_values))
def test_named_jobs_hostile_records(record: dict[str, object]) -> None:
    """A lookup record of any shape is parsed or refused with SchedulerOutputError."""
    text = json.dumps({"RECORDS": [record]})
    assert raw_seen(parsers.parse_named_jobs, text) == text


def test_small_value_parsers() -> None:
    """Memory amounts, termination reasons, ids and not-found detection."""
    assert parsers.parse_memory("152 Mbytes") == 152 * 2**20
    assert parsers.parse_memory("2048") == 2048 * 1024
    assert parsers.parse_memory("2", "GB") == 2 * 2**30
    assert parsers.parse_memory("-") is None
    assert parsers.termination_reason("", "TERM_RUNLIMIT: job killed") == "TERM_RUNLIMIT"
    assert parsers.termination_reason("job killed after reaching LSF run time limit.") == (
        "TERM_RUNLIMIT"
    )
    assert parsers.termination_reason("TERM_NO_SUCH_THING", "exited") == ""
    assert parsers.job_key("123[4]") == "123" and parsers.job_key("12_3") is None
    assert parsers.not_found_only("Job <1> is not found\nJob <2[3]> is not found\n")
    assert parsers.not_found_only("No unfinished job found\n")
    assert not parsers.not_found_only("LSF is down\n")
