"""Job scripts: directives are checked, the command runs literally under the worker."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import ResourceError
from distributor.batch import (
    JobScript,
    check_directive_value,
    find_worker_executable,
    safe_name,
    worker_node_command,
)
from distributor.worker import read_exit_record

WORKER = str(Path(sys.executable).with_name("distributor-worker"))


def render_and_run(tmp_path: Path, script: JobScript, env: dict[str, str]) -> Path:
    """Render `script`, run it with /bin/sh as a scheduler would, return its directory."""
    path = tmp_path / "job.sh"
    path.write_text(script.render())
    subprocess.run(["/bin/sh", str(path)], env={**os.environ, **env}, cwd=tmp_path, check=False)
    return tmp_path


@given(st.text())
def test_safe_name_is_always_safe(name: str) -> None:
    """Whatever the input, safe_name yields a short non-empty [A-Za-z0-9_.-] word."""
    cleaned = safe_name(name)
    assert cleaned and len(cleaned) <= 64 and cleaned[0] not in ".-"
    assert all(ch.isascii() and (ch.isalnum() or ch in "_.-") for ch in cleaned)


@pytest.mark.parametrize("value", ["a b", "x\ny", "$(touch /tmp/pwned)", "it's", 'q"', "a#b", ""])
def test_unsafe_directive_values_are_rejected(value: str) -> None:
    """Whitespace, newlines, $, quotes, # and empty values cannot reach a directive line."""
    with pytest.raises(ResourceError) as caught:
        check_directive_value("account", value)
    assert caught.value.key == "account" and caught.value.value == value


def test_directive_values_of_every_day_shapes_pass() -> None:
    """Typical resource values are accepted unchanged."""
    for value in ["1024M", "1-00:00:00", "gpu:2", "a&b|c", "/data/x/out-%a.log", "0-9%2"]:
        assert check_directive_value("x", value) == value


def test_rendered_script_has_directives_before_commands() -> None:
    """Directives come right after the header, before the first command line."""
    text = JobScript(
        command="true",
        worker=WORKER,
        record="/r/exit.json",
        distributor_id_expr='"$JOB"',
        directive_prefix="#SBATCH",
        directives=[("--job-name", "n"), ("--no-requeue", None)],
    ).render()
    lines = text.splitlines()
    assert lines[0] == "#!/bin/sh" and lines[2:4] == [
        "#SBATCH --job-name=n",
        "#SBATCH --no-requeue",
    ]
    assert all(line.startswith("#") for line in lines[:4])


def test_multi_word_directives_are_checked_word_by_word() -> None:
    """A tuple value is written as space-separated words, and every word is checked."""
    text = JobScript(
        "true",
        WORKER,
        "/r",
        "1",
        directive_prefix="#$",
        directive_separator=" ",
        directives=[("-pe", ("smp", "4"))],
    ).render()
    assert "#$ -pe smp 4" in text.splitlines()
    for words in [("smp", "4 -l h_vmem=1G"), ("smp", "$(id)"), ()]:
        with pytest.raises(ResourceError):
            JobScript("true", WORKER, "/r", "1", directives=[("-pe", words)]).render()


def test_bad_flag_and_nul_command_are_rejected() -> None:
    """A flag that is not an option and a NUL byte in the command raise ResourceError."""
    with pytest.raises(ResourceError):
        JobScript("true", WORKER, "/r", "1", directives=[("x y", "1")]).render()
    with pytest.raises(ResourceError):
        JobScript("a\0b", WORKER, "/r", "1").render()
    with pytest.raises(ResourceError):
        JobScript("true", WORKER, "/r", "1", environment={"BAD NAME": "1"}).render()


def test_hostile_command_and_name_run_literally(tmp_path: Path) -> None:
    """Quotes, newlines and $(...) in the command reach sh -c verbatim; the name never runs."""
    pwned = tmp_path / "pwned"
    command = f"printf '%s\\n' \"it's\" 'two\nlines' '$(touch {pwned})' > out.txt"
    script = JobScript(
        command=command,
        worker=WORKER,
        record=str(tmp_path / "exit.json"),
        distributor_id_expr='"$FAKE_JOB_ID"',
        label=f"$(touch {pwned})",
        environment={"GREETING": "a 'quoted' $(value)"},
    )
    render_and_run(tmp_path, script, {"FAKE_JOB_ID": "42"})
    assert (tmp_path / "out.txt").read_text() == f"it's\ntwo\nlines\n$(touch {pwned})\n"
    assert not pwned.exists()
    record = read_exit_record(tmp_path / "exit.json")
    assert record is not None and record.returncode == 0 and record.distributor_id == "42"


def test_array_step_and_environment_are_exported(tmp_path: Path) -> None:
    """The step expression is exported and the user's command sees it and the extra env."""
    script = JobScript(
        command='echo "$DISTRIBUTOR_ID $DISTRIBUTOR_ARRAY_STEP_ID $GREETING" > out.txt',
        worker=WORKER,
        record=str(tmp_path / "exit-{step}.json"),
        distributor_id_expr='"${FAKE_ARRAY}_${FAKE_TASK}"',
        array_step_expr="$((FAKE_TASK + 1000))",
        environment={"GREETING": "a 'quoted' $(value)"},
    )
    render_and_run(tmp_path, script, {"FAKE_ARRAY": "7", "FAKE_TASK": "3"})
    assert (tmp_path / "out.txt").read_text() == "7_3 1003 a 'quoted' $(value)\n"
    record = read_exit_record(tmp_path / "exit-1003.json")
    assert record is not None and record.array_step_id == 1003


def test_single_task_does_not_inherit_a_step(tmp_path: Path) -> None:
    """A single task unsets DISTRIBUTOR_ARRAY_STEP_ID even if the submitter had one."""
    script = JobScript(
        command='echo "step=${DISTRIBUTOR_ARRAY_STEP_ID:-none}" > out.txt; exit 3',
        worker=WORKER,
        record=str(tmp_path / "exit.json"),
        distributor_id_expr="9",
    )
    render_and_run(tmp_path, script, {"DISTRIBUTOR_ARRAY_STEP_ID": "5"})
    assert (tmp_path / "out.txt").read_text() == "step=none\n"
    record = read_exit_record(tmp_path / "exit.json")
    assert record is not None and record.exit_code == 3


def test_worker_node_command_is_a_quoted_invocation() -> None:
    """The worker command starts with the worker path and carries the ids."""
    command = worker_node_command("/opt/my venv/distributor-worker", 7, 3, None)
    assert shlex.split(command) == [
        "/opt/my venv/distributor-worker",
        "--task-instance-id",
        "7",
        "--array-id",
        "3",
    ]
    assert Path(find_worker_executable()).name == "distributor-worker"


@given(st.text(alphabet=st.sampled_from("#$BSUB SBATCH PBS-q'\"\n\\x"), max_size=40))
def test_no_command_line_can_pass_for_a_directive(command: str) -> None:
    """Every line after the directives starts with a plugin-written word or a quote, and the
    shell still reads the command back exactly."""
    script = JobScript(command, WORKER, "/r", "1", environment={"V": command}).render()
    body = script.split("export DISTRIBUTOR_ID\n", 1)[1].splitlines()
    assert all(not line.startswith("#") for line in body)
    exec_line = script[script.index("\nexec ") + len("\nexec ") :]
    assert shlex.split(exec_line)[-1] == command
