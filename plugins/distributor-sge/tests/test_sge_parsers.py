"""Parsers of qsub, qstat -xml, qstat -j, qacct, qconf and qhost output: round trips, samples
recorded on the dev cell, and garbage that must raise SchedulerOutputError with the raw text."""

from __future__ import annotations

from collections.abc import Callable
from xml.sax.saxutils import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import SchedulerOutputError
from distributor.batch import JobPhase, NamedJob
from distributor_sge import parsers
from distributor_sge.accounting import AccountingRecord, parse_qacct, parse_scaled_bytes

# --- samples recorded on the dev cell (Son of Grid Engine 8.1.9) --------------------------

QSTAT_SAMPLE = """<?xml version='1.0'?>
<job_info  xmlns:xsd="http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/resources/schemas/qstat/qstat.xsd">
  <queue_info>
    <job_list state="running">
      <JB_job_number>161</JB_job_number>
      <JAT_prio>0.50000</JAT_prio>
      <JB_name>arr</JB_name>
      <JB_owner>root</JB_owner>
      <state>r</state>
      <JAT_start_time>2026-11-24T09:16:11</JAT_start_time>
      <queue_name>all.q@vm</queue_name>
      <slots>1</slots>
      <tasks>1</tasks>
    </job_list>
  </queue_info>
  <job_info>
    <job_list state="pending">
      <JB_job_number>161</JB_job_number>
      <JAT_prio>0.50000</JAT_prio>
      <JB_name>a&amp;b%lt;c&gt;&quot;d</JB_name>
      <JB_owner>root</JB_owner>
      <state>qw</state>
      <JB_submission_time>2026-11-24T09:16:11</JB_submission_time>
      <queue_name></queue_name>
      <slots>1</slots>
      <tasks>3-5:1</tasks>
    </job_list>
    <job_list state="pending">
      <JB_job_number>16</JB_job_number>
      <state>Eqw</state>
      <queue_name></queue_name>
    </job_list>
  </job_info>
</job_info>
"""

QACCT_SAMPLE = """==============================================================
qname        all.q
hostname     vm
jobname      rttest
jobnumber    22
taskid       1
qsub_time    Tue Nov 24 10:47:01 2026
start_time   Tue Nov 24 10:47:01 2026
end_time     Tue Nov 24 10:47:04 2026
granted_pe   NONE
slots        1
failed       37  : qmaster enforced h_rt, h_cpu, or h_vmem limit
exit_status  137                  (Killed)
ru_wallclock 3s
ru_utime     0.063s
ru_maxrss    187.980KB
cpu          0.091s
mem          0.000Bs
io           628.097KB
maxvmem      32.598MB
arid         undefined
category     -l h_rt=3
==============================================================
jobnumber    20
taskid       undefined
start_time   -/-
end_time     -/-
failed       26  : opening input/output file
exit_status  0
ru_wallclock 0s
cpu          0.000s
maxvmem      0.000B
"""

QSTAT_J_SAMPLE = (
    "==============================================================\n"
    "job_number:                 17\n"
    "job-array tasks:            1-3:1\n"
    "error reason          1:      11/24/2026 10:44:18 [0:16815]: error: can't open output file "
    '"/nonexistent/o": No such file or directory\n'
    "error reason          3:      11/24/2026 10:44:20 [0:16953]: error: can't chdir to /x\n"
    "==============================================================\n"
    "job_number:                 16\n"
    "error reason          1:      11/24/2026 10:44:18 [0:16778]: error: can't chdir to "
    "/nonexistent/wd\n"
)


def test_qsub_terse_single_and_array() -> None:
    """qsub -terse prints the job number, or job.first-last:step for an array."""
    assert parsers.parse_qsub("3\n") == "3"
    assert parsers.parse_qsub("161.1-1000:1\n") == "161"
    with pytest.raises(SchedulerOutputError) as caught:
        parsers.parse_qsub("Your job 37 has been submitted\n")
    assert caught.value.raw == "Your job 37 has been submitted\n"


def test_qstat_sample_parses() -> None:
    """The recorded qstat -xml gives running tasks, pending ranges and an Eqw job."""
    entries = parsers.parse_qstat(QSTAT_SAMPLE)
    assert entries == [
        parsers.QstatEntry("161", "r", (parsers.TaskRange(1, 1),), "all.q@vm"),
        parsers.QstatEntry("161", "qw", (parsers.TaskRange(3, 5, 1),), ""),
        parsers.QstatEntry("16", "Eqw", None, ""),
    ]


def test_qacct_sample_parses_and_corrects_maxrss() -> None:
    """The recorded qacct blocks give failed codes, signals, maxvmem and a corrected ru_maxrss."""
    first, second = parse_qacct(QACCT_SAMPLE)
    assert (first.distributor_id, first.failed, first.exit_status) == ("22.1", 37, 137)
    assert first.failed_reason == "qmaster enforced h_rt, h_cpu, or h_vmem limit"
    assert first.maxrss_bytes == round(187.980 * 1024) * 1024  # really ~188 MiB, not KiB
    assert first.maxvmem_bytes == round(32.598 * 2**20)
    assert (first.wallclock_seconds, first.cpu_seconds, first.elapsed_seconds) == (3, 0.091, 3)
    status = first.to_status()
    assert status.phase is JobPhase.FINAL and status.signal == 9 and status.failed == 37
    assert (status.elapsed, status.cpu_seconds, status.host) == (3, 0.091, first.hostname)
    assert (second.distributor_id, second.failed, second.elapsed_seconds) == ("20", 26, None)


def test_error_reasons_by_job_and_task() -> None:
    """qstat -j error reasons are keyed by job and task (task 1 for a non-array job)."""
    reasons = parsers.parse_error_reasons(QSTAT_J_SAMPLE)
    assert set(reasons) == {"17", "16"} and set(reasons["17"]) == {1, 3}
    assert reasons["16"][1].endswith("can't chdir to /nonexistent/wd")


def test_units() -> None:
    """Grid Engine memory (K=1024, k=1000), time and qacct's scaled figures."""
    assert parsers.parse_sge_memory("12052M") == 12052 * 2**20
    assert parsers.parse_sge_memory("2k") == 2000
    assert parsers.parse_sge_memory("INFINITY") is None
    assert parsers.parse_sge_time("48:00:00") == 48 * 3600
    assert parsers.parse_sge_time("0:0:3") == 3 and parsers.parse_sge_time("60") == 60
    assert parse_scaled_bytes("0.000B") == 0 and parse_scaled_bytes("1.5GB") == 3 * 2**29
    for bad in ("12 M", "lots", "-1G"):
        with pytest.raises(ValueError, match="memory"):
            parsers.parse_sge_memory(bad)


def test_qconf_listing_and_complexes() -> None:
    """qconf name/value listings join continuation lines; the complex table has 8 columns."""
    settings = parsers.parse_key_values("qname all.q\npe_list  smp \\\n   mpi\nslots 2\n")
    assert settings == {"qname": "all.q", "pe_list": "smp mpi", "slots": "2"}
    table = parsers.parse_complexes(
        "#name shortcut type relop requestable consumable default urgency\n"
        "h_vmem  h_vmem  MEMORY  <=  YES  YES  12052M  0\n"
        "h_rt    h_rt    TIME    <=  YES  NO   0:0:0   0\n"
    )
    assert parsers.complex_defaults(table, "h_vmem") == 12052 * 2**20
    assert parsers.complex_defaults(table, "h_rt") is None
    assert parsers.complex_defaults(table, "mem_free") is None
    with pytest.raises(SchedulerOutputError):
        parsers.parse_complexes("h_vmem h_vmem MEMORY\n")


def test_ids() -> None:
    """Ids are JOB or JOB.TASK with a 1-based task; anything else is not an id."""
    assert parsers.split_id("12") == ("12", None)
    assert parsers.split_id("12.3") == ("12", 3)
    for bogus in ("12.0", "0", "12_3", "12.", "a", "12.3.4", " 12", "-1"):
        assert parsers.split_id(bogus) is None and parsers.job_key(bogus) is None


# --- round trips --------------------------------------------------------------------------

_RANGE = st.builds(
    lambda first, span, step: parsers.TaskRange(first, first + span * step, step if span else 1),
    st.integers(1, 100_000),
    st.integers(0, 1000),
    st.integers(1, 7),
)
_ENTRY = st.builds(
    parsers.QstatEntry,
    job=st.integers(1, 10**9).map(str),
    state=st.sampled_from(["qw", "hqw", "r", "t", "Eqw", "Ehqw", "dr", "Rr", "Rq", "s", "S"]),
    tasks=st.none() | st.lists(_RANGE, min_size=1, max_size=4).map(tuple),
    queue=st.sampled_from(["", "all.q@vm", "long.q@node-1.example.org"]),
)
_NAME = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn")), max_size=20)


def render_qstat(entries: list[parsers.QstatEntry], names: list[str]) -> str:
    """qstat -xml as Grid Engine prints it (running under queue_info, pending under job_info)."""

    def block(entry: parsers.QstatEntry, name: str) -> str:
        tasks = (
            ""
            if entry.tasks is None
            else f"<tasks>{parsers.format_task_ranges(entry.tasks)}</tasks>"
        )
        return (
            f'<job_list state="x"><JB_job_number>{entry.job}</JB_job_number>'
            f"<JB_name>{escape(name)}</JB_name><state>{entry.state}</state>"
            f"<queue_name>{entry.queue}</queue_name><slots>1</slots>{tasks}</job_list>"
        )

    running = [block(e, n) for e, n in zip(entries, names, strict=False) if e.queue]
    pending = [block(e, n) for e, n in zip(entries, names, strict=False) if not e.queue]
    return (
        "<?xml version='1.0'?>\n<job_info><queue_info>"
        + "".join(running)
        + "</queue_info><job_info>"
        + "".join(pending)
        + "</job_info></job_info>"
    )


@given(st.lists(_ENTRY, max_size=20), st.lists(_NAME, min_size=20, max_size=20))
def test_qstat_round_trip(entries: list[parsers.QstatEntry], names: list[str]) -> None:
    """Every entry qstat prints comes back unchanged, whatever the job names contain."""
    parsed = parsers.parse_qstat(render_qstat(entries, names))
    expected = [e for e in entries if e.queue] + [e for e in entries if not e.queue]
    assert parsed == expected


def test_named_jobs_sample_parses() -> None:
    """The recorded qstat -xml gives each job once with its exact (unescaped) name, oldest
    first; an entry without a name is refused with the raw text."""
    with_name = QSTAT_SAMPLE.replace(
        "<JB_job_number>16</JB_job_number>",
        "<JB_job_number>16</JB_job_number><JB_name>x&amp;y</JB_name>",
    )
    assert parsers.parse_named_jobs(with_name) == [NamedJob("16", "x&y"), NamedJob("161", "arr")]
    with pytest.raises(SchedulerOutputError, match="JB_name") as caught:
        parsers.parse_named_jobs(QSTAT_SAMPLE)
    assert caught.value.raw == QSTAT_SAMPLE


@st.composite
def named_listings(draw: st.DrawFn) -> tuple[str, list[NamedJob]]:
    """A qstat -xml listing of several jobs, each with one or more entries (array tasks
    running and pending), and the named jobs it must parse into."""
    numbers = draw(st.lists(st.integers(1, 10**9), unique=True, max_size=8))
    entries: list[parsers.QstatEntry] = []
    names: list[str] = []
    jobs = []
    for number in numbers:
        name = draw(_NAME)
        jobs.append(NamedJob(str(number), name))
        for entry in draw(st.lists(_ENTRY, min_size=1, max_size=3)):
            entries.append(parsers.QstatEntry(str(number), entry.state, entry.tasks, entry.queue))
            names.append(name)
    order = draw(st.permutations(range(len(entries))))
    text = render_qstat([entries[i] for i in order], [names[i] for i in order])
    return text, sorted(jobs, key=lambda job: int(job.key))


@given(named_listings())
def test_named_jobs_round_trip(listing: tuple[str, list[NamedJob]]) -> None:
    """Every job qstat lists comes back once, with its name unchanged, oldest (lowest job
    number) first, however its entries are ordered; and exactly the jobs parse_qstat sees."""
    text, jobs = listing
    parsed = parsers.parse_named_jobs(text)
    assert parsed == jobs
    assert {job.key for job in parsed} == {entry.job for entry in parsers.parse_qstat(text)}


@given(st.lists(_RANGE, min_size=1, max_size=6))
def test_task_ranges_round_trip(ranges: list[parsers.TaskRange]) -> None:
    """Formatting and parsing task lists are inverse, and membership matches range()."""
    parsed = parsers.parse_task_ranges(parsers.format_task_ranges(ranges))
    assert parsed == tuple(ranges)
    for task_range in ranges:
        for task in (task_range.first, task_range.last, task_range.last + 1):
            assert (task in task_range) == (task in task_range.as_range())


_SCALED = st.tuples(st.integers(0, 10**7), st.sampled_from(["", "K", "M", "G"]))
_SCALES = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


@st.composite
def qacct_blocks(draw: st.DrawFn) -> tuple[str, AccountingRecord]:
    """One qacct block and the record it must parse into."""
    job = draw(st.integers(1, 10**9))
    task = draw(st.none() | st.integers(1, 75000))
    failed = draw(st.sampled_from([0, 1, 11, 26, 28, 37, 100]))
    reason = draw(st.sampled_from(["", "assumedly after job", "opening input/output file"]))
    exit_status = draw(st.integers(0, 255))
    wallclock = draw(st.integers(0, 10**6))
    cpu_ms = draw(st.integers(0, 10**9))
    vmem, vmem_unit = draw(_SCALED)
    rss, rss_unit = draw(_SCALED)
    failed_text = f"{failed}  : {reason}" if reason else f"{failed}    "
    text = (
        "==============================================================\n"
        f"qname        all.q\nhostname     vm\njobname      n\njobnumber    {job}\n"
        f"taskid       {task if task is not None else 'undefined'}\n"
        f"failed       {failed_text}\nexit_status  {exit_status}                  (x)\n"
        f"ru_wallclock {wallclock}s\ncpu          {cpu_ms / 1000:.3f}s\n"
        f"ru_maxrss    {rss / 1000:.3f}{rss_unit}B\nmaxvmem      {vmem / 1000:.3f}{vmem_unit}B\n"
        "category     NONE\n"
    )
    record = AccountingRecord(
        job=str(job),
        task=task,
        failed=failed,
        failed_reason=reason,
        exit_status=exit_status,
        wallclock_seconds=float(wallclock),
        cpu_seconds=float(f"{cpu_ms / 1000:.3f}"),
        maxvmem_bytes=round(float(f"{vmem / 1000:.3f}") * _SCALES[vmem_unit]),
        maxrss_bytes=round(float(f"{rss / 1000:.3f}") * _SCALES[rss_unit]) * 1024,
        hostname="vm",
        category="NONE",
    )
    return text, record


@given(st.lists(qacct_blocks(), max_size=8))
def test_qacct_round_trip(blocks: list[tuple[str, AccountingRecord]]) -> None:
    """Every qacct block parses into exactly the record it was printed from."""
    text = "".join(block for block, _ in blocks)
    assert parse_qacct(text) == [record for _, record in blocks]


# --- garbage ------------------------------------------------------------------------------


def refusal(parse: Callable[[str], object], text: str) -> SchedulerOutputError | None:
    """Parse `text`; return the SchedulerOutputError it raised, or None if it parsed."""
    try:
        parse(text)
    except SchedulerOutputError as exc:
        return exc
    return None


_XMLISH = st.lists(
    st.sampled_from(
        [
            "<job_info>",
            "</job_info>",
            "<job_list>",
            "</job_list>",
            "<JB_job_number>",
            "</JB_job_number>",
            "<state>",
            "</state>",
            "<tasks>",
            "</tasks>",
            "<JB_name>",
            "</JB_name>",
            "12",
            "r",
            "1-x:1",
            "0-3:1",
            "<!DOCTYPE x>",
            "&amp;",
            "&bogus;",
            "<qhost>",
            "</qhost>",
        ]
    ),
    max_size=30,
).map("".join)


@given(st.text() | _XMLISH)
def test_qstat_garbage_raises_with_raw_text(text: str) -> None:
    """Garbage either parses or raises SchedulerOutputError carrying the raw text."""
    error = refusal(parsers.parse_qstat, text)
    assert error is None or error.raw == text


@given(st.text() | _XMLISH)
def test_named_jobs_garbage_raises_with_raw_text(text: str) -> None:
    """Garbage either parses or raises SchedulerOutputError carrying the raw text."""
    error = refusal(parsers.parse_named_jobs, text)
    assert error is None or error.raw == text


@given(st.text() | _XMLISH)
def test_qhost_garbage_raises_with_raw_text(text: str) -> None:
    """Garbage either parses or raises SchedulerOutputError carrying the raw text."""
    error = refusal(parsers.parse_qhost, text)
    assert error is None or error.raw == text


_QACCT_LINES = st.lists(
    st.sampled_from(
        [
            "=" * 62,
            "jobnumber    12",
            "jobnumber    x",
            "taskid       undefined",
            "taskid       -3",
            "failed       100 : assumedly after job",
            "failed       oops",
            "exit_status  137 (Killed)",
            "exit_status  none",
            "maxvmem      1.5QB",
            "ru_maxrss    1.000KB",
            "cpu          1.0s",
            "cpu          lots",
            "Total System Usage",
            "  WALLCLOCK  UTIME",
            "",
        ]
    ),
    max_size=30,
).map("\n".join)


@given(st.text() | _QACCT_LINES)
def test_qacct_garbage_raises_with_raw_text(text: str) -> None:
    """Garbage either parses or raises SchedulerOutputError carrying the raw text."""
    error = refusal(parse_qacct, text)
    assert error is None or error.raw == text


@pytest.mark.parametrize(
    "text",
    [
        "<job_info><job_list><state>r</state></job_list></job_info>",
        "<job_info><job_list><JB_job_number>1</JB_job_number><state>r</state>"
        "<tasks>5-2:1</tasks></job_list></job_info>",
        "<?xml version='1.0'?><!DOCTYPE lol [<!ENTITY a 'aaaa'>]><job_info>&a;</job_info>",
        "<detailed_job_info/>",
        "error: commlib error",
    ],
)
def test_specific_qstat_garbage(text: str) -> None:
    """Missing job numbers, impossible ranges, DTDs and foreign documents are refused."""
    with pytest.raises(SchedulerOutputError) as caught:
        parsers.parse_qstat(text)
    assert caught.value.raw == text


@pytest.mark.parametrize(
    "text",
    [
        "jobnumber 1\ntaskid undefined\nexit_status 0\n",
        "jobnumber 1\ntaskid undefined\nfailed 0\nexit_status 0\nmaxvmem 3 apples\n",
        "Total System Usage\n",
    ],
)
def test_specific_qacct_garbage(text: str) -> None:
    """A record without failed, an unparsable figure and a summary table are refused."""
    with pytest.raises(SchedulerOutputError) as caught:
        parse_qacct(text)
    assert caught.value.raw == text
