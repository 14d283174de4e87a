"""Parsers of qsub, qstat (PBS Pro JSON, Torque XML, -Q/-B -f text) output: recorded samples,
round trips, and garbage that must raise SchedulerOutputError with the raw text."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import SchedulerOutputError
from distributor.batch import JobPhase, NamedJob
from distributor_pbs import accounting, parsers
from distributor_pbs.codes import JOB_STATES

# PBS Pro 19.0.0, `qstat -f -F json 40` of a finished job (buildtest documentation, trimmed).
PRO_RECORDED = """{
    "timestamp":1616013438,
    "pbs_version":"19.0.0",
    "pbs_server":"pbs",
    "Jobs":{
        "40.pbs":{
            "Job_Name":"pbs_sleep",
            "Job_Owner":"pbsuser@pbs",
            "resources_used":{
                "cpupercent":0,
                "cput":"00:00:00",
                "mem":"5620kb",
                "ncpus":1,
                "vmem":"25632kb",
                "walltime":"00:00:10"
            },
            "job_state":"F",
            "queue":"workq",
            "Resource_List":{
                "ncpus":1,
                "nodect":1,
                "select":"1:ncpus=1",
                "walltime":"00:02:00"
            },
            "substate":92,
            "Variable_List":{
                "PBS_O_HOME":"/home/pbsuser",
                "PBS_O_QUEUE":"workq"
            },
            "comment":"Job run at Wed Mar 17 at 20:36 on (pbs:ncpus=1) and finished",
            "run_count":1,
            "Exit_status":0,
            "history_timestamp":1616013418
        }
    }
}
"""

# Torque `qstat -x` of a completed and of a queued job (Roddy's PBSJobManagerSpec, trimmed).
TORQUE_RECORDED = (
    "<Data><Job><Job_Id>4564045.pbsserver</Job_Id><Job_Name>r180405_snvJoinVcfFiles</Job_Name>"
    "<resources_used><cput>00:00:00</cput><mem>6064kb</mem><vmem>454232kb</vmem>"
    "<walltime>00:00:06</walltime></resources_used><job_state>C</job_state><queue>otp</queue>"
    "<Resource_List><mem>1024mb</mem><nodect>1</nodect><nodes>1:ppn=3</nodes>"
    "<walltime>04:00:00</walltime></Resource_List><exit_status>0</exit_status>"
    "<comp_time>1522939194</comp_time></Job>"
    "<Job><Job_Id>4499334.pbsserver</Job_Id><job_state>Q</job_state><queue>otp</queue>"
    "<Resource_List><walltime>05:00:00</walltime></Resource_List></Job></Data>\n"
)

# PBS Pro `qstat -Q -f gpu_long` (MetaCentrum documentation): values wrap onto tab lines.
QUEUE_RECORDED = (
    "Queue: gpu_long\n"
    "    queue_type = Execution\n"
    "    Priority = 66\n"
    "    state_count = Transit:0 Queued:14 Held:0 Waiting:0 Running:10 Exiting:0 Beg\n"
    "\tun:0 \n"
    "    max_queued = [u:PBS_GENERIC=2000]\n"
    "    resources_max.ngpus = 99\n"
    "    resources_max.walltime = 336:00:00\n"
    "    resources_min.mem = 50mb\n"
    "    comment = Queue for long time computations on GPU|Fronta pro dlouhodob\\u00e\n"
    "\t9 v\\u00fdpo\\u010dty na GPU\n"
    "    enabled = True\n"
    "    started = True\n"
)


def test_pro_recorded_output() -> None:
    """A recorded PBS Pro 19 finished job: F, Exit_status 0, substate 92, used resources."""
    status = parsers.parse_pro_status(PRO_RECORDED)["40.pbs"]
    assert (status.phase, status.state, status.exit_status, status.substate) == (
        JobPhase.FINAL,
        "F",
        0,
        92,
    )
    assert status.complete and status.exit_code == 0 and status.signal is None
    assert (status.maxrss_bytes, status.walltime_used, status.walltime_limit) == (
        5620 * 1024,
        10,
        120,
    )
    assert status.reason.startswith("Job run at")


def test_torque_recorded_output() -> None:
    """Recorded Torque XML: a completed job with exit_status 0 and a queued one."""
    statuses = parsers.parse_torque_status(TORQUE_RECORDED)
    done, queued = statuses["4564045.pbsserver"], statuses["4499334.pbsserver"]
    assert (done.state, done.exit_status, done.complete, done.maxrss_bytes) == (
        "C",
        0,
        True,
        6064 * 1024,
    )
    assert (done.walltime_used, done.walltime_limit) == (6, 4 * 3600)
    assert (queued.phase, queued.exit_status, queued.complete) == (JobPhase.QUEUED, None, False)


def test_recorded_outputs_accounting() -> None:
    """The recorded finished jobs (trimmed of their start and host) still give PBS's wall and
    CPU time and, from ``history_timestamp`` / ``comp_time``, their end; a queued job none."""
    pro = parsers.parse_pro_status(PRO_RECORDED)["40.pbs"]
    assert (pro.elapsed, pro.cpu_seconds, pro.started_at, pro.ended_at, pro.host) == (
        10,
        0,
        None,
        1616013418,
        None,
    )
    statuses = parsers.parse_torque_status(TORQUE_RECORDED)
    done, queued = statuses["4564045.pbsserver"], statuses["4499334.pbsserver"]
    assert (done.elapsed, done.cpu_seconds, done.ended_at, done.host) == (6, 0, 1522939194, None)
    assert (queued.elapsed, queued.cpu_seconds, queued.ended_at, queued.host) == (None,) * 4


# A finished PBS Pro job as ``qstat -x -f -F json`` lays out its accounting (PBS Professional
# Reference Guide, "Job Attributes": stime, obittime and mtime as ctime stamps of the server's
# local time, history_timestamp in epoch seconds, exec_host host/index*ncpus), flattened.
PRO_ACCOUNTED = {
    "job_state": "F",
    "substate": "92",
    "Exit_status": "0",
    "resources_used.cput": "35:12:07",
    "resources_used.mem": "1048576kb",
    "resources_used.walltime": "16648:25:43",
    "Resource_List.walltime": "17000:00:00",
    "exec_host": "r1i3n7/0*36+r1i3n8/0*36",
    "exec_vnode": "(r1i3n7:ncpus=36)+(r1i3n8:ncpus=36)",
    "ctime": "Mon Nov  6 08:00:00 2023",
    "qtime": "Mon Nov  6 08:00:00 2023",
    "stime": "Mon Nov  6 08:00:05 2023",
    "obittime": "Thu Nov  9 13:05:50 2023",
    "mtime": "Thu Nov  9 13:05:52 2023",
}

# The same for Torque's ``qstat -x`` XML (Torque 6.1 qstat: start_time, comp_time and mtime in
# epoch seconds, exec_host host/first-last cpu), flattened.
TORQUE_ACCOUNTED = {
    "Job_Id": "4564045.pbsserver",
    "job_state": "C",
    "exit_status": "0",
    "resources_used.cput": "00:00:21",
    "resources_used.mem": "6064kb",
    "resources_used.walltime": "00:00:06",
    "exec_host": "node01/0-3+node02/0",
    "start_time": "1522939188",
    "comp_time": "1522939194",
    "mtime": "1522939195",
}


def test_a_finished_pbs_pro_job_reports_its_run() -> None:
    """PBS Pro: wall and CPU time of ``resources_used`` (hours past 99), ``stime`` to
    ``obittime`` read in local time, the first host of ``exec_host``."""
    local = {name: local_stamp(PRO_ACCOUNTED[name]) for name in ("stime", "obittime")}
    attributes = {**PRO_ACCOUNTED, "history_timestamp": str(int(local["obittime"]) + 1)}
    status = parsers.status_from_attributes("40.pbs", attributes, "qstat")
    assert (status.phase, status.exit_code) == (JobPhase.FINAL, 0)
    assert (status.elapsed, status.cpu_seconds, status.host) == (
        16648 * 3600 + 25 * 60 + 43,
        35 * 3600 + 12 * 60 + 7,
        "r1i3n7",
    )
    assert (status.started_at, status.ended_at) == (local["stime"], local["obittime"])
    assert status.walltime_used == 16648 * 3600 + 25 * 60 + 43


def test_a_finished_torque_job_reports_its_run() -> None:
    """Torque: the clocks of ``resources_used``, ``start_time`` to ``comp_time``, the first host
    of ``exec_host``."""
    status = parsers.status_from_attributes("4564045.pbsserver", TORQUE_ACCOUNTED, "qstat")
    assert (status.elapsed, status.cpu_seconds, status.host) == (6, 21, "node01")
    assert (status.started_at, status.ended_at) == (1522939188, 1522939194)


@pytest.mark.parametrize(
    ("attributes", "state"),
    [(PRO_ACCOUNTED, "R"), (PRO_ACCOUNTED, "E"), (TORQUE_ACCOUNTED, "R")],
)
def test_a_job_still_running_reports_no_run(attributes: dict[str, str], state: str) -> None:
    """The figures of a run belong to a final status: a running job, or one exiting, has
    none yet (its usage comes from the worker's start record)."""
    status = parsers.status_from_attributes("1.s", {**attributes, "job_state": state}, "qstat")
    assert status.phase is not JobPhase.FINAL
    figures = (status.elapsed, status.cpu_seconds, status.started_at, status.ended_at)
    assert (*figures, status.host) == (None,) * 5


@pytest.mark.parametrize(
    "attributes",
    [
        {"job_state": "F", "substate": "91", "mtime": "Thu Nov  9 13:05:52 2023",
         "history_timestamp": "1699535152", "qtime": "Thu Nov  9 13:00:00 2023"},
        {"job_state": "C", "comp_time": "1522939194", "mtime": "1522939194"},
    ],
    ids=["pro", "torque"],
)  # fmt: skip
def test_a_job_deleted_while_queued_reports_no_run(attributes: dict[str, str]) -> None:
    """A job deleted before it started (no ``stime``, ``exec_host`` or ``resources_used``)
    claims no run, though its record has an end."""
    status = parsers.status_from_attributes("1.s", attributes, "qstat")
    assert status.phase is JobPhase.FINAL
    figures = (status.elapsed, status.cpu_seconds, status.started_at, status.ended_at)
    assert (*figures, status.host) == (None,) * 5


def local_stamp(text: str) -> float:
    """A ctime stamp in this process's local time, as the parser reads it."""
    stamp = accounting.parse_stamp(text)
    assert stamp is not None, text
    return stamp


def test_queue_recorded_output() -> None:
    """Recorded ``qstat -Q -f`` text: tab-indented lines continue the previous value."""
    queue = parsers.parse_attribute_blocks(QUEUE_RECORDED)["gpu_long"]
    assert queue["resources_max.walltime"] == "336:00:00"
    assert queue["state_count"].endswith("Begun:0")
    assert queue["comment"].endswith("\\u00e9 v\\u00fdpo\\u010dty na GPU")


@pytest.mark.parametrize(
    "variable_list",
    [
        '"foo":005,\n"PBS_O_HOME":"/home/u"',  # openpbs/openpbs#1255: digits printed bare
        '"MYVAR":"\\\'\\"asads\\"\\\'",\n"X":"1"',  # openpbs/openpbs#2049: \\\' is no JSON escape
        '"BASH_FUNC_ml%%":"() {  eval "$(lmod)"\n}"',  # openpbs/openpbs#2541: unescaped quotes
    ],
)
def test_pro_json_defects_in_variable_list_are_repaired(variable_list: str) -> None:
    """Known qstat JSON defects inside Variable_List do not hide the job's state."""
    lines = "\n".join(f"                {line}" for line in variable_list.splitlines())
    text = PRO_RECORDED.replace(
        '"Variable_List":{\n                "PBS_O_HOME":"/home/pbsuser",\n'
        '                "PBS_O_QUEUE":"workq"\n            },',
        '"Variable_List":{\n' + lines + "\n            },",
    )
    assert text != PRO_RECORDED
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert parsers.parse_pro_status(text)["40.pbs"].exit_status == 0


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (parsers.parse_pro_status, '{"Jobs": {"40.pbs": {"job_state": "F", "Exit_status": "x"}}}'),
        (parsers.parse_pro_status, '{"Jobs": {"40.pbs": {"Exit_status": 0}}}'),
        (parsers.parse_pro_status, '{"Jobs": {"not an id": {"job_state": "F"}}}'),
        (parsers.parse_pro_status, '{"Jobs": ["40.pbs"]}'),
        (parsers.parse_pro_status, "[1, 2]"),
        (parsers.parse_pro_status, PRO_RECORDED[:200]),
        (parsers.parse_torque_status, "<Data><Job><job_state>C</job_state></Job></Data>"),
        (parsers.parse_torque_status, "<Data><Queue/></Data>"),
        (parsers.parse_torque_status, "<Jobs></Jobs>"),
        (parsers.parse_torque_status, TORQUE_RECORDED[:120]),
        (
            parsers.parse_torque_status,
            '<!DOCTYPE d [<!ENTITY a "aaaa">]><Data><Job><Job_Id>1.s</Job_Id>'
            "<job_state>&a;</job_state></Job></Data>",
        ),
        (parsers.parse_pro_named_jobs, '{"Jobs": {"not an id": {"Job_Name": "a"}}}'),
        (parsers.parse_pro_named_jobs, '{"Jobs": {"40.pbs": "a"}}'),
        (parsers.parse_pro_named_jobs, '{"Jobs": []}'),
        (parsers.parse_pro_named_jobs, PRO_RECORDED[:200]),
        (parsers.parse_torque_named_jobs, "<Data><Job><Job_Name>a</Job_Name></Job></Data>"),
        (parsers.parse_torque_named_jobs, "<Data><Queue/></Data>"),
        (parsers.parse_torque_named_jobs, TORQUE_RECORDED[:120]),
        (parsers.parse_attribute_blocks, "    orphan = 1\n"),
        (parsers.parse_attribute_blocks, "Queue: q\nno equals sign here\n"),
        (parsers.parse_qsub, "qsub: Unknown queue\n"),
        (parsers.parse_qsub, ""),
    ],
)
def test_malformed_output_raises_with_raw_text(parse: Callable[[str], Any], text: str) -> None:
    """Output of the wrong shape raises SchedulerOutputError carrying the complete text."""
    with pytest.raises(SchedulerOutputError) as caught:
        parse(text)
    assert caught.value.raw == text


PARSERS = [
    parsers.parse_pro_status,
    parsers.parse_torque_status,
    parsers.parse_pro_named_jobs,
    parsers.parse_torque_named_jobs,
    parsers.parse_attribute_blocks,
    parsers.parse_qsub,
]


@pytest.mark.parametrize("parse", PARSERS, ids=lambda p: p.__name__)
@given(
    text=st.text(max_size=300)
    | st.sampled_from([PRO_RECORDED, TORQUE_RECORDED]).map(lambda t: t[: len(t) // 2])
)
def test_garbage_never_escapes_as_another_error(parse: Callable[[str], Any], text: str) -> None:
    """Any text either parses or raises SchedulerOutputError with exactly that raw text."""
    try:
        parse(text)
    except SchedulerOutputError as exc:
        raw = exc.raw
    else:
        raw = text
    assert raw == text


job_ids = st.builds(
    parsers.JobId,
    seq=st.integers(1, 10**9).map(str),
    index=st.none() | st.integers(0, 10**6),
    array=st.just(False),
    server=st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9]{0,5}){0,2}", fullmatch=True),
)


@given(job_ids)
def test_job_id_round_trip(job_id: parsers.JobId) -> None:
    """Ids print and parse back; a subjob's array token, and its job key, name its array; a
    job is its own key."""
    text = str(job_id)
    assert parsers.parse_job_id(text) == job_id
    token = parsers.array_token(text)
    assert parsers.job_key(text) == token
    if job_id.index is None:
        assert token == text
    else:
        assert token == f"{job_id.seq}[].{job_id.server}"
        assert parsers.subjob_id(str(token), job_id.index) == text


@pytest.mark.parametrize("text", ["12[].server", "12[]", "x12.server", "12.", ""])
def test_array_ids_and_other_text_have_no_job_key(text: str) -> None:
    """An array id names no single task, so it is no distributor id and has no key."""
    assert parsers.job_key(text) is None


@pytest.mark.parametrize("text", ["1;touch x", "12 13", "-1", "12[", "12[].", "$(id)", ""])
def test_hostile_ids_do_not_parse(text: str) -> None:
    """Text that is not a job id is not one."""
    assert parsers.parse_job_id(text) is None


statuses = st.fixed_dictionaries(
    {
        "id": job_ids.map(str),
        "state": st.sampled_from(sorted(JOB_STATES)),
        "exit": st.none() | st.integers(-30, 300),
        "substate": st.none() | st.sampled_from([42, 91, 92, 93]),
        "mem_kb": st.none() | st.integers(0, 10**9),
        "used": st.none() | st.integers(0, 10**6),
        "limit": st.none() | st.integers(1, 10**6),
        "cput": st.none() | st.integers(0, 10**7),
        "host": st.none() | st.from_regex(r"[a-z][a-z0-9-]{0,15}(\.[a-z]{1,5})?", fullmatch=True),
    }
)


def clock(seconds: int) -> str:
    """``HH:MM:SS`` with hours beyond 24."""
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def check(parsed: dict[str, parsers.PbsJobStatus], jobs: list[dict[str, Any]]) -> None:
    """Every generated job came back with its state, exit status and resources."""
    assert set(parsed) == {job["id"] for job in jobs}
    for job in jobs:
        status = parsed[job["id"]]
        final = JOB_STATES[job["state"]][0] is JobPhase.FINAL
        assert status.state == job["state"] and status.substate == job["substate"]
        assert status.exit_status == (job["exit"] if final else None)
        assert status.complete == (final and (job["exit"] is not None or job["substate"] == 91))
        if final and job["exit"] is not None and job["exit"] > 256:
            assert (status.signal, status.exit_code) == (job["exit"] - 256, None)
        assert status.maxrss_bytes == (None if job["mem_kb"] is None else job["mem_kb"] * 1024)
        assert (status.walltime_used, status.walltime_limit) == (job["used"], job["limit"])
        ran = final and (job["host"] is not None or bool(job["used"]))
        figures = (job["used"], job["cput"], job["host"]) if ran else (None, None, None)
        assert (status.elapsed, status.cpu_seconds, status.host) == figures


@given(st.lists(statuses, max_size=12, unique_by=lambda job: job["id"]))
def test_pro_json_round_trip(jobs: list[dict[str, Any]]) -> None:
    """Jobs rendered as PBS Pro prints them parse back to the same facts."""
    rendered: dict[str, Any] = {}
    for job in jobs:
        attrs: dict[str, Any] = {"job_state": job["state"], "Resource_List": {"ncpus": 1}}
        if job["exit"] is not None:
            attrs["Exit_status"] = job["exit"]
        if job["substate"] is not None:
            attrs["substate"] = job["substate"]
        used: dict[str, Any] = {}
        if job["mem_kb"] is not None:
            used["mem"] = f"{job['mem_kb']}kb"
        if job["used"] is not None:
            used["walltime"] = clock(job["used"])
        if job["cput"] is not None:
            used["cput"] = clock(job["cput"])
        if used:
            attrs["resources_used"] = used
        if job["host"] is not None:
            attrs["exec_host"] = f"{job['host']}/0*2+other/1*2"
        if job["limit"] is not None:
            attrs["Resource_List"]["walltime"] = clock(job["limit"])
        rendered[job["id"]] = attrs
    text = json.dumps({"pbs_server": "s", "Jobs": rendered}, indent=4, separators=(",", ":"))
    check(parsers.parse_pro_status(text), jobs)


@given(st.lists(statuses, max_size=12, unique_by=lambda job: job["id"]))
def test_torque_xml_round_trip(jobs: list[dict[str, Any]]) -> None:
    """Jobs rendered as Torque prints them parse back to the same facts."""
    parts = []
    for job in jobs:
        xml = f"<Job><Job_Id>{job['id']}</Job_Id><job_state>{job['state']}</job_state>"
        used = ""
        if job["mem_kb"] is not None:
            used += f"<mem>{job['mem_kb']}kb</mem>"
        if job["used"] is not None:
            used += f"<walltime>{clock(job['used'])}</walltime>"
        if job["cput"] is not None:
            used += f"<cput>{clock(job['cput'])}</cput>"
        xml += f"<resources_used>{used}</resources_used>" if used else ""
        if job["host"] is not None:
            xml += f"<exec_host>{job['host']}/0-3+other/0</exec_host>"
        if job["limit"] is not None:
            xml += f"<Resource_List><walltime>{clock(job['limit'])}</walltime></Resource_List>"
        if job["substate"] is not None:
            xml += f"<substate>{job['substate']}</substate>"
        if job["exit"] is not None:
            xml += f"<exit_status>{job['exit']}</exit_status>"
        parts.append(xml + "</Job>")
    check(
        parsers.parse_torque_status('<?xml version="1.0"?>\n<Data>' + "".join(parts) + "</Data>"),
        jobs,
    )


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
        st.dictionaries(
            st.from_regex(r"[a-z_]{1,10}(\.[a-z]{1,6})?", fullmatch=True),
            st.from_regex(
                r"[A-Za-z0-9]([A-Za-z0-9:=\[\]_,. -]{0,150}[A-Za-z0-9])?", fullmatch=True
            ),
            max_size=6,
        ),
        max_size=4,
    )
)
def test_attribute_blocks_round_trip(queues: dict[str, dict[str, str]]) -> None:
    """Queue blocks printed as qstat prints them, long values wrapped at 80 columns, parse back."""
    text = ""
    for name, attributes in queues.items():
        text += f"Queue: {name}\n"
        for key, value in attributes.items():
            line = f"    {key} = {value}"
            text += line[:79] + "".join(f"\n\t{line[i : i + 78]}" for i in range(79, len(line), 78))
            text += "\n"
        text += "\n"
    assert parsers.parse_attribute_blocks(text) == queues


@given(st.integers(0, 2**40), st.sampled_from(["b", "kb", "mb", "gb", "tb", "KB", "Mb", ""]))
def test_size_round_trip(number: int, unit: str) -> None:
    """PBS sizes are binary: 1kb = 1024 bytes."""
    factor = {"b": 1, "": 1, "kb": 2**10, "mb": 2**20, "gb": 2**30, "tb": 2**40}[unit.lower()]
    assert parsers.parse_size(f"{number}{unit}") == number * factor


@given(st.integers(0, 10**7))
def test_duration_round_trip(seconds: int) -> None:
    """``HH:MM:SS`` (hours beyond 24), ``MM:SS`` and plain seconds all parse."""
    assert parsers.parse_duration(clock(seconds)) == seconds
    assert parsers.parse_duration(f"{seconds // 60}:{seconds % 60:02d}") == seconds
    assert parsers.parse_duration(str(seconds)) == seconds


@pytest.mark.parametrize(
    ("text", "flavour"),
    [
        ("pbs_version = 2022.1.5\n", "pro"),
        ("pbs_version = 19.1.3", "pro"),
        ("Version: 6.1.3\nCommit: 1a2b3c\n", "torque"),
        ("version: 4.2.10\n", "torque"),
        ("error: unknown option --version\nusage: qstat [options]\n", None),
        ("", None),
    ],
)
def test_flavour_from_version(text: str, flavour: str | None) -> None:
    """qstat --version tells PBS Pro from Torque; anything else (Grid Engine's qstat) is None."""
    assert parsers.parse_flavour(text) == flavour


@pytest.mark.parametrize("parse", [parsers.parse_size, parsers.parse_duration])
@given(text=st.text(max_size=40))
def test_unit_parsers_raise_only_value_error(parse: Callable[[str], int], text: str) -> None:
    """Sizes and durations parse to a non-negative int or raise ValueError naming the text."""
    try:
        value, message = parse(text), ""
    except ValueError as exc:
        value, message = 0, str(exc)
    assert value >= 0
    assert not message or repr(text) in message


@given(st.text(max_size=200))
def test_flavour_detection_never_raises(text: str) -> None:
    """Any qstat --version output gives pro, torque or None."""
    assert parsers.parse_flavour(text) in ("pro", "torque", None)


# --- lookup by name: qstat listing every job --------------------------------------------------


def test_pro_listing_names_jobs_and_arrays_oldest_first() -> None:
    """PBS Pro's listing (history included) gives one entry per job or array, by sequence
    number; a job without a Job_Name is left out."""
    text = json.dumps(
        {
            "pbs_server": "pbs",
            "Jobs": {
                "112[].pbs": {"Job_Name": "fit", "job_state": "B", "array": True},
                "40.pbs": json.loads(PRO_RECORDED)["Jobs"]["40.pbs"],
                "9.pbs": {"Job_Name": "fit", "job_state": "F", "Exit_status": 0},
                "113.pbs": {"job_state": "Q"},
            },
        }
    )
    assert parsers.parse_pro_named_jobs(text) == [
        NamedJob("9.pbs", "fit"),
        NamedJob("40.pbs", "pbs_sleep"),
        NamedJob("112[].pbs", "fit"),
    ]


def test_torque_listing_names_subjobs_by_their_array() -> None:
    """Torque's array summary is the array; a subjob listed by ``-t`` stands for its array,
    named without its ``-<index>``."""
    text = (
        "<Data><Job><Job_Id>7[].srv</Job_Id><Job_Name>arr</Job_Name></Job>"
        "<Job><Job_Id>8[3].srv</Job_Id><Job_Name>fit-3</Job_Name></Job>"
        "<Job><Job_Id>8[4].srv</Job_Id><Job_Name>fit-4</Job_Name></Job>"
        "<Job><Job_Id>2.srv</Job_Id><Job_Name>one-1</Job_Name></Job></Data>"
    )
    assert parsers.parse_torque_named_jobs(TORQUE_RECORDED) == [  # the queued job has no name
        NamedJob("4564045.pbsserver", "r180405_snvJoinVcfFiles")
    ]
    assert parsers.parse_torque_named_jobs(text) == [
        NamedJob("2.srv", "one-1"),
        NamedJob("7[].srv", "arr"),
        NamedJob("8[].srv", "fit"),
    ]


listed_jobs = st.lists(
    st.fixed_dictionaries(
        {
            "seq": st.integers(1, 10**9),
            "array": st.integers(0, 4),  # 0: a plain job; n: an array of n subjobs
            "name": st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,59}", fullmatch=True),
            "server": st.from_regex(r"[a-z][a-z0-9-]{0,8}(\.[a-z]{1,5})?", fullmatch=True),
            "state": st.sampled_from(sorted(JOB_STATES)),
        }
    ),
    max_size=10,
    unique_by=lambda job: job["seq"],
)


def expected_named(jobs: list[dict[str, Any]]) -> list[NamedJob]:
    """The listing's jobs as find_jobs should see them: keys as qsub printed, oldest first."""
    return [
        NamedJob(f"{job['seq']}{'[]' if job['array'] else ''}.{job['server']}", job["name"])
        for job in sorted(jobs, key=lambda job: job["seq"])
    ]


@given(listed_jobs, st.randoms(use_true_random=False))
def test_pro_listing_round_trip(jobs: list[dict[str, Any]], rng: Any) -> None:
    """Jobs and arrays rendered as ``qstat -f -x -F json`` prints them, in any order, parse
    back to their keys and names, oldest first."""
    rng.shuffle(jobs)
    rendered = {
        f"{job['seq']}{'[]' if job['array'] else ''}.{job['server']}": {
            "Job_Name": job["name"],
            "job_state": job["state"],
            "Resource_List": {"ncpus": 1},
            **({"array": True} if job["array"] else {}),
        }
        for job in jobs
    }
    text = json.dumps({"pbs_server": "s", "Jobs": rendered}, indent=4, separators=(",", ":"))
    assert parsers.parse_pro_named_jobs(text) == expected_named(jobs)


@given(listed_jobs, st.booleans())
def test_torque_listing_round_trip(jobs: list[dict[str, Any]], expanded: bool) -> None:
    """Jobs and arrays rendered as Torque's ``qstat -x`` prints them (arrays summarised, or
    expanded into ``name-i`` subjobs as ``-t`` does) parse back to their keys and names."""
    parts = []
    for job in jobs:
        seq, server, name = job["seq"], job["server"], job["name"]
        if job["array"] and expanded:
            ids = [(f"{seq}[{i}].{server}", f"{name}-{i}") for i in range(job["array"])]
        else:
            ids = [(f"{seq}{'[]' if job['array'] else ''}.{server}", name)]
        for job_id, job_name in ids:
            parts.append(
                f"<Job><Job_Id>{job_id}</Job_Id><Job_Name>{job_name}</Job_Name>"
                f"<job_state>{job['state']}</job_state></Job>"
            )
    text = '<?xml version="1.0"?>\n<Data>' + "".join(parts) + "</Data>"
    assert parsers.parse_torque_named_jobs(text) == expected_named(jobs)
