"""CAF's job model (`distributor.jobs.model`): validation, status, and the JSON round trip."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distributor.jobs import Job, JobError, JobStatus, SubJob, lowest_status

TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=12)
WORD = st.text(st.characters(codec="utf-8", exclude_characters="\0"), min_size=1, max_size=12)
ARGUMENT = st.one_of(
    TEXT, st.integers(-(2**60), 2**60), st.floats(allow_nan=False, allow_infinity=False)
)
PATH = st.lists(
    st.text(st.characters(codec="utf-8", exclude_characters="\0/"), min_size=1, max_size=6),
    min_size=1,
    max_size=3,
).map(lambda parts: "/" + "/".join(parts))
NAME = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,20}", fullmatch=True)
PATTERN = st.text(st.characters(codec="utf-8", exclude_characters="\0/."), min_size=1, max_size=8)
RESOURCE = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,10}", fullmatch=True)


@st.composite
def jobs(draw: st.DrawFn) -> Job:
    """Any job: every field, subjobs with their own files and arguments."""
    files = draw(st.lists(PATH, unique=True, max_size=8))
    job = Job(
        draw(NAME),
        command=draw(st.lists(TEXT, max_size=4)),
        arguments=draw(st.lists(ARGUMENT, max_size=4)),
        input_sandbox_files=draw(st.lists(PATH, max_size=3)),
        working_dir=draw(PATH),
        output_dir=draw(PATH),
        output_patterns=draw(st.lists(PATTERN, max_size=3)),
        input_files=files,
        setup_cmds=draw(st.lists(TEXT, max_size=3)),
        backend_args=draw(st.dictionaries(RESOURCE, ARGUMENT, max_size=4)),
    )
    ids = draw(st.lists(st.integers(0, 10_000), unique=True, max_size=6))
    for subjob_id in ids:
        share = draw(st.lists(st.sampled_from(files), unique=True)) if files else []
        job.create_subjob(subjob_id, share, draw(st.lists(ARGUMENT, max_size=3)))
    return job


@given(job=jobs())
@settings(max_examples=80)
def test_json_round_trip_is_exact(job: Job, tmp_path_factory: pytest.TempPathFactory) -> None:
    """dump_to_json then from_json gives an equal job, and dumping it again the same text."""
    path = tmp_path_factory.mktemp("json") / "job.json"
    job.dump_to_json(path)
    text = path.read_text()
    again = Job.from_json(path)
    assert again == job
    assert again.to_json() == text
    assert again.job_dict == job.job_dict
    assert [type(a) for a in again.arguments] == [type(a) for a in job.arguments]


def test_json_has_cafs_layout_and_reads_cafs_files(tmp_path: Path) -> None:
    """The JSON keys are CAF's (cmd, args, subjobs of id/input_files/args); a job written by
    CAF's Job.dump_to_json is read as it is."""
    caf = {
        "name": "cal",
        "input_sandbox_files": ["/sw/steer.py"],
        "working_dir": "/work/cal",
        "output_dir": "/out/cal",
        "output_patterns": ["*.root"],
        "cmd": ["basf2", "steer.py"],
        "args": [],
        "input_files": ["/d/1.root", "/d/2.root"],
        "setup_cmds": ["source /cvmfs/b2setup"],
        "backend_args": {"queue": "s"},
        "subjobs": [{"id": 0, "input_files": ["/d/1.root"], "args": [7]},
                    {"id": 1, "input_files": ["/d/2.root"], "args": [8]}],
    }  # fmt: skip
    (tmp_path / "caf.json").write_text(json.dumps(caf, indent=2))
    job = Job.from_json(tmp_path / "caf.json")
    assert job.job_dict == caf
    assert job.subjobs[1].full_command == ["basf2", "steer.py", "8"]
    assert job.subjobs[1].working_dir == Path("/work/cal/1")
    assert job.subjobs[1].output_dir == Path("/out/cal/1")
    assert job.subjobs[1].name == "cal_1"


def test_status_is_the_lowest_of_the_subjobs() -> None:
    """init < submitted < running < failed < completed; a job is as far as its least
    advanced subjob, and ready only when every subjob finished."""
    order = [JobStatus(s) for s in ("init", "submitted", "running", "failed", "completed")]
    assert sorted(JobStatus, key=lambda s: s.level) == order
    job = Job("s", command=["x"], input_files=["/a", "/b", "/c"])
    job.max_files_per_subjob = 1
    job.split()
    assert job.status == "init"
    job.subjobs[0].status = "completed"
    job.subjobs[1].status = JobStatus.RUNNING
    job.subjobs[2].status = "failed"
    assert (job.status, job.ready()) == (JobStatus.RUNNING, False)
    job.subjobs[1].status = "completed"
    assert (job.status, job.ready()) == (JobStatus.FAILED, True)
    job.subjobs[2].status = "completed"
    assert (job.status, job.ready()) == (JobStatus.COMPLETED, True)
    assert lowest_status([]) is JobStatus.INIT


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("command", "echo hi", "must be a list of strings"),
        ("command", ["ok", 3], "must be a string, not int"),
        ("arguments", [object()], "must be a string or a number"),
        ("arguments", [float("nan")], "must be a finite number"),
        ("input_files", ["/a", "/a"], "is listed twice"),
        ("output_patterns", ["../escape/*"], "without '..'"),
        ("output_patterns", ["/etc/*"], "relative to the subjob's working directory"),
        ("backend_args", {"me mory": "1G"}, "keys must be resource names"),
        ("backend_args", {"memory": ["1G"]}, "must be a string or a number"),
        ("working_dir", "", "non-empty path"),
    ],
)
def test_bad_values_are_refused_naming_job_field_and_value(
    field: str, value: Any, message: str
) -> None:
    """A bad value raises JobError naming the job, the field and the value."""
    with pytest.raises(JobError, match=r"^job 'bad': ") as raised:
        Job("bad", **{field: value})
    assert message in str(raised.value)
    assert raised.value.job == "bad"


@pytest.mark.parametrize("name", ["", "a b", "../x", "-x", "a/b", "x" * 201, "é"])
def test_names_are_restricted(name: str) -> None:
    """A name becomes task names and log lines: letters, digits, _ . + - only."""
    with pytest.raises(JobError, match="name="):
        Job(name)


def test_paths_are_made_absolute_and_uris_kept(tmp_path: Path, monkeypatch: Any) -> None:
    """Relative paths are taken from the current directory when set (as CAF does); an input
    file with a URI scheme is kept as written."""
    monkeypatch.chdir(tmp_path)
    job = Job("p", working_dir="w", input_sandbox_files=["s.py"],
              input_files=["d/1", "root://host//d/2"])  # fmt: skip
    assert job.working_dir == tmp_path / "w"
    assert job.input_sandbox_files == [tmp_path / "s.py"]
    assert job.input_files == [str(tmp_path / "d/1"), "root://host//d/2"]


def test_subjob_ids_are_unique_whole_numbers() -> None:
    """create_subjob refuses a taken id or one that is not a whole number from 0."""
    job = Job("ids", command=["x"])
    job.create_subjob(3)
    with pytest.raises(JobError, match="is already a subjob"):
        job.create_subjob(3)
    with pytest.raises(JobError, match="whole number from 0"):
        job.create_subjob(-1)
    with pytest.raises(JobError, match="whole number from 0"):
        SubJob(job, True)


def test_from_dict_names_unknown_keys() -> None:
    """A key CAF's JSON does not have is an error naming it (a typo is not ignored)."""
    with pytest.raises(JobError, match="comand="):
        Job.from_dict({"name": "t", "comand": ["x"]})
    with pytest.raises(JobError, match="name=None is required"):
        Job.from_dict({"cmd": ["x"]})


def test_importing_the_package_and_get_input_data_is_cheap() -> None:
    """`import distributor.jobs` and `get_input_data` (what every subjob imports) load
    neither the service, nor the model, nor logging."""
    code = (
        "import sys, json\n"
        "from distributor.jobs import get_input_data\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert "distributor.jobs.input_data" in loaded
    assert not [m for m in loaded if m.startswith(("distributor.service", "distributor.jobs.m"))]
    assert not {"logging", "structlog", "sqlite3", "rich"} & loaded


def test_public_names_are_sorted_and_load_from_their_modules() -> None:
    """`distributor.jobs.__all__` is sorted and each name is its module's own object."""
    import importlib

    import distributor.jobs as jobs

    assert list(jobs.__all__) == sorted(jobs.__all__)
    where: dict[str, str] = jobs._WHERE
    assert set(where) == set(jobs.__all__)
    for name, module in where.items():
        assert getattr(jobs, name) is getattr(importlib.import_module(module), name)
