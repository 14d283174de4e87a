"""`distributor run --tasks` and the journal commands, run as real processes on the local
backend: defaults from options, retries that wait, dependencies, `retry`, `--detach`, `wait`,
`cancel` that matches nothing, and journals that cannot be written."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from distributor.service import JournalError
from distributor.service.background import lock_holder
from distributor.service.journal import Journal

pytestmark = pytest.mark.slow


def cli(*args: str, state: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run `distributor ARGS` with the local backend's state under the test's tmp_path."""
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(state), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "distributor.cli", *args], capture_output=True,
                          text=True, env=env, check=False, timeout=timeout)  # fmt: skip


def one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Status 2 and a single line on stderr that says each of `needles`; no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def attempts(journal: Path) -> dict[str, list[Any]]:
    """Every attempt of every task, read from the journal."""
    client = Journal(journal, role="client")
    try:
        return client.attempts()
    finally:
        client.close()


def requests(journal: Path) -> dict[str, list[dict[str, Any]]]:
    """task → the request (resources) of each attempt, read from the journal."""
    client = Journal(journal, role="client")
    try:
        rows = client._db.execute(
            "SELECT t.name, i.resources FROM instances i JOIN tasks t ON t.id = i.task_id "
            "ORDER BY i.id"
        ).fetchall()
    finally:
        client.close()
    found: dict[str, list[dict[str, Any]]] = {}
    for name, resources in rows:
        found.setdefault(name, []).append(json.loads(resources))
    return found


def until(condition: Any, what: str, timeout: float = 120) -> None:
    """Poll `condition()` until it is true (a synchronisation, never an assertion on time);
    a journal that its controller has not set up yet counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except JournalError:
            pass
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def status_json(journal: Path, state: Path) -> dict[str, Any]:
    result = cli("status", str(journal), "--json", state=state)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def gated(go: Path, then: str = "true") -> str:
    """A command that waits until the file `go` exists, then runs `then`."""
    return f"while [ ! -e {go} ]; do sleep 0.05; done; {then}"


@pytest.fixture
def background(tmp_path: Path) -> Iterator[list[Path]]:
    """Journals whose background controller the test started: ended at teardown if alive."""
    journals: list[Path] = []
    yield journals
    for journal in journals:
        holder = lock_holder(journal)
        if holder is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(holder[1], signal.SIGKILL)


# -- options as defaults ----------------------------------------------------------------------


def test_options_are_defaults_for_the_tasks_that_do_not_set_them(tmp_path: Path) -> None:
    """--memory/--runtime/--queue/--cores/--env/--cwd/--max-attempts apply to tasks without
    their own value; a task's own value wins."""
    work = tmp_path / "work"
    work.mkdir()
    tasks = tmp_path / "t.toml"
    tasks.write_text(f"""
[[task]]
name = "plain"
command = ["sh", "-c", "echo $X $(pwd) > {tmp_path}/plain.out"]

[[task]]
name = "own"
command = ["sh", "-c", "echo $X $(pwd) > {tmp_path}/own.out; exit 1"]
memory = "200M"
runtime = 120
env = {{ X = "own" }}
cwd = "{tmp_path}"
max_attempts = 2
retry_delay = 0
""")
    result = cli("run", "--tasks", str(tasks), "--json", "--memory", "100M", "--runtime", "60",
                 "--cores", "1", "--queue", "local", "--env", "X=option", "--cwd", str(work),
                 "--max-attempts", "1", state=tmp_path / "state")  # fmt: skip
    assert result.returncode == 1, result.stderr
    asked = requests(tmp_path / "t.toml.journal.db")
    assert asked["plain"] == [{"cores": 1, "memory": "100MiB", "queue": "local", "runtime": 60}]
    assert asked["own"][0] == {"cores": 1, "memory": "200MiB", "queue": "local", "runtime": 120}
    assert (tmp_path / "plain.out").read_text() == f"option {work}\n"
    assert (tmp_path / "own.out").read_text() == f"own {tmp_path}\n"
    counts = {t["name"]: t["attempts"] for t in json.loads(result.stdout)["tasks"]}
    assert counts == {"plain": 1, "own": 2}


@pytest.mark.parametrize("option", [["--array", "3"], ["--name", "x"]])
def test_array_or_name_with_tasks_is_an_error(tmp_path: Path, option: list[str]) -> None:
    """--array and --name belong to a single command, not a tasks file: one line, status 2."""
    tasks = tmp_path / "t.toml"
    tasks.write_text('[[task]]\nname = "a"\ncommand = "true"\n')
    result = cli("run", "--tasks", str(tasks), *option, state=tmp_path / "state")
    one_line_error(result, option[0], "--tasks")
    assert not (tmp_path / "t.toml.journal.db").exists()


@pytest.mark.parametrize(
    ("option", "needle"), [(["--retry-delay", "soon"], "--retry-delay"),
                           (["--max-attempts", "0"], "--max-attempts")],
)  # fmt: skip
def test_bad_retry_options_are_one_line(tmp_path: Path, option: list[str], needle: str) -> None:
    """An unparsable delay or an attempt count out of range: one line, status 2."""
    tasks = tmp_path / "t.toml"
    tasks.write_text('[[task]]\nname = "a"\ncommand = "true"\n')
    one_line_error(cli("run", "--tasks", str(tasks), *option, state=tmp_path / "state"), needle)


# -- retries ----------------------------------------------------------------------------------


def test_a_failed_attempt_is_retried_after_the_delay(tmp_path: Path) -> None:
    """The second attempt is submitted no sooner than --retry-delay (less at most the 10 %
    jitter) after the first ended, and the journal says it waited."""
    tasks = tmp_path / "t.toml"
    marker = tmp_path / "failed-once"
    command = f"test -e {marker} || {{ touch {marker}; exit 1; }}"
    tasks.write_text(f'[[task]]\nname = "flaky"\ncommand = "{command}"\n')
    result = cli("run", "--tasks", str(tasks), "--retry-delay", "1.5", "--json",
                 state=tmp_path / "state")  # fmt: skip
    assert result.returncode == 0, result.stderr
    first, second = attempts(tmp_path / "t.toml.journal.db")["flaky"]
    assert (first.status, second.status) == ("E", "D")
    assert second.submitted_at - first.status_at >= 1.5 * 0.9
    client = Journal(tmp_path / "t.toml.journal.db", role="client")
    try:
        said = [e.message for e in client.events() if e.kind == "instance" and e.new == "Q"]
    finally:
        client.close()
    assert re.search(r"ended E: exited with status 1; retried unchanged in 1\.\d+ s$", said[1])


def test_a_killed_controller_does_not_retry_early_after_resume(tmp_path: Path) -> None:
    """The moment a retry may go is in the journal: a controller killed while the retry waits,
    then resumed, submits it no sooner, and does not forget it."""
    tasks = tmp_path / "t.toml"
    tasks.write_text('[[task]]\nname = "bad"\ncommand = "exit 1"\nmax_attempts = 2\n'
                     'retry_delay = "4s"\n')  # fmt: skip
    journal = tmp_path / "t.toml.journal.db"
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(tmp_path / "state")}
    controller = subprocess.Popen(
        [sys.executable, "-m", "distributor.cli", "run", "--tasks", str(tasks), "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        until(lambda: journal.exists() and len(attempts(journal).get("bad", [])) == 2,
              "the retry to be recorded")  # fmt: skip
    finally:
        controller.kill()
        controller.wait()
    (task,) = status_json(journal, tmp_path / "state")["tasks"]
    due = task["next_attempt_at"]
    assert due is not None and task["status"] == "active"
    resumed = cli("resume", str(journal), "--json", state=tmp_path / "state")
    assert resumed.returncode == 1, resumed.stderr
    _, second = attempts(journal)["bad"]
    assert second.distributor_id is not None, "the retry was forgotten"
    assert second.submitted_at >= due, "the retry went before its time"
    assert [t["attempts"] for t in json.loads(resumed.stdout)["tasks"]] == [2]


# -- dependencies ----------------------------------------------------------------------------


def test_dependencies_order_the_run_and_a_failure_cancels_its_dependants(tmp_path: Path) -> None:
    """Each task starts after its dependencies ended (an array's name means every step); the
    tasks that depend on a failed one, directly or not, end cancelled naming it."""
    tasks = tmp_path / "t.toml"
    tasks.write_text("""
[[task]]
name = "fetch"
command = "true"

[[task]]
name = "align"
command = "true"
array = 2
depends_on = ["fetch"]

[[task]]
name = "report"
command = "true"
depends_on = ["align"]

[[task]]
name = "broken"
command = "exit 1"
max_attempts = 1
depends_on = ["fetch"]

[[task]]
name = "after-broken"
command = "true"
depends_on = ["broken"]

[[task]]
name = "last"
command = "true"
depends_on = ["after-broken", "report"]
""")
    result = cli("run", "--tasks", str(tasks), "--json", state=tmp_path / "state")
    assert result.returncode == 1, result.stderr
    final = {t["name"]: (t["status"], t["attempts"], t["message"])
             for t in json.loads(result.stdout)["tasks"]}  # fmt: skip
    assert final == {
        "fetch": ("done", 1, ""),
        "align[0]": ("done", 1, ""),
        "align[1]": ("done", 1, ""),
        "report": ("done", 1, ""),
        "broken": ("failed", 1, "attempt 1/1 ended E: exited with status 1; no attempts left"),
        "after-broken": ("cancelled", 0, "not run: dependency 'broken' ended failed"),
        "last": ("cancelled", 0, "not run: dependency 'after-broken' ended cancelled "
                                 "(because 'broken' ended failed)"),
    }  # fmt: skip
    ran = attempts(tmp_path / "t.toml.journal.db")
    needs = {"align[0]": ["fetch"], "align[1]": ["fetch"], "report": ["align[0]", "align[1]"],
             "broken": ["fetch"]}  # fmt: skip
    for task, deps in needs.items():
        for dep in deps:
            assert ran[task][0].created_at >= ran[dep][-1].status_at, (task, dep)


def test_status_shows_waiting_tasks_and_wait_ends_with_the_run(
    tmp_path: Path, background: list[Path]
) -> None:
    """A detached run: `status` says which task waits for which; once the dependency may
    finish, `wait` returns 0 and prints the same summary as `status`."""
    go = tmp_path / "go"
    tasks = tmp_path / "t.toml"
    tasks.write_text(f'[[task]]\nname = "first"\ncommand = "{gated(go)}"\n\n[[task]]\n'
                     'name = "second"\ncommand = "true"\ndepends_on = ["first"]\n')  # fmt: skip
    journal = tmp_path / "t.toml.journal.db"
    background.append(journal)
    started = cli("run", "--tasks", str(tasks), "--detach", state=tmp_path / "state")
    assert started.returncode == 0, started.stderr
    shown = cli("status", str(journal), state=tmp_path / "state")
    assert "waiting for 'first'" in shown.stdout
    assert "1 waiting for dependencies" in shown.stdout
    second = next(t for t in status_json(journal, tmp_path / "state")["tasks"]
                  if t["name"] == "second")  # fmt: skip
    assert (second["waiting_for"], second["attempts"], second["state"]) == (["first"], 0, None)
    go.touch()
    waited = cli("wait", str(journal), state=tmp_path / "state")
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout.splitlines()[0] == "2 done"
    assert waited.stdout == cli("status", str(journal), state=tmp_path / "state").stdout


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ('[[task]]\nname = "a"\ncommand = "true"\ndepends_on = ["nosuch"]\n',
         ["depends_on", "task 'a' depends on 'nosuch'"]),
        ('[[task]]\nname = "a"\ncommand = "true"\ndepends_on = ["b"]\n\n'
         '[[task]]\nname = "b"\ncommand = "true"\ndepends_on = ["a"]\n',
         ["a cycle: 'a' → 'b' → 'a'"]),
    ],
)  # fmt: skip
def test_unknown_dependencies_and_cycles_are_refused_naming_the_file(
    tmp_path: Path, text: str, needles: list[str]
) -> None:
    """Both are errors when the file is read: one line naming the file and the tasks, status
    2, nothing recorded."""
    tasks = tmp_path / "t.toml"
    tasks.write_text(text)
    result = cli("run", "--tasks", str(tasks), state=tmp_path / "state")
    one_line_error(result, str(tasks), *needles)
    assert not (tmp_path / "t.toml.journal.db").exists()


# -- retry ----------------------------------------------------------------------------------


def test_retry_reruns_failed_tasks_and_not_finished_ones(tmp_path: Path) -> None:
    """`retry --failed` runs the failed task and the task it held back, not the one that ended
    done; attempts are numbered on. Names are checked like `cancel` checks them."""
    go = tmp_path / "go"
    runs = tmp_path / "runs"
    tasks = tmp_path / "t.toml"
    tasks.write_text(f"""
[[task]]
name = "ok"
command = "echo ok >> {runs}"

[[task]]
name = "flaky"
command = "echo flaky >> {runs}; test -e {go}"
max_attempts = 1

[[task]]
name = "after"
command = "echo after >> {runs}"
depends_on = ["flaky"]
""")
    journal = str(tmp_path / "t.toml.journal.db")
    state = tmp_path / "state"
    first = cli("run", "--tasks", str(tasks), state=state)
    assert first.returncode == 1, first.stderr
    one_line_error(cli("retry", journal, "nosuch", state=state), "nothing matched", "'nosuch'")
    one_line_error(cli("retry", journal, "ok", state=state), "'ok' is done")
    one_line_error(cli("retry", journal, state=state), "--failed")
    go.touch()
    again = cli("retry", journal, "--failed", "--json", state=state)
    assert again.returncode == 0, again.stderr
    assert "retrying 2 task(s): flaky, after" in again.stderr
    final = {t["name"]: (t["status"], t["attempts"]) for t in json.loads(again.stdout)["tasks"]}
    assert final == {"ok": ("done", 1), "flaky": ("done", 2), "after": ("done", 1)}
    assert sorted(runs.read_text().split()) == ["after", "flaky", "flaky", "ok"]
    assert [a.attempt for a in attempts(Path(journal))["flaky"]] == [1, 2]
    nothing = cli("retry", journal, "--failed", state=state)
    assert nothing.returncode == 0 and "nothing to retry" in nothing.stderr


def test_retry_goes_through_a_running_controller(tmp_path: Path, background: list[Path]) -> None:
    """While a background controller runs the journal, `retry` hands it the request (it does
    not start a second controller), and `wait` sees the retried task through."""
    go, hold = tmp_path / "go", tmp_path / "hold"
    tasks = tmp_path / "t.toml"
    tasks.write_text(f'[[task]]\nname = "flaky"\ncommand = "test -e {go}"\nmax_attempts = 1\n\n'
                     f'[[task]]\nname = "holder"\ncommand = "{gated(hold)}"\n')  # fmt: skip
    journal = tmp_path / "t.toml.journal.db"
    background.append(journal)
    state = tmp_path / "state"
    assert cli("run", "--tasks", str(tasks), "--detach", state=state).returncode == 0
    until(lambda: {t["name"]: t["status"] for t in status_json(journal, state)["tasks"]}
          ["flaky"] == "failed", "flaky to fail")  # fmt: skip
    go.touch()
    asked = cli("retry", str(journal), "flaky", state=state)
    assert asked.returncode == 0, asked.stderr
    assert "the running controller has the request" in asked.stderr
    hold.touch()
    waited = cli("wait", str(journal), "--json", state=state)
    assert waited.returncode == 0, waited.stderr
    final = {t["name"]: (t["status"], t["attempts"]) for t in json.loads(waited.stdout)["tasks"]}
    assert final == {"flaky": ("done", 2), "holder": ("done", 1)}


# -- detach and wait -------------------------------------------------------------------------


def test_detach_returns_with_the_journal_and_keeps_a_second_controller_out(
    tmp_path: Path, background: list[Path]
) -> None:
    """`run --detach` prints the journal path and returns while the task runs; the controller
    is a new session writing to a log next to the journal; a second controller is refused;
    `wait` exits 1 when a task failed."""
    go = tmp_path / "go"
    tasks = tmp_path / "t.toml"
    tasks.write_text(f'[[task]]\nname = "gate"\ncommand = "{gated(go, "exit 4")}"\n'
                     "max_attempts = 1\n")  # fmt: skip
    journal = tmp_path / "t.toml.journal.db"
    background.append(journal)
    state = tmp_path / "state"
    started = cli("run", "--tasks", str(tasks), "--detach", state=state)
    assert started.returncode == 0, started.stderr
    assert started.stdout == f"{journal}\n"
    holder = lock_holder(journal)
    assert holder is not None
    pid = holder[1]
    assert os.getsid(pid) == pid != os.getsid(0), "the controller leads a session of its own"
    log = Path(str(journal) + ".log")
    assert os.readlink(f"/proc/{pid}/fd/1") == os.readlink(f"/proc/{pid}/fd/2") == str(log)
    assert os.readlink(f"/proc/{pid}/fd/0") == os.devnull
    assert status_json(journal, state)["tasks"][0]["status"] == "active"
    one_line_error(cli("resume", str(journal), state=state), "held by another controller")
    one_line_error(cli("run", "--tasks", str(tasks), state=state), "held by another controller")
    go.touch()
    waited = cli("wait", str(journal), state=state)
    assert waited.returncode == 1, waited.stderr
    assert waited.stdout.startswith("0 done, 1 failed (1 E error)")
    assert "exit 4" in waited.stdout
    assert "0 done, 1 failed" in log.read_text(), "the controller's own report is in its log"


def test_a_detached_run_survives_its_terminal(tmp_path: Path, background: list[Path]) -> None:
    """Started from a shell in a real terminal that is then closed (SIGHUP to the session),
    the background controller carries on and the run ends done."""
    go = tmp_path / "go"
    tasks = tmp_path / "t.toml"
    tasks.write_text(f'[[task]]\nname = "gate"\ncommand = "{gated(go)}"\n')
    journal = tmp_path / "t.toml.journal.db"
    background.append(journal)
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(tmp_path / "state"),
           "TERM": "xterm", "PS1": "$ "}  # fmt: skip
    shell = pexpect.spawn("bash", ["--norc", "--noprofile"], env=env, encoding="utf-8",
                          timeout=120, cwd=str(tmp_path))  # fmt: skip
    try:
        shell.expect_exact("$ ")
        shell.sendline(f"{sys.executable} -m distributor.cli run --tasks t.toml --detach")
        shell.expect_exact(str(journal))
        shell.expect_exact("$ ")
    finally:
        shell.close(force=True)  # the terminal goes away: SIGHUP to its session
    assert shell.signalstatus in (signal.SIGHUP, signal.SIGKILL) or shell.exitstatus is not None
    holder = lock_holder(journal)
    assert holder is not None
    go.touch()
    waited = cli("wait", str(journal), state=tmp_path / "state")
    assert waited.returncode == 0, (waited.stdout, waited.stderr)
    assert waited.stdout.startswith("1 done")


def test_wait_timeout_reports_and_leaves_the_run_going(
    tmp_path: Path, background: list[Path]
) -> None:
    """`wait --timeout` on a run that has not ended: the status so far on stdout (the gated
    task not ended, never failed), one line on stderr, status 124; the run goes on and a
    later `wait` sees it end. A bad duration is one line, status 2."""
    go = tmp_path / "go"
    tasks = tmp_path / "t.toml"
    tasks.write_text(f'[[task]]\nname = "gated"\ncommand = "{gated(go)}"\n')
    journal = tmp_path / "t.toml.journal.db"
    background.append(journal)
    started = cli("run", "--tasks", str(tasks), "--detach", state=tmp_path / "state")
    assert started.returncode == 0, started.stderr
    waited = cli("wait", str(journal), "--timeout", "0.5", state=tmp_path / "state")
    assert waited.returncode == 124, (waited.stdout, waited.stderr)
    assert "failed" not in waited.stdout, waited.stdout
    lines = waited.stderr.strip().splitlines()
    assert len(lines) == 1 and "1 task(s) still active after 0.5" in lines[0], waited.stderr
    one_line_error(cli("wait", str(journal), "--timeout", "soon", state=tmp_path / "state"),
                   "--timeout", "soon")  # fmt: skip
    go.touch()
    waited = cli("wait", str(journal), "--timeout", "2m", state=tmp_path / "state")
    assert waited.returncode == 0, (waited.stdout, waited.stderr)
    assert waited.stdout.startswith("1 done")


def test_wait_without_a_controller_says_so(tmp_path: Path) -> None:
    """A journal with active tasks and no controller (it was killed): `wait` does not hang,
    it says how to continue, status 2."""
    tasks = tmp_path / "t.toml"
    tasks.write_text('[[task]]\nname = "slow"\ncommand = "sleep 30"\n')
    journal = tmp_path / "t.toml.journal.db"
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(tmp_path / "state")}
    controller = subprocess.Popen(
        [sys.executable, "-m", "distributor.cli", "run", "--tasks", str(tasks)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip

    def submitted() -> bool:
        found = attempts(journal).get("slow", []) if journal.exists() else []
        return bool(found) and found[0].distributor_id is not None

    try:
        until(submitted, "the task to be submitted")
    finally:
        controller.kill()
        controller.wait()
    waited = cli("wait", str(journal), state=tmp_path / "state")
    one_line_error(waited, "no controller runs", "distributor resume")
    cli("cancel", str(journal), "slow", state=tmp_path / "state")


# -- cancel and journals ---------------------------------------------------------------------


def test_cancel_of_an_unknown_tag_or_name_is_the_same_error(tmp_path: Path) -> None:
    """Nothing matched, whether by tag or by name: one line saying so, status 2; a tag that
    matches cancels."""
    tasks = tmp_path / "t.toml"
    tasks.write_text('[[task]]\nname = "a"\ncommand = "true"\ntags = ["x"]\n')
    state = tmp_path / "state"
    assert cli("run", "--tasks", str(tasks), state=state).returncode == 0
    journal = str(tmp_path / "t.toml.journal.db")
    one_line_error(cli("cancel", journal, "--tag", "nosuchtag", state=state),
                   "nothing matched tag 'nosuchtag'", journal)  # fmt: skip
    one_line_error(cli("cancel", journal, "nosuchname", state=state),
                   "nothing matched task name 'nosuchname'", journal)  # fmt: skip
    matched = cli("cancel", journal, "--tag", "x", state=state)
    assert matched.returncode == 0 and "cancelled 0 active task(s) of 1" in matched.stdout


def test_a_journal_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    """A journal path that is a directory, or under a file, or missing for `status`: one line
    and status 2, never a traceback."""
    tasks = tmp_path / "t.toml"
    tasks.write_text('[[task]]\nname = "a"\ncommand = "true"\n')
    state = tmp_path / "state"
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("")
    one_line_error(cli("run", "--tasks", str(tasks), "--journal", str(tmp_path / "adir"),
                       state=state), "is a directory")  # fmt: skip
    one_line_error(cli("run", "--tasks", str(tasks), "--journal",
                       str(tmp_path / "afile" / "j.db"), state=state),
                   "cannot be written")  # fmt: skip
    one_line_error(cli("status", str(tmp_path / "none.db"), state=state), "does not exist")
    one_line_error(cli("wait", str(tmp_path / "none.db"), state=state), "does not exist")
