"""The helpers every plugin's tests share: the exit-matrix harness, fake commands on PATH and
the hostile-input lists."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributor import TaskInstanceStatus
from distributor.local import LocalDistributor
from distributor.testing import (
    ExitCase,
    ExitMatrix,
    collect_all,
    install_fake_commands,
    path_with,
)
from distributor.testing.hostile import HOSTILE_WORDS, hostile_name, literal_command


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalDistributor]:
    """A started local distributor."""
    distributor = LocalDistributor("local", state_dir=tmp_path / "state", kill_grace=1.0)
    distributor.start()
    yield distributor
    distributor.stop()


def test_the_exit_matrix_collects_every_case_and_checks_each(
    local: LocalDistributor, tmp_path: Path
) -> None:
    """Cases are submitted at once, waited for in one loop and checked by state and words;
    a wrong expectation fails naming the case."""
    matrix = ExitMatrix(local)
    matrix.submit("exit 0", "true")
    matrix.submit("exit 3", "exit 3")
    matrix.submit("time limit", "sleep 60", {"runtime": 2})
    steps = matrix.array('exit "$DISTRIBUTOR_ARRAY_STEP_ID"', 2)
    matrix.add("step 1", steps[1])
    go = tmp_path / "go"
    matrix.submit("waits", f"while [ ! -e {go} ]; do sleep 0.05; done")
    matrix.wait_running("waits", timeout=10)
    go.touch()
    matrix.collect(timeout=30)
    for case in [
        ExitCase("exit 0", TaskInstanceStatus.DONE),
        ExitCase("exit 3", TaskInstanceStatus.ERROR, "status 3"),
        ExitCase("time limit", TaskInstanceStatus.RESOURCE_ERROR, ("runtime limit", "time")),
        ExitCase("step 1", TaskInstanceStatus.ERROR, "status 1"),
        ExitCase("waits", TaskInstanceStatus.DONE),
    ]:
        matrix.check(case)
    with pytest.raises(AssertionError, match="exit 3"):
        matrix.check(ExitCase("exit 3", TaskInstanceStatus.ERROR, "status 4"))
    assert "time limit" in matrix.report()


def test_collect_names_the_cases_that_never_ended(local: LocalDistributor) -> None:
    """A case without final exit info by the deadline fails the collection, by name."""
    matrix = ExitMatrix(local)
    matrix.submit("forever", "sleep 60")
    with pytest.raises(AssertionError, match="forever"):
        matrix.collect(timeout=0.5)
    local.terminate_task_instances(list(matrix.ids.values()))


def test_fake_commands_run_one_script_by_name(tmp_path: Path) -> None:
    """Each shim runs the fake script with this interpreter and passes arguments untouched;
    names that are not plain file names are refused."""
    script = tmp_path / "fake.py"
    script.write_text("import sys\nprint(sys.argv[1:])\n")
    install_fake_commands(tmp_path / "bin", script, ["qsub", "qstat"])
    out = subprocess.run(
        ["qstat", "-f", "a b", "$(id)"], env=path_with(tmp_path / "bin"),
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out == "['qstat', '-f', 'a b', '$(id)']\n"
    with pytest.raises(ValueError, match="plain file name"):
        install_fake_commands(tmp_path / "bin", script, ["../qdel"])


def test_the_literal_command_prints_every_hostile_word(tmp_path: Path) -> None:
    """The command built from HOSTILE_WORDS prints them exactly, and never runs one."""
    out, pwned = tmp_path / "out", tmp_path / "pwned"
    command, expected = literal_command(out, pwned)
    subprocess.run(["/bin/sh", "-c", command], check=True)
    assert out.read_text() == expected and len(expected.split("|")) == len(HOSTILE_WORDS) + 1
    assert not pwned.exists()
    assert "\n#BSUB" in hostile_name(pwned) and str(pwned) in hostile_name(pwned)


def test_several_matrices_are_collected_in_one_loop(tmp_path: Path) -> None:
    """collect_all waits for the cases of matrices on different distributors together, and
    ExitCase.also requires every further word."""
    first = LocalDistributor("a", state_dir=tmp_path / "a", kill_grace=1.0)
    second = LocalDistributor("b", state_dir=tmp_path / "b", kill_grace=1.0)
    matrices = [ExitMatrix(first), ExitMatrix(second)]
    for distributor in (first, second):
        distributor.start()
    try:
        matrices[0].submit("slow", "sleep 0.5; exit 2")
        matrices[1].submit("quick", "exit 3")
        collect_all(matrices, timeout=30)
        matrices[0].check(ExitCase("slow", TaskInstanceStatus.ERROR, "status", also=("2",)))
        with pytest.raises(AssertionError, match="does not say"):
            matrices[1].check(ExitCase("quick", TaskInstanceStatus.ERROR, "status", also=("9",)))
    finally:
        for distributor in (first, second):
            distributor.stop()
