"""`distributor dashboard` as a real server over HTTP, and `distributor report`: the event
stream (the whole table first, then only what changed), the token away from loopback, the
host check, cancel's header, nothing served but the journal, one-line errors, and a report
that is one escaped, self-contained file that leaves the journal as it was."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import sqlite3
import time
import urllib.request
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from distributor.service.journal import Journal
from tests.dashboard_run import Dashboard, Run, cli, gated, until

pytestmark = pytest.mark.slow


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    """A run whose background controller is ended at teardown."""
    started = Run(tmp_path)
    yield started
    started.stop()


def events(dashboard: Dashboard) -> Generator[tuple[str, dict[str, Any]], None, None]:
    """The dashboard's server-sent events, as they come: (kind, {"seq", "tasks"}), each task
    a dict."""
    answer = urllib.request.urlopen(dashboard.base + "events", timeout=60)  # noqa: S310 - http
    kind = ""
    with answer:
        for raw in answer:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                tasks = [dict(zip(data["columns"], row, strict=True)) for row in data["rows"]]
                yield kind, {"seq": data["seq"], "tasks": tasks}


def changed_between(journal: Path, since: int, seq: int) -> set[str]:
    """The names of the tasks with an event after `since` up to `seq`."""
    with sqlite3.connect(journal) as db:
        return {name for (name,) in db.execute(
            "SELECT DISTINCT t.name FROM transitions e JOIN tasks t ON t.id = e.task_id "
            "WHERE e.seq > ? AND e.seq <= ?", (since, seq))}  # fmt: skip


def test_the_stream_sends_the_whole_table_then_only_the_changes(run: Run) -> None:
    """The first message is every task; each later one holds exactly the tasks with events
    since the previous one — once the run is steady, a task that ends is sent alone."""
    go = run.root / "go"
    steps = "".join(f'[[task]]\nname = "hold-{k}"\ncommand = "{gated(go)}"\n\n' for k in range(6))
    journal = run.start(steps + f'[[task]]\nname = "one"\ncommand = "{gated(run.root / "one")}"\n')
    with Dashboard.serving(journal, run.state) as dashboard:
        stream = events(dashboard)
        kind, first = next(stream)
        assert kind == "snapshot"
        assert {t["name"] for t in first["tasks"]} == {"one"} | {f"hold-{k}" for k in range(6)}
        seq = first["seq"]
        until(lambda: all(t["state"] == "R" for t in run.status().values()), "all to run")
        (run.root / "one").touch()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            kind, message = next(stream)
            assert kind == "changes"
            names = {t["name"] for t in message["tasks"]}
            assert names == changed_between(journal, seq, message["seq"]), message
            seq = message["seq"]
            if any(t["name"] == "one" and t["status"] == "done" for t in message["tasks"]):
                break
        stream.close()
        assert names == {"one"}, "a task that ended is sent alone, not the whole table"
        go.touch()


def test_away_from_loopback_every_request_needs_the_printed_token(run: Run) -> None:
    """Bound to 0.0.0.0, the printed address carries a token; without it (or with another)
    every path answers 401; with it in the query the answer sets a cookie that works alone."""
    journal = run.start('[[task]]\nname = "a"\ncommand = "true"\n')
    with Dashboard.serving(journal, run.state, "--host", "0.0.0.0") as dashboard:  # noqa: S104
        token = re.search(r"\?token=([\w-]+)$", dashboard.url)
        assert token is not None, dashboard.url
        port = re.search(r":(\d+)/", dashboard.url)
        assert port is not None
        local = Dashboard(f"http://127.0.0.1:{port[1]}/", dashboard.process)
        for path in ("", "events", "static/dashboard.js", "charts/counts.svg", "task?name=a"):
            assert local.get(path)[0] == 401, path
            assert local.get(path + ("&" if "?" in path else "?") + "token=wrong")[0] == 401
        request = urllib.request.Request(f"{local.base}?token={token[1]}")  # noqa: S310 - http
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - http
            assert answer.status == 200
            cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert local.get("charts/counts.svg", {"cookie": cookie.split(";")[0]})[0] == 200
        assert local.get("task?name=a", {"authorization": f"Bearer {token[1]}"})[0] == 200


def test_loopback_answers_only_loopback_host_names_and_serves_only_the_journal(run: Run) -> None:
    """On 127.0.0.1 a request for another host name is refused (DNS rebinding); a POST needs
    the dashboard's header; only the package's assets and the journal's pages exist; answers
    forbid foreign scripts."""
    journal = run.start('[[task]]\nname = "a"\ncommand = "true"\n')
    until(lambda: run.status()["a"]["status"] == "done", "the task to end")
    with Dashboard.serving(journal, run.state) as dashboard:
        assert dashboard.get("", {"host": "attacker.example"})[0] == 421
        port = dashboard.base.rstrip("/").rsplit(":", 1)[1]
        assert dashboard.get("", {"host": f"localhost:{port}"})[0] == 200
        for path in ("static/../../../../etc/passwd", "static/view.py", "tasks.toml", "state"):
            assert dashboard.get(path)[0] == 404, path
        assert dashboard.get("task?name=nobody")[0] == 404
        request = urllib.request.Request(  # noqa: S310 - http
            dashboard.base + "cancel", data=b'{"names": ["a"]}', method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)  # noqa: S310 - http
        refused.value.close()
        assert refused.value.code == 403
        request.add_header("x-distributor-dashboard", "cancel")
        request.data = b'{"names": ["nobody"]}'
        with pytest.raises(urllib.error.HTTPError) as unknown:
            urllib.request.urlopen(request, timeout=30)  # noqa: S310 - http
        with unknown.value as error:
            assert error.code == 400
            assert "nobody" in json.loads(error.read())["error"]
        with urllib.request.urlopen(dashboard.base, timeout=30) as answer:  # noqa: S310 - http
            assert "script-src 'self'" in answer.headers["content-security-policy"]


def test_a_missing_journal_a_bad_port_or_a_used_one_is_one_line(tmp_path: Path) -> None:
    """Bad input to `dashboard` and `report` is one line on stderr and status 2, naming what
    is wrong: a missing journal, a port out of range, a port in use."""
    missing = tmp_path / "nope.db"
    journal = tmp_path / "empty.journal.db"
    Journal(journal).close()  # a journal no task was added to
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for args, says in ((["dashboard", str(missing), "--port", "0"], "nope.db"),
                           (["report", str(missing)], "nope.db"),
                           (["dashboard", str(journal), "--port", "70000"], "70000"),
                           (["dashboard", str(journal), "--port", port], "in use")):  # fmt: skip
            result = cli(*args, state=tmp_path / "state")
            assert result.returncode == 2, result
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
            assert says in result.stderr, result.stderr


def test_the_report_is_one_escaped_file_and_leaves_the_journal_untouched(run: Run) -> None:
    """`distributor report` writes one HTML file with no script and nothing to fetch; a task
    name with markup is text; the journal's bytes are the same afterwards."""
    hostile = "<script>alert('x')</script>"
    journal = run.start(f'[[task]]\nname = "{hostile}"\ncommand = "exit 3"\nmax_attempts = 1\n\n'
                        '[[task]]\nname = "fine"\ncommand = "true"\nmemory = "2G"\n')  # fmt: skip
    until(lambda: all(t["status"] != "active" for t in run.status().values()), "the run to end")
    until(lambda: cli("wait", str(journal), state=run.state).returncode == 1, "the controller")
    before = hashlib.sha256(journal.read_bytes()).hexdigest()
    output = run.root / "report.html"
    written = cli("report", str(journal), "-o", str(output), state=run.state)
    assert written.returncode == 0, written.stderr
    assert written.stdout.strip() == str(output)
    text = output.read_text()
    assert "<script" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), "nothing is fetched"
    assert "peak memory" in text and "<svg" in text
    assert hashlib.sha256(journal.read_bytes()).hexdigest() == before
    wal = Path(str(journal) + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
