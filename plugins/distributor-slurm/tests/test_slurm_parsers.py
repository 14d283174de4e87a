"""Parsers of squeue, sacct, sbatch, scontrol and sinfo output: round trips and garbage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import SchedulerOutputError
from distributor.batch import JobPhase
from distributor_slurm import parsers
from distributor_slurm.states import FINAL_STATES, QUEUED_STATES, RUNNING_STATES

ALL_STATES = sorted(FINAL_STATES | QUEUED_STATES | RUNNING_STATES)
job_ids = st.integers(min_value=1, max_value=10**9)
task_ids = st.none() | st.integers(min_value=0, max_value=10**6)
reasons = st.sampled_from(
    ["None", "Resources", "PartitionTimeLimit", "ReqNodeNotAvail, UnavailableNodes:vm"]
)


def distributor_id(job: int, task: int | None) -> str:
    """The id for a job (and array task)."""
    return str(job) if task is None else f"{job}_{task}"


@st.composite
def squeue_rows(draw: st.DrawFn) -> tuple[str, str, str, int, int]:
    """One squeue row: id, state, reason, exit code, signal."""
    did = distributor_id(draw(job_ids), draw(task_ids))
    state = draw(st.sampled_from(ALL_STATES))
    code = draw(st.integers(0, 255))
    signal = draw(st.integers(0, 64)) if code == 0 else 0
    return did, state, draw(reasons), code, signal


@given(st.lists(squeue_rows(), max_size=30, unique_by=lambda row: row[0]))
def test_squeue_round_trip(rows: list[tuple[str, str, str, int, int]]) -> None:
    """Rendered squeue lines parse back to the same ids, states, reasons and exits."""
    text = "".join(f"{d}|{s}|{r}|{(c << 8) | g}|\n" for d, s, r, c, g in rows)
    parsed = parsers.parse_squeue(text)
    assert set(parsed) == {row[0] for row in rows}
    for did, state, reason, code, signal in rows:
        status = parsed[did]
        assert status.state == state and status.reason == ("" if reason == "None" else reason)
        if status.phase is JobPhase.FINAL:
            assert (status.exit_code, status.signal) == (code, signal)
            assert status.complete == (not (state == "FAILED" and signal == 9))
        else:
            assert status.exit_code is None


@st.composite
def sacct_jobs(draw: st.DrawFn) -> tuple[str, str, tuple[int, int], tuple[int, int], int]:
    """One job for sacct: id, state, job-line exit, batch exit, MaxRSS KiB."""
    did = distributor_id(draw(job_ids), draw(task_ids))
    state = draw(st.sampled_from(sorted(FINAL_STATES)))
    job_exit = (draw(st.integers(0, 255)), draw(st.integers(0, 64)))
    batch_exit = (draw(st.integers(0, 255)), draw(st.integers(0, 64)))
    return did, state, job_exit, batch_exit, draw(st.integers(0, 10**8))


@given(st.lists(sacct_jobs(), max_size=20, unique_by=lambda job: job[0]))
def test_sacct_round_trip(
    jobs: list[tuple[str, str, tuple[int, int], tuple[int, int], int]],
) -> None:
    """Job, .batch and .extern lines combine into one status per job."""
    lines = []
    for did, state, (code, sig), (bcode, bsig), rss in jobs:
        shown = "CANCELLED by 0" if state == "CANCELLED" else state
        lines += [
            f"{did}|{shown}|{code}:{sig}|None|",
            f"{did}.batch|{state}|{bcode}:{bsig}||{rss}K",
            f"{did}.extern|COMPLETED|0:0||{rss // 2}K",
        ]
    parsed = parsers.parse_sacct("\n".join(lines) + "\n")
    assert set(parsed) == {job[0] for job in jobs}
    for did, state, (code, sig), (bcode, bsig), rss in jobs:
        status = parsed[did]
        assert status.state == state and status.phase is JobPhase.FINAL
        assert status.exit_code == (code or bcode)
        assert status.signal == ((sig or bsig) or None)
        assert status.maxrss_bytes == rss * 1024
        assert status.reason == ("by 0" if state == "CANCELLED" else "")


def test_sacct_recorded_output_of_the_dev_cluster() -> None:
    """Real sacct output: a signal only on the batch step, a stale pending-array bracket."""
    text = (
        "8|FAILED|0:9|None|\n8.batch|CANCELLED|0:9||0\n8.extern|COMPLETED|0:0||0\n"
        "9|CANCELLED by 0|0:0|None|\n9.batch|CANCELLED|0:15||224K\n"
        "19_[2-6,8-9%2]|CANCELLED by 0|0:0|JobArrayTaskLimit|\n"
        "19_2|COMPLETED|0:0|None|\n19_2.batch|COMPLETED|0:0||1.5M\n"
    )
    parsed = parsers.parse_sacct(text)
    assert (parsed["8"].state, parsed["8"].signal) == ("FAILED", 9)
    assert (parsed["9"].signal, parsed["9"].reason, parsed["9"].maxrss_bytes) == (
        15,
        "by 0",
        229376,
    )
    assert parsed["19_2"].state == "COMPLETED"  # its own line beats the stale bracket list
    assert parsed["19_3"].state == "CANCELLED" and "19_7" not in parsed
    assert parsed["19_9"].reason == "by 0"


@pytest.mark.parametrize(
    ("parser", "text"),
    [
        (parsers.parse_squeue, "12|RUNNING|None\n"),
        (parsers.parse_squeue, "twelve|RUNNING|None|0|\n"),
        (parsers.parse_squeue, "12|running fast|None|0|\n"),
        (parsers.parse_squeue, "12|FAILED|None|lots|\n"),
        (parsers.parse_sacct, "12|COMPLETED|0:0|None\n"),
        (parsers.parse_sacct, "12|COMPLETED|zero|None|\n"),
        (parsers.parse_sacct, "abc|COMPLETED|0:0|None|\n"),
        (parsers.parse_sacct, "12|COMPLETED|0:0|None|12 parsecs\n"),
        (parsers.parse_sacct, "12_[9-2]|PENDING|0:0|None|\n"),
        (parsers.parse_sbatch, "Submitted batch job 12\n"),
        (parsers.parse_sbatch, ""),
        (parsers.parse_partitions, "Nothing=here\n"),
        (parsers.parse_config, "garbage\n"),
        (parsers.parse_sinfo, "2|lots|(null)\n"),
    ],
)
def test_garbage_raises_with_the_raw_text(parser: object, text: str) -> None:
    """Output of the wrong shape raises SchedulerOutputError carrying the whole raw text."""
    with pytest.raises(SchedulerOutputError) as caught:
        parser(text)  # type: ignore[operator]  # each parser takes the text first
    assert caught.value.raw == text


@given(st.text(max_size=200))
def test_parsers_never_fail_otherwise(text: str) -> None:
    """Arbitrary text either parses or raises SchedulerOutputError, nothing else."""
    for parser in (parsers.parse_squeue, parsers.parse_sacct, parsers.parse_sinfo):
        try:
            parser(text)
        except SchedulerOutputError as exc:
            raw = exc.raw
        else:
            raw = text
        assert raw == text


@given(
    st.dictionaries(
        st.from_regex(r"[A-Z][A-Za-z]{1,15}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9:,=()./-]{0,20}", fullmatch=True),
        max_size=10,
    ),
    st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
)
def test_scontrol_partition_round_trip(settings: dict[str, str], name: str) -> None:
    """Key=Value pairs of a partition line parse back, keyed by PartitionName."""
    settings = {k: v for k, v in settings.items() if k != "PartitionName"}
    line = " ".join([f"PartitionName={name}", *(f"{k}={v}" for k, v in settings.items())])
    parsed = parsers.parse_partitions(line + "\n")
    assert parsed == {name: {"PartitionName": name, **settings}}


def test_small_value_parsers() -> None:
    """Durations, memory sizes, GRES, task lists, sbatch ids and config lines."""
    assert parsers.parse_duration("1:00:00") == 3600
    assert parsers.parse_duration("2-00:00:00") == 172800
    assert parsers.parse_duration("30") == 1800 and parsers.parse_duration("UNLIMITED") is None
    assert parsers.parse_memory_mb("24105") == 24105 * 2**20
    assert parsers.parse_memory_mb("4G") == 4 * 2**30
    assert parsers.parse_memory_mb("UNLIMITED") is None
    assert parsers.parse_gres_gpus("gpu:a100:4(S:0-1),mps:100") == 4
    assert parsers.parse_gres_gpus("(null)") == 0
    assert parsers.expand_task_list("2-4,8%2") == [2, 3, 4, 8]
    assert parsers.parse_sbatch("123;cluster\n") == "123"
    assert parsers.parse_config("MaxArraySize            = 1001\nX = a b\n")["X"] == "a b"
    assert parsers.job_key("12_3") == "12" and parsers.job_key("12;rm") is None
    shapes = parsers.parse_sinfo("2|24105|(null)\n8+|1000|gpu:2\n")
    assert [(s.cpus, s.gpus) for s in shapes] == [(2, 0), (8, 2)]


def test_sacct_accounting_figures_of_the_dev_cluster() -> None:
    """Real sacct output with ElapsedRaw, NodeList and TotalCPU: the job line's figures; a
    job that never ran gives none."""
    text = (
        "2898|FAILED|3:0|None||1|vm|00:00.168\n"
        "2898.batch|FAILED|3:0||0|1|vm|00:00.166\n"
        "2898.extern|COMPLETED|0:0||0|1|vm|00:00.001\n"
        "2901|CANCELLED by 0|0:0|None||0|None assigned|00:00:00\n"
    )
    parsed = parsers.parse_sacct(text)
    ran = parsed["2898"]
    assert (ran.elapsed, ran.host, ran.cpu_seconds) == (1.0, "vm", 0.168)
    never = parsed["2901"]
    assert (never.elapsed, never.host, never.cpu_seconds) == (None, None, None)


@given(st.integers(0, 30), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59999))
def test_cpu_times_round_trip(days: int, hours: int, minutes: int, millis: int) -> None:
    """``[[D-]HH:]MM:SS.mmm`` reads back as the seconds it stands for."""
    seconds = f"{millis // 1000:02d}.{millis % 1000:03d}"
    text = (
        f"{days}-{hours:02d}:{minutes:02d}:{seconds}"
        if days
        else (f"{hours:02d}:{minutes:02d}:{seconds}" if hours else f"{minutes:02d}:{seconds}")
    )
    expected = ((days * 24 + hours) * 60 + minutes) * 60 + millis / 1000
    assert parsers.parse_cpu_time(text) == pytest.approx(expected)
    assert parsers.parse_cpu_time("soon") is None and parsers.parse_cpu_time("") is None
