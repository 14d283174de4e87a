"""PBS's accounting of a finished job's run: clocks, time stamps in both layouts, execution
hosts of both flavours, and the figures of a job, or none for a job that never ran; anything
unreadable is None, never an exception. Last, the figures of real runs on the fake server."""

from __future__ import annotations

import calendar
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from distributor.batch import JobPhase, JobStatus
from distributor.testing import wait_for_exit_info
from distributor_pbs import PbsDistributor, accounting
from distributor_pbs.testing import FAST_POLLING, fake_environment

FAKES = Path(__file__).parent / "fakes"
HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

hosts = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}(\.[a-z0-9-]{1,10}){0,2}", fullmatch=True)
epochs = st.integers(10**9, 2 * 10**9)
"""Epoch seconds from 2001 to 2033."""
durations = st.integers(0, 30 * 86400)


def hms(seconds: int) -> str:
    """``HH:MM:SS`` as qstat prints a duration, hours beyond 99 included."""
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


# --- durations -------------------------------------------------------------------------------


@given(st.integers(0, 10**9 - 1))
def test_clocks_round_trip(seconds: int) -> None:
    """``HH:MM:SS`` (hours up to six digits), ``MM:SS`` and plain seconds read back as the
    seconds they print."""
    assert accounting.parse_clock(hms(seconds)) == seconds
    assert accounting.parse_clock(f"{seconds // 60}:{seconds % 60:02d}") == seconds
    assert accounting.parse_clock(str(seconds)) == seconds


@given(st.integers(0, 10**6), st.integers(0, 999))
def test_fractions_of_a_second_are_kept(seconds: int, millis: int) -> None:
    """``[.frac]`` (``walltime`` is ``[[hours:]minutes:]seconds[.milliseconds]``) adds to the
    seconds."""
    parsed = accounting.parse_clock(f"{hms(seconds)}.{millis:03d}")
    assert parsed == pytest.approx(seconds + millis / 1000)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("16648:25:43", 16648 * 3600 + 25 * 60 + 43), ("1:2:3", 3723), (" 00:00:10\n", 10)],
)
def test_clocks_of_other_shapes(text: str, seconds: int) -> None:
    """Hours past 99, single-digit fields and surrounding whitespace read as they say."""
    assert accounting.parse_clock(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "-",
        "-1",
        "1:",
        ":1",
        "1::2",
        "1:2:3:4",
        "00:61:00",
        "00:00:60",
        "1:60",
        "01:02:03 x",
        "1e3",
        "a:b:c",
        "١٢",  # Arabic-Indic digits: str.isdigit, but no figure qstat prints
        "9" * 10,
        "1:" + "9" * 10 + ":00",
    ],
)
def test_malformed_clocks_are_none(text: str | None) -> None:
    """An absent, negative, partial, over-long, unnormalised or non-ASCII clock is None."""
    assert accounting.parse_clock(text) is None


@given(st.text(max_size=40))
def test_clocks_never_raise(text: str) -> None:
    """Any text is a non-negative number of seconds or None."""
    parsed = accounting.parse_clock(text)
    assert parsed is None or parsed >= 0


# --- time stamps -----------------------------------------------------------------------------


@given(st.integers(1, 10**12 - 1))
def test_epoch_stamps_read_as_printed(seconds: int) -> None:
    """Torque's times and ``history_timestamp`` are epoch seconds."""
    assert accounting.parse_stamp(str(seconds)) == seconds


@given(st.integers(0, 2**33))
def test_ctime_stamps_round_trip(seconds: int) -> None:
    """A ctime-layout stamp (PBS Pro's ``stime``, ``obittime``, ``mtime``) reads back, in local
    time, to the second it shows (an hour that a DST change repeats shows two seconds)."""
    text = time.ctime(seconds)
    parsed = accounting.parse_stamp(text)
    assert parsed is not None and time.ctime(parsed) == text
    assert abs(parsed - seconds) <= 3600


@pytest.fixture
def eastern(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process in US Eastern time (a POSIX rule: no tz database needed)."""
    monkeypatch.setenv("TZ", "EST5EDT,M3.2.0,M11.1.0")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("eastern")
def test_ctime_stamps_are_local_time() -> None:
    """``Thu Nov  9 13:05:50 2023`` is 18:05:50 UTC in New York's winter, a July stamp four
    hours ahead of UTC in its summer."""
    winter = calendar.timegm((2023, 11, 9, 18, 5, 50))
    summer = calendar.timegm((2023, 7, 2, 16, 0, 0))
    assert accounting.parse_stamp("Thu Nov  9 13:05:50 2023") == winter
    assert accounting.parse_stamp("Sun Jul  2 12:00:00 2023") == summer


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "0",
        "00",
        "yesterday",
        "-1616013418",
        "1616013418.5",
        "1" * 13,
        "Thu Nov 31 13:05:50 2023",
        "Thu Nov  9 25:05:50 2023",
        "Thu Nov  9 13:05:50 2023 UTC",
        "2023-11-09T13:05:50",
        "Thu Nov  9 13:05:50\x00 2023",
    ],
)
def test_unreadable_stamps_are_none(text: str | None) -> None:
    """0 (PBS's "never"), an absent, negative, fractional, impossible or foreign stamp is None."""
    assert accounting.parse_stamp(text) is None


@given(st.text(max_size=40))
def test_stamps_never_raise(text: str) -> None:
    """Any text is a positive time stamp or None."""
    parsed = accounting.parse_stamp(text)
    assert parsed is None or parsed >= 0


# --- execution hosts -------------------------------------------------------------------------


@given(st.lists(st.tuples(hosts, st.integers(0, 63), st.integers(1, 64)), min_size=1, max_size=4))
def test_the_first_pbs_pro_host_is_where_the_script_ran(slots: list[tuple[str, int, int]]) -> None:
    """PBS Pro's ``hostA/0*2+hostB/1`` (host/index*cpus, ``*1`` left out) gives hostA."""
    text = "+".join(f"{host}/{index}" + (f"*{n}" if n > 1 else "") for host, index, n in slots)
    assert accounting.first_host(text) == slots[0][0]


@given(st.lists(st.tuples(hosts, st.integers(0, 63), st.integers(0, 63)), min_size=1, max_size=4))
def test_the_first_torque_host_is_where_the_script_ran(slots: list[tuple[str, int, int]]) -> None:
    """Torque's ``node01/0-3+node02/0`` (host/first-last cpu, or one cpu) gives node01."""
    text = "+".join(f"{host}/{a}-{a + b}" if b else f"{host}/{a}" for host, a, b in slots)
    assert accounting.first_host(text) == slots[0][0]


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("node01/0-3+node02/0", "node01"),
        ("hostA/0*2+hostB/1", "hostA"),
        ("r1i2n3.ice.example.org/0*36", "r1i2n3.ice.example.org"),
        ("hostA", "hostA"),
        (None, None),
        ("", None),
        ("+hostB/0", None),
        ("/0", None),
        ("$(id)/0", None),
        ("`id`/0", None),
        ("-rf/0", None),
        ("../etc/0", None),
        ("a;b/0", None),
        ("host name/0", None),
        ("host\n/0", None),
        ("hostA*2", None),
    ],
)
def test_hosts_of_other_shapes(text: str | None, host: str | None) -> None:
    """A bare host is itself; no host, or anything that is not a host name, is None."""
    assert accounting.first_host(text) == host


@given(st.text(max_size=60))
def test_hostile_exec_hosts_give_a_host_name_or_none(text: str) -> None:
    """Whatever exec_host holds, the host is a plain host name (no option, path or shell
    word) or None."""
    host = accounting.first_host(text)
    assert host is None or HOST_NAME.fullmatch(host)


# --- the figures of a job --------------------------------------------------------------------


never_ran = st.fixed_dictionaries(
    {"job_state": st.sampled_from(["F", "C"])},
    optional={
        "Exit_status": st.sampled_from(["0", "-3", "271"]),
        "substate": st.just("91"),
        "ctime": epochs.map(time.ctime),
        "qtime": epochs.map(time.ctime),
        "mtime": epochs.map(time.ctime) | epochs.map(str),
        "history_timestamp": epochs.map(str),
        "comp_time": epochs.map(str),
        "obittime": epochs.map(time.ctime),
        "resources_used.walltime": st.just("00:00:00"),
        "resources_used.cput": st.just("00:00:00"),
        "exec_host": st.sampled_from(["", "+", "/0"]),
        "stime": st.sampled_from(["", "0"]),
        "start_time": st.sampled_from(["", "0"]),
    },
)


@given(never_ran)
def test_a_job_that_never_ran_has_no_figures(attributes: dict[str, str]) -> None:
    """Without a host, a start or any wall time, a job claims no run, however it ended."""
    assert accounting.run_figures(attributes) == {}


@given(epochs, durations, durations, durations, st.lists(hosts, min_size=1, max_size=3))
def test_torque_figures(start: int, took: int, wall: int, cpu: int, on: list[str]) -> None:
    """Torque's epoch stamps, clocks and first host are the figures as printed."""
    attributes = {
        "job_state": "C",
        "start_time": str(start),
        "comp_time": str(start + took),
        "mtime": str(start + took + 1),
        "resources_used.walltime": hms(wall),
        "resources_used.cput": hms(cpu),
        "exec_host": "+".join(f"{host}/0-3" for host in on),
    }
    assert accounting.run_figures(attributes) == {
        "elapsed": wall,
        "cpu_seconds": cpu,
        "started_at": start,
        "ended_at": start + took,
        "host": on[0],
    }


def pro_attributes(start: int, end: int, shift: int, *, obittime: bool = True) -> dict[str, str]:
    """A finished PBS Pro job that ran from `start` to `end`, its local stamps printed by a
    qstat `shift` seconds east of this process, ``history_timestamp`` a second after the end."""
    attributes = {
        "job_state": "F",
        "stime": time.ctime(start + shift),
        "mtime": time.ctime(end + 1 + shift),
        "history_timestamp": str(end + 1),
        "resources_used.walltime": hms(end - start),
        "resources_used.cput": "00:00:07",
        "exec_host": "hostA/0*2+hostB/1",
    }
    if obittime:
        attributes["obittime"] = time.ctime(end + shift)
    return attributes


def unambiguous(*stamps: int) -> bool:
    """Whether every stamp reads back from ctime as itself: not so in an hour that a DST
    change of this process's zone repeats (none in UTC)."""
    return all(accounting.parse_stamp(time.ctime(stamp)) == stamp for stamp in stamps)


@given(epochs, durations, st.integers(-599, 600))
def test_pbs_pro_figures(start: int, took: int, skew: int) -> None:
    """PBS Pro's local stamps read in this process's zone, the end from ``obittime``; clocks
    that disagree with ``history_timestamp`` by up to ten minutes are one zone."""
    assume(unambiguous(start + skew, start + took + skew, start + took + 1 + skew))
    assert accounting.run_figures(pro_attributes(start, start + took, skew)) == {
        "elapsed": took,
        "cpu_seconds": 7,
        "started_at": start + skew,
        "ended_at": start + took + skew,
        "host": "hostA",
    }


@given(epochs, durations)
def test_older_pbs_pro_servers_end_at_the_history_timestamp(start: int, took: int) -> None:
    """Without ``obittime`` (older servers lack it) the end is ``history_timestamp``, before the
    job's last modification time (``mtime``)."""
    assume(unambiguous(start, start + took + 1))
    figures = accounting.run_figures(pro_attributes(start, start + took, 0, obittime=False))
    assert (figures["started_at"], figures["ended_at"]) == (start, start + took + 1)


@given(
    epochs,
    durations,
    st.integers(-14 * 4, 14 * 4).filter(lambda quarters: quarters != 0),
    st.booleans(),
)
def test_local_stamps_of_another_zone_are_dropped(
    start: int, took: int, quarters: int, obittime: bool
) -> None:
    """qstat run in another time zone (a remote transport) prints local stamps that
    ``history_timestamp`` contradicts: the start is dropped, the end is
    ``history_timestamp``, and the clocks and host stay."""
    shift = quarters * 900
    assume(unambiguous(start + shift, start + took + shift, start + took + 1 + shift))
    attributes = pro_attributes(start, start + took, shift, obittime=obittime)
    assert accounting.run_figures(attributes) == {
        "elapsed": took,
        "cpu_seconds": 7,
        "started_at": None,
        "ended_at": start + took + 1,
        "host": "hostA",
    }


@given(epochs, st.integers(1, 10**6))
def test_contradicting_stamps_are_dropped(start: int, early: int) -> None:
    """An end before the start says nothing of either; the clocks and host stay."""
    attributes = {
        "job_state": "C",
        "start_time": str(start),
        "comp_time": str(start - early),
        "resources_used.walltime": "00:01:00",
        "exec_host": "node01/0",
    }
    assert accounting.run_figures(attributes) == {
        "elapsed": 60,
        "cpu_seconds": None,
        "started_at": None,
        "ended_at": None,
        "host": "node01",
    }


ACCOUNTING_KEYS = [
    "resources_used.walltime",
    "resources_used.cput",
    "stime",
    "start_time",
    "obittime",
    "comp_time",
    "history_timestamp",
    "mtime",
    "exec_host",
]


@given(st.dictionaries(st.sampled_from(ACCOUNTING_KEYS), st.text(max_size=30)))
def test_any_accounting_text_gives_figures_or_none(attributes: dict[str, str]) -> None:
    """Whatever the accounting attributes hold, the figures are numbers, a host name or None,
    and the start is never after the end."""
    figures = accounting.run_figures({"job_state": "F", **attributes})
    assert set(figures) <= {"elapsed", "cpu_seconds", "started_at", "ended_at", "host"}
    started, ended = figures.get("started_at"), figures.get("ended_at")
    assert started is None or ended is None or started <= ended
    for name in ("elapsed", "cpu_seconds"):
        assert figures.get(name) is None or figures[name] >= 0


# --- real runs on the fake server ------------------------------------------------------------


BURN = f'{sys.executable} -c "import time; any(iter(lambda: time.process_time() > 1.2, True))"'
"""A command that runs until it has used 1.2 s of CPU."""
EXEC_HOST = "node7.fake-cluster"
FIGURES = ("elapsed", "cpu_seconds", "started_at", "ended_at", "host")


def fake_server(tmp_path: Path, flavour: str) -> tuple[PbsDistributor, dict[str, str]]:
    """A started distributor on a fake server of `flavour` whose MoM calls itself `EXEC_HOST`,
    with a queue that never starts its jobs; the environment of its commands."""
    limits = {"resources_max.walltime": "01:00:00", "resources_max.ncpus": "8"}
    queues = {"main": limits, "stopped": {**limits, "started": "False"}}
    env = fake_environment(
        FAKES, tmp_path / "pbs", flavour=flavour, queues=queues, exec_host=EXEC_HOST
    )
    pbs = PbsDistributor(
        "fake", submit_root=tmp_path / "root", environment=env, poll_policy=FAST_POLLING
    )
    pbs.start()
    return pbs, env


def final_status(pbs: PbsDistributor, did: str) -> JobStatus:
    """The final status qstat reported of a job whose exit info is decided."""
    wait_for_exit_info(pbs, did, 60, 0.05)
    job = pbs.tracker.get(did)
    assert job is not None and job.status is not None, did
    assert job.status.phase is JobPhase.FINAL and job.status.source == "qstat", job.status
    return job.status


@pytest.mark.parametrize("flavour", ["pro", "torque"])
def test_a_finished_job_reports_its_run(tmp_path: Path, flavour: str) -> None:
    """A job that ran on two cpus reports PBS's wall and CPU time, its start and end and the
    MoM's host (``node7…/0*2`` on PBS Pro, ``node7…/0-1`` on Torque), and its usage is
    PBS's rather than the worker's."""
    pbs, _ = fake_server(tmp_path, flavour)
    did = pbs.submit_to_batch_distributor(BURN, "burn", {"queue": "main", "cores": 2})
    status = final_status(pbs, did)
    assert status.exit_code == 0
    assert status.elapsed is not None and status.elapsed > 0
    assert status.cpu_seconds is not None and status.cpu_seconds > 0
    assert status.host == EXEC_HOST
    assert status.started_at is not None and status.ended_at is not None
    assert status.started_at <= status.ended_at
    usage = pbs.task_usage(did)
    assert usage is not None and usage.exit_code == 0
    assert (usage.elapsed, usage.cpu, usage.host) == (
        status.elapsed,
        status.cpu_seconds,
        EXEC_HOST,
    )
    pbs.stop()


@pytest.mark.parametrize("flavour", ["pro", "torque"])
def test_a_job_deleted_before_it_started_reports_no_run(tmp_path: Path, flavour: str) -> None:
    """A job deleted (qdel at a shell) while queued has no wall or CPU time, start, end or
    host, in its status or its usage."""
    pbs, env = fake_server(tmp_path, flavour)
    did = pbs.submit_to_batch_distributor("true", "never", {"queue": "stopped"})
    subprocess.run(["qdel", did], env={**os.environ, **env}, check=True)
    status = final_status(pbs, did)
    assert tuple(getattr(status, name) for name in FIGURES) == (None,) * len(FIGURES)
    usage = pbs.task_usage(did)
    assert usage is None or (usage.elapsed, usage.cpu, usage.started_at, usage.host) == (
        None,
        None,
        None,
        None,
    )
    pbs.stop()
