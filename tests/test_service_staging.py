"""Staging fields of `TaskSpec` and the tasks file: validation, the journal's JSON, and the
refusal of a cluster without staging (the end-to-end run is in tests/test_ssh_slurm.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor.local import LocalDistributor
from distributor.service import Cluster, Service, TaskSpec
from distributor.service.errors import TaskSpecError
from distributor.service.staging import staged_request, wants_staging
from distributor.service.tasks_file import load_tasks

# A file name: anything but "/" and NUL, and not "." or ".." (spaces, quotes, $, ; included).
NAMES = st.text(
    st.characters(codec="utf-8", exclude_characters="/\0"), min_size=1, max_size=30
).filter(lambda name: name not in {".", ".."})


@given(NAMES, NAMES)
def test_hostile_names_are_kept_as_data_through_the_journal_json(first: str, second: str) -> None:
    """Absolute inputs, relative patterns and an output directory with any characters survive
    `to_json` → `from_json` unchanged, and reach the request the distributor gets as given."""
    if first == second:
        second += "2"
    spec = TaskSpec(name="t", command="true", inputs=[f"/data/{first}", f"/in/{second}"],
                    outputs=[f"out/{first}*", second], output_dir=f"/res/{second}")  # fmt: skip
    again = TaskSpec.from_json(spec.to_json())
    assert again == spec and again.to_json() == spec.to_json()
    decoded = json.loads(spec.to_json())
    assert wants_staging(decoded)
    assert staged_request({"memory": 1}, decoded) == {
        "memory": 1,
        "inputs": [f"/data/{first}", f"/in/{second}"],
        "outputs": [f"out/{first}*", second],
    }


def test_a_spec_without_staging_keeps_its_json() -> None:
    """Journals written before staging existed still match their tasks: no new keys appear."""
    spec = TaskSpec(name="t", command="true")
    assert set(json.loads(spec.to_json())).isdisjoint({"inputs", "outputs", "output_dir"})
    assert not wants_staging(json.loads(spec.to_json()))


@given(NAMES)
def test_a_relative_input_is_refused_naming_it(name: str) -> None:
    with pytest.raises(TaskSpecError, match="must be an absolute path") as caught:
        TaskSpec(name="t", command="true", inputs=[name])
    assert caught.value.field == "inputs" and caught.value.value == name


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"inputs": "/a"}, "inputs", "must be a list of strings"),
        ({"inputs": ["/a", 3]}, "inputs", "must be a non-empty string"),
        ({"inputs": [""]}, "inputs", "must be a non-empty string"),
        ({"inputs": ["/a\0b"]}, "inputs", "NUL"),
        ({"inputs": ["/"]}, "inputs", "must name a file or a directory"),
        ({"inputs": ["/a/.."]}, "inputs", "must name a file or a directory"),
        ({"inputs": ["/a/x", "/b/x"]}, "inputs", "same name as '/a/x'"),
        ({"outputs": ["/abs/*"]}, "outputs", "relative to the task directory"),
        ({"outputs": ["../up"]}, "outputs", "relative to the task directory"),
        ({"outputs": ["a/../../b"]}, "outputs", "relative to the task directory"),
        ({"output_dir": "rel"}, "output_dir", "must be an absolute path"),
        ({"output_dir": 3}, "output_dir", "must be an absolute path"),
        ({"outputs": ["x"], "cwd": "/tmp"}, "cwd", "cannot be set with inputs or outputs"),
        ({"resources": {"inputs": "/a"}}, "resources['inputs']", "a field of its own"),
    ],
)
def test_malformed_staging_is_one_precise_error(
    changes: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(TaskSpecError, match=reason.replace("(", r"\(")) as caught:
        TaskSpec(name="t", command="true", **changes)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert str(caught.value).startswith(f"task 't': {field}=")


def test_cwd_with_only_an_output_dir_is_allowed() -> None:
    """Fetching logs only (no inputs or outputs) does not move the task into a sandbox."""
    spec = TaskSpec(name="t", command="true", cwd="/tmp", output_dir="/tmp/out")
    assert spec.output_dir == "/tmp/out" and spec.cwd == "/tmp"


def test_tasks_file_paths_are_taken_from_its_directory_and_steps_filled_in(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sub" / "tasks.toml"
    path.parent.mkdir()
    path.write_text(
        "[[task]]\nname = 'a'\narray = 2\ncommand = 'true'\n"
        "inputs = [\"it's {step}.txt\", '/abs/x y']\noutputs = ['r-{step}.txt']\n"
        "output_dir = 'out/{step}'\n"
        "[[task]]\nname = 'b'\ncommand = 'true'\n"
    )
    a0, a1, b = load_tasks(path)
    base = path.parent.resolve()
    assert a0.inputs == (str(base / "it's 0.txt"), "/abs/x y")
    assert a1.outputs == ("r-1.txt",) and a1.output_dir == str(base / "out" / "1")
    assert b.inputs == () and b.outputs == () and b.output_dir is None


def test_a_default_cwd_is_not_given_to_a_staged_table(tmp_path: Path) -> None:
    """``--cwd`` is a default: a table that stages runs in its task directory instead, and a
    table's own ``cwd`` with ``outputs`` is an error naming it."""
    path = tmp_path / "tasks.toml"
    path.write_text("[[task]]\nname = 's'\ncommand = 'true'\noutputs = ['x']\n"
                    "[[task]]\nname = 'p'\ncommand = 'true'\n")  # fmt: skip
    staged, plain = load_tasks(path, {"cwd": "/tmp"})
    assert staged.cwd is None and plain.cwd == "/tmp"
    path.write_text("[[task]]\nname = 's'\ncommand = 'true'\noutputs = ['x']\ncwd = '/tmp'\n")
    with pytest.raises(TaskSpecError, match="cannot be set with inputs or outputs"):
        load_tasks(path, {"cwd": "/srv"})


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("inputs = 'a'", "inputs"),
        ("outputs = [1]", "outputs"),
        ("output_dir = ''", "output_dir"),
        ("outputs = ['../x']", "outputs"),
    ],
)
def test_tasks_file_staging_errors_name_the_key(tmp_path: Path, line: str, key: str) -> None:
    path = tmp_path / "tasks.toml"
    path.write_text(f"[[task]]\nname = 'a'\ncommand = 'true'\n{line}\n")
    with pytest.raises(TaskSpecError) as caught:
        load_tasks(path)
    assert caught.value.field == key and caught.value.task == "a"


def test_a_cluster_without_staging_refuses_the_task_at_add(tmp_path: Path) -> None:
    """The local backend cannot stage: `add` names the task and the key, records nothing."""
    local = LocalDistributor("here", state_dir=tmp_path / "state", parallelism=1)
    with Service(tmp_path / "j.db", Cluster(local)) as service:
        with pytest.raises(TaskSpecError, match="cluster 'here' cannot stage files") as caught:
            service.add([TaskSpec(name="plain", command="true"),
                         TaskSpec(name="staged", command="true", outputs=["x"])])  # fmt: skip
        assert (caught.value.task, caught.value.field) == ("staged", "outputs")
        assert service.tasks() == []


def test_run_refuses_a_staged_task_on_local_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "tasks.toml").write_text(
        "[[task]]\nname = 'x'\ncommand = 'true'\noutput_dir = 'out'\n"
    )
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(
        [sys.executable, "-m", "distributor.cli", "run", "--tasks", "tasks.toml"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "'x'" in lines[0] and "output_dir" in lines[0], lines
