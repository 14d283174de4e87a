"""The `distributor` command as a person uses it every day: configured clusters, signals, the
argv rule, help and errors — each driven through the real command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from distributor.local import LocalDistributor


def command(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `distributor ARGS` as a user would (a fresh process)."""
    return subprocess.run(
        [sys.executable, "-m", "distributor.cli", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, check=False,
    )  # fmt: skip


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A user whose configuration, state and working directory are all under tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    return {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "DISTRIBUTOR_LOCAL_STATE_DIR": str(tmp_path / "state"),
        "COLUMNS": "200",
    }


def user_config(env: dict[str, str], text: str) -> Path:
    path = Path(env["XDG_CONFIG_HOME"], "distributor", "config.toml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


# -- configured clusters ---------------------------------------------------------------------


def test_a_configured_cluster_brings_its_options_and_defaults(
    env: dict[str, str], tmp_path: Path
) -> None:
    """`run --cluster NAME` uses the configured plugin, its options (the state directory) and
    its default resources (a 1 s runtime limit stops `sleep 30`); `clusters` lists it with
    where it is defined."""
    state = tmp_path / "box-state"
    config = user_config(
        env,
        f"""
        [clusters.box]
        plugin = "local"
        state_dir = "{state}"
        parallelism = 1

        [clusters.box.defaults]
        runtime = "1s"
        """,
    )
    done = command("run", "--cluster", "box", "--json", "--", "sleep", "30", env=env)
    assert done.returncode == 1, done.stderr
    (task,) = json.loads(done.stdout)["tasks"]
    assert task["state"] != "D"
    assert "runtime" in task["message"]
    assert Path(task["log"]).is_relative_to(state)
    listing = json.loads(command("clusters", "--json", env=env).stdout)
    (box,) = listing["clusters"]
    assert (box["name"], box["plugin"], box["source"], box["line"]) == ("box", "local",
                                                                        str(config), 1)  # fmt: skip
    assert box["defaults"] == {"runtime": "1s"}
    assert "local" in listing["plugins"]
    table = command("clusters", env={**env, "COLUMNS": "500"}).stdout
    assert f"{config}:1" in table
    assert "installed plugin" in table


def test_the_project_file_wins_and_mistakes_are_one_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    """./distributor.toml overrides the user's cluster; a mistake in it is one line naming the
    file and the line, status 2."""
    user_config(env, '[clusters.box]\nplugin = "slurm"\n')
    project = tmp_path / "project"
    project.mkdir()
    (project / "distributor.toml").write_text(
        '[clusters.box]\nplugin = "local"\n\n[clusters.box.defaults]\ncores = "many"\n'
    )
    done = command("run", "--cluster", "box", "--", "true", env=env, cwd=project)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert f"{project / 'distributor.toml'}:5: clusters.box.defaults.cores" in done.stderr
    (project / "distributor.toml").write_text('[clusters.box]\nplugin = "local"\n')
    assert command("run", "--cluster", "box", "--", "true", env=env, cwd=project).returncode == 0


def test_an_unknown_cluster_lists_what_there_is(env: dict[str, str]) -> None:
    """One line naming the configured clusters and the installed plugins."""
    user_config(env, '[clusters.box]\nplugin = "local"\n')
    done = command("run", "--cluster", "nosuch", "--", "true", env=env)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "configured clusters: box" in done.stderr
    assert "local" in done.stderr


# -- signals ---------------------------------------------------------------------------------


def wait_for_log(state: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not list(state.glob("logs/*")) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_are_like_ctrl_c(
    env: dict[str, str], tmp_path: Path, signum: signal.Signals
) -> None:
    """`kill -TERM` (or a closed terminal) terminates what `run` started, says so, exits
    128 + the signal, and with --json still writes the summary, the task as K."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "distributor.cli", "run", "--json", "--", "sleep", "60"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_log(tmp_path / "state")
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum
    assert f"interrupted ({signum.name}): terminated 1 unfinished task(s) of 1" in stderr
    (task,) = json.loads(stdout)["tasks"]
    assert task["state"] == "K"
    assert signum.name in task["message"]
    observer = LocalDistributor("local", state_dir=tmp_path / "state")
    observer.start()
    try:
        deadline = time.monotonic() + 30
        while observer.get_submitted_or_running([task["distributor_id"]]):
            assert time.monotonic() < deadline, "the task was left running"
            time.sleep(0.1)
    finally:
        observer.stop()


SLOW_PLUGIN = '''
import os, pathlib, time
from distributor import Plugin
from distributor.testing import MemoryDistributor, MemoryQueue, MemoryWorkerNode

class SlowToTerminate(MemoryDistributor):
    """Terminating waits until the test says so (a file), after saying it started (a file)."""

    def terminate_task_instances(self, distributor_ids):
        marks = pathlib.Path(os.environ["SLOW_MARKS"])
        (marks / "terminating").touch()
        while not (marks / "go").exists():
            time.sleep(0.02)
        super().terminate_task_instances(distributor_ids)

plugin = Plugin("slowkill", MemoryQueue, SlowToTerminate, MemoryWorkerNode, "slow to kill")
'''


def test_a_second_ctrl_c_during_clean_up_says_what_it_is_doing(
    env: dict[str, str], tmp_path: Path
) -> None:
    """While `run` terminates its tasks, another Ctrl-C prints what it is still doing — no
    traceback — and the clean-up completes."""
    site = tmp_path / "site"
    (site / "slowkill-1.0.dist-info").mkdir(parents=True)
    (site / "plug_slowkill.py").write_text(SLOW_PLUGIN)
    (site / "slowkill-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: slowkill\nVersion: 1.0\n"
    )
    (site / "slowkill-1.0.dist-info" / "entry_points.txt").write_text(
        "[distributor.plugins]\nslowkill = plug_slowkill:plugin\n"
    )
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**env, "PYTHONPATH": str(site), "SLOW_MARKS": str(marks)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "distributor.cli", "run", "--cluster", "slowkill", "--json",
         "--", "sleep", "617"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    started = tmp_path / "started"
    while proc.poll() is None and time.monotonic() < deadline:
        # submitted once the memory distributor's worker runs this very `sleep`
        listing = subprocess.run(["pgrep", "-f", "^sleep 617$"], capture_output=True, text=True)
        if listing.stdout.strip():
            started.touch()
            break
        time.sleep(0.05)
    assert started.exists(), "the task never started"
    proc.send_signal(signal.SIGINT)
    while not (marks / "terminating").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    # the notice is the first line on stderr (--json draws no progress); a timer lets the
    # clean-up go on if it never comes, so that the test fails instead of hanging
    safety = threading.Timer(30, (marks / "go").touch)
    safety.start()
    assert proc.stderr is not None
    first = proc.stderr.readline()
    (marks / "go").touch()
    safety.cancel()
    stdout, rest = proc.communicate(timeout=60)
    assert first == "distributor run: still terminating 1 task(s); please wait\n"
    assert proc.returncode == 130, rest
    assert "Traceback" not in rest
    assert json.loads(stdout)["tasks"][0]["state"] == "K"


# -- the argv rule ---------------------------------------------------------------------------


def test_words_after_the_separator_are_an_argv(env: dict[str, str], tmp_path: Path) -> None:
    """A program whose path has a space runs (one word is never a shell line); --shell runs a
    line; both at once is an error."""
    program = tmp_path / "my programs" / "say it.sh"
    program.parent.mkdir()
    program.write_text('#!/bin/sh\necho "said: $1"\n')
    program.chmod(0o755)
    done = command("run", "--json", "--", str(program), "a; b", env=env)
    assert done.returncode == 0, done.stderr
    (task,) = json.loads(done.stdout)["tasks"]
    assert Path(task["log"]).read_text() == "said: a; b\n"
    shell = command("run", "--json", "--shell", "echo $((6 * 7)); exit 3", env=env)
    (task,) = json.loads(shell.stdout)["tasks"]
    assert (task["exit_code"], Path(task["log"]).read_text()) == (3, "42\n")
    both = command("run", "--shell", "true", "--", "true", env=env)
    assert both.returncode == 2
    assert "either --shell LINE or -- COMMAND" in both.stderr
    assert "argv" in command("run", "--help", env=env).stdout


# -- help, version, errors -------------------------------------------------------------------


def test_help_version_and_verbose_after_the_command(env: dict[str, str]) -> None:
    """No arguments: the help; --version: the version; -v after the subcommand is accepted."""
    from importlib.metadata import version

    bare = command(env=env)
    assert bare.returncode == 0
    assert "COMMAND" in bare.stdout
    assert "clusters" in bare.stdout
    assert (
        command("--version", env=env).stdout.strip() == f"distributor {version('distributor-core')}"
    )
    verbose = command("run", "-v", "--", "true", env=env)
    assert verbose.returncode == 0
    assert "local_distributor_started" in verbose.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("run", "--memory", "-5G", "--", "true"), "memory='-5G': not a memory quantity"),
        (("run", "--cores", "-2", "--", "true"), "cores"),
        (("run", "--bogus", "--", "true"), "unrecognized arguments: --bogus"),
        (("run", "--array", "two", "--", "true"), "invalid int value: 'two'"),
        (("nosuchcommand",), "invalid choice"),
    ],
)
def test_user_errors_are_one_line(env: dict[str, str], args: tuple[str, ...], needle: str) -> None:
    """argparse's and the validator's complaints: one line on stderr, status 2."""
    done = command(*args, env=env)
    assert done.returncode == 2
    assert needle in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_an_unusable_state_directory_is_one_line(env: dict[str, str]) -> None:
    """A state directory that cannot be created: one line naming it, status 2."""
    done = command("run", "--", "true", env={**env, "DISTRIBUTOR_LOCAL_STATE_DIR": "/etc/passwd/x"})
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "/etc/passwd" in done.stderr


def test_a_closed_pipe_ends_quietly(env: dict[str, str]) -> None:
    """`run --json | head -n 1`: the reader goes away; no traceback, status 141 (SIGPIPE)."""
    pipeline = (
        f"{sys.executable} -m distributor.cli run --json --array 300 -- true | head -n 1; "
        'echo "status=${PIPESTATUS[0]}" >&2'
    )
    done = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, env=env,
                          timeout=300, check=False)  # fmt: skip
    assert done.stdout == "{\n"
    assert "Traceback" not in done.stderr
    assert "BrokenPipe" not in done.stderr
    assert "status=141" in done.stderr


def test_completion_offers_commands_and_cluster_names(env: dict[str, str]) -> None:
    """argcomplete completes subcommands and --cluster with configured and plugin names."""
    user_config(env, '[clusters.gpubox]\nplugin = "local"\n')

    def complete(line: str) -> set[str]:
        out = Path(env["HOME"], "completions")
        completion_env = {**env, "_ARGCOMPLETE": "1", "_ARGCOMPLETE_IFS": "\n",
                          "COMP_LINE": line, "COMP_POINT": str(len(line)),
                          "_ARGCOMPLETE_STDOUT_FILENAME": str(out)}  # fmt: skip
        subprocess.run([sys.executable, "-m", "distributor.cli"], env=completion_env,
                       capture_output=True, timeout=60, check=False)  # fmt: skip
        return set(out.read_text().split())

    assert {"run", "clusters", "plugins"} <= complete("distributor ")
    assert {"gpubox", "local"} <= complete("distributor run --cluster ")


def test_check_scratch_submit_roots_leave_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`check`'s submit root for a batch plugin is removed with its task directories, and the
    checks directory with it."""
    from distributor.cli import _scratch_submit_root

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    with _scratch_submit_root() as root:
        assert Path(root).parent == tmp_path / "distributor" / ".checks"
        (Path(root) / "task-1").mkdir()
        (Path(root) / "task-1" / "job.sh").write_text("#!/bin/sh\n")
    assert list((tmp_path / "distributor").iterdir()) == []


def test_tasks_get_the_configured_cluster_and_its_defaults(
    env: dict[str, str], tmp_path: Path
) -> None:
    """`run --tasks --cluster NAME` resolves the configured cluster for the service too: its
    options (the state directory) and its default resources (a 1 s runtime stops `sleep 30`;
    a task's own runtime wins)."""
    state = tmp_path / "box-state"
    user_config(
        env,
        f"""
        [clusters.box]
        plugin = "local"
        state_dir = "{state}"

        [clusters.box.defaults]
        runtime = "1s"
        """,
    )
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(
        '[[task]]\nname = "capped"\ncommand = ["sleep", "30"]\nmax_attempts = 1\n\n'
        '[[task]]\nname = "own"\ncommand = ["sleep", "2"]\nruntime = "1m"\n'
    )
    done = command("run", "--cluster", "box", "--tasks", str(tasks), "--json", env=env)
    assert done.returncode == 1, done.stderr
    payload = json.loads(done.stdout)
    states = {t["name"]: t for t in payload["tasks"]}
    assert states["own"]["state"] == "D"
    assert states["capped"]["state"] != "D"
    assert "runtime" in states["capped"]["message"]
    assert Path(states["own"]["log"]).is_relative_to(state)


def test_parallelism_option(env: dict[str, str], tmp_path: Path) -> None:
    """`--parallelism N` caps the local backend (one at a time: the steps do not overlap);
    below 1 or on a batch cluster it is one line and status 2."""
    marks = tmp_path / "marks"
    marks.mkdir()
    script = f"mkdir {marks}/running || exit 9; sleep 0.3; rmdir {marks}/running"
    done = command("run", "--parallelism", "1", "--array", "3", "--json", "--",
                   "sh", "-c", script, env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert [t["state"] for t in json.loads(done.stdout)["tasks"]] == ["D", "D", "D"]
    zero = command("run", "--parallelism", "0", "--", "true", env=env)
    assert zero.returncode == 2
    assert "--parallelism must be at least 1" in zero.stderr
    batch = command("run", "--cluster", "slurm", "--parallelism", "2", "--", "true", env=env)
    assert batch.returncode == 2
    assert "--parallelism" in batch.stderr


def test_state_lives_in_one_place_for_every_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local backend's state directory and a batch plugin's default submit root are both
    $XDG_STATE_HOME/distributor/<cluster>."""
    from distributor.batch import SubmitRoot
    from distributor.local.distributor import default_state_dir

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.delenv("DISTRIBUTOR_LOCAL_STATE_DIR", raising=False)
    monkeypatch.delenv("DISTRIBUTOR_SUBMIT_ROOT", raising=False)
    assert default_state_dir("laptop") == tmp_path / "distributor" / "laptop"
    assert SubmitRoot.default_path("slurm", "hpc") == tmp_path / "distributor" / "hpc"
