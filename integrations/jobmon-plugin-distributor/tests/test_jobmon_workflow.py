"""End to end: a real Jobmon 3.4.8 (server on SQLite on 127.0.0.1, client, distributor and
workers) runs one workflow through the bridge, on `local` and on the real Slurm.

Jobmon's server and the workflow run in processes of their own (`jobmon_e2e.py`); the test
reads what happened from Jobmon's database, as Jobmon recorded it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from distributor import load_plugin

E2E = Path(__file__).with_name("jobmon_e2e.py")
JOBMON_MISSING = next(
    (
        f"Jobmon is not installed ({module} missing): scripts/test.sh installs jobmon-core==3.4.8 "
        "and the client and server wheels of ../shared/wheels/jobmon/ when they are there"
        for module in ("jobmon.client", "jobmon.server", "jobmon.distributor")
        if importlib.util.find_spec(module) is None
    ),
    None,
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(JOBMON_MISSING is not None, reason=JOBMON_MISSING or ""),
]

# Heartbeats every few seconds, so that a silent worker is triaged within 12 s (a worker late
# by that much on a busy machine is triaged too, and answered "not available" while it runs).
TIMINGS = {
    "JOBMON__HEARTBEAT__WORKFLOW_RUN_INTERVAL": "1",
    "JOBMON__HEARTBEAT__TASK_INSTANCE_INTERVAL": "3",
    "JOBMON__HEARTBEAT__REPORT_BY_BUFFER": "4",
    "JOBMON__DISTRIBUTOR__POLL_INTERVAL": "1",
}


@dataclass
class JobmonServer:
    """A running Jobmon server and the environment its clients need."""

    db: Path
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def add_cluster(
        self, name: str, connection: dict[str, Any], queue: str, queue_parameters: dict[str, Any]
    ) -> None:
        """Register a cluster of type ``distributor`` and one queue, as a Jobmon admin does."""
        with sqlite3.connect(self.db) as db:
            row = db.execute("SELECT id FROM cluster_type WHERE name = 'distributor'").fetchone()
            type_id = row[0] if row else db.execute(
                "INSERT INTO cluster_type (name) VALUES ('distributor')"
            ).lastrowid  # fmt: skip
            cluster_id = db.execute(
                "INSERT INTO cluster (name, cluster_type_id, connection_parameters)"
                " VALUES (?, ?, ?)",
                (name, type_id, json.dumps(connection)),
            ).lastrowid
            # Jobmon reads queue parameters with ast.literal_eval
            db.execute(
                "INSERT INTO queue (name, cluster_id, parameters) VALUES (?, ?, ?)",
                (queue, cluster_id, repr(queue_parameters)),
            )

    def rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        """The rows of a query on Jobmon's database."""
        with sqlite3.connect(self.db) as db:
            return db.execute(sql, args).fetchall()


def _jobmon_env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBMON__")}
    env.update(TIMINGS)
    env["JOBMON__DB__SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{db}"
    env["JOBMON__SESSION__SECRET_KEY"] = "distributor-bridge-e2e"  # noqa: S105 - a test server
    env["JOBMON__HTTP__ROUTE_PREFIX"] = "/api/v2"
    return env


@pytest.fixture(scope="module")
def jobmon_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobmonServer]:
    """Jobmon's server on a fresh SQLite database, listening on 127.0.0.1."""
    home = tmp_path_factory.mktemp("jobmon")
    db = home / "jobmon.db"
    env = _jobmon_env(db)
    log = home / "server.log"
    subprocess.run([sys.executable, str(E2E), "init-db"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)  # fmt: skip
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(E2E), "serve", str(listener.fileno())],
            env=env, stdout=out, stderr=subprocess.STDOUT, pass_fds=[listener.fileno()],
        )  # fmt: skip
    listener.close()  # the server holds it now: if it dies, connections are refused
    env["JOBMON__HTTP__SERVICE_URL"] = url
    try:
        # Blocks in the listen backlog until the server answers (or is refused if it died).
        with urllib.request.urlopen(f"{url}/api/v2/health", timeout=300) as response:  # noqa: S310 - our own server
            assert response.status == 200
    except OSError as exc:
        process.kill()
        process.wait()
        pytest.fail(f"Jobmon's server did not answer ({exc}); its log:\n{log.read_text()}")
    yield JobmonServer(db, env, log, process)
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_workflow(server: JobmonServer, spec: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """Run `jobmon_e2e.workflow` with `spec`; return its result line.

    The client runs in a session of its own: should it overrun, it is killed with the
    distributor process it started (which would otherwise poll for ever; Jobmon stops it
    itself when the client ends in any other way).
    """
    spec_file = scratch / "spec.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    client = subprocess.Popen(
        [sys.executable, str(E2E), "workflow", str(spec_file)], env=server.env, cwd=scratch,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = client.communicate(timeout=int(spec["timeout"]) + 120)
    except subprocess.TimeoutExpired:
        os.killpg(client.pid, signal.SIGKILL)  # the client, and the distributor it started
        out, err = client.communicate()
        pytest.fail(f"the workflow did not end in time:\n{out}\n{err}")
    if client.returncode != 0:
        pytest.fail(f"the workflow failed (status {client.returncode}):\n{out}\n{err}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


@dataclass(frozen=True)
class Attempt:
    """One task instance as Jobmon recorded it."""

    status: str
    distributor_id: str
    resources: dict[str, Any]
    errors: str


def attempts(server: JobmonServer, workflow_id: int) -> dict[str, tuple[str, list[Attempt]]]:
    """Task name → (task status, its task instances in order)."""
    tasks = server.rows("SELECT id, name, status FROM task WHERE workflow_id = ?", workflow_id)
    out: dict[str, tuple[str, list[Attempt]]] = {}
    for task_id, name, status in tasks:
        instances = server.rows(
            "SELECT ti.id, ti.status, ti.distributor_id, tr.requested_resources FROM task_instance"
            " ti JOIN task_resources tr ON tr.id = ti.task_resources_id WHERE ti.task_id = ?"
            " ORDER BY ti.id",
            task_id,
        )
        out[name] = (status, [
            Attempt(ti_status, str(did), json.loads(resources), "\n".join(
                row[0] for row in server.rows(
                    "SELECT description FROM task_instance_error_log WHERE task_instance_id = ?",
                    ti_id,
                )
            ))
            for ti_id, ti_status, did, resources in instances
        ])  # fmt: skip
    return out


def check_workflow(
    server: JobmonServer, result: dict[str, Any], scratch: Path, max_cores: int
) -> None:
    """What Jobmon recorded is what each task of `jobmon_e2e.workflow` stands for."""
    got = attempts(server, result["workflow_id"])
    summary = {name: (status, [a.status for a in tis]) for name, (status, tis) in got.items()}
    steps = sorted(name for name in got if name.startswith("step"))
    assert len(steps) == 4, summary
    for name in steps:  # the array: done, each step's output in its Jobmon log directory
        status, (only,) = got[name]
        assert (status, only.status) == ("D", "D"), summary
        assert only.resources["stdout"] == str(scratch / "jobmon-logs"), only.resources
    outputs = sorted(p.read_text().strip() for p in (scratch / "jobmon-logs").glob("*.o*"))
    assert outputs == ["step 0", "step 1", "step 2", "step 3"], outputs
    assert summary["downstream"] == ("D", ["D"]), summary
    assert "stdout" not in got["downstream"][1][0].resources  # Jobmon's None log directory
    status, (clamped,) = got["clamped"]
    assert status == "D", summary
    assert clamped.resources["cores"] == max_cores, clamped.resources  # asked for 64
    assert clamped.resources["memory"] == 1, clamped.resources  # whole GiB, as Jobmon keeps it
    assert summary["exit3"] == ("F", ["E", "E"]), summary
    assert all("exited with status 3" in a.errors for a in got["exit3"][1]), got["exit3"]
    status, overtime = got["overtime"]
    assert (status, [a.status for a in overtime]) == ("D", ["Z", "D"]), summary
    first, retry = (a.resources["runtime"] for a in overtime)
    assert retry > first, (first, retry)  # Jobmon's resource scaling
    status, killed = got["killed_worker"]
    assert (status, [a.status for a in killed]) == ("D", ["U", "D"]), summary
    assert "Jobmon's triage takes only R, Z, U or F" in killed[0].errors, killed[0].errors
    assert result["status"] == "E", result  # exit3 failed, so the run ends in error


def test_workflow_on_local(jobmon_server: JobmonServer, tmp_path: Path) -> None:
    """The workflow on the local plugin: array, downstream, clamping, exit 3, runtime limit
    with a scaled retry, and a killed worker, each ending as Jobmon expects."""
    queue_parameters = {"plugin": "local", "max_cores": 1}
    jobmon_server.add_cluster(
        "distributor-local",
        {"plugin": "local", "state_dir": str(tmp_path / "local-state"), "parallelism": 4,
         "kill_grace": 1.0},
        "local", queue_parameters,
    )  # fmt: skip
    spec = {"cluster": "distributor-local", "queue": "local", "scratch": str(tmp_path),
            "runtime_limit": 12, "runtime_scale": 1.0, "timeout": 300}  # fmt: skip
    result = run_workflow(jobmon_server, spec, tmp_path)
    check_workflow(jobmon_server, result, tmp_path, max_cores=1)


def _slurm() -> tuple[str | None, str | None]:
    """The dev cluster's ``SLURM_CONF`` and why it cannot be used (None: it can)."""
    try:
        from distributor_slurm.testing import find_slurm_conf, unavailable_reason
    except ImportError as exc:
        return None, f"distributor-slurm is not installed ({exc})"
    conf = find_slurm_conf()
    return conf, unavailable_reason(conf)


def test_workflow_on_slurm(jobmon_server: JobmonServer, tmp_path: Path) -> None:
    """The same workflow on the real Slurm (runtime limits there are whole minutes)."""
    conf, why_not = _slurm()
    if why_not is not None:
        pytest.skip(why_not)
    queue_parameters = {"plugin": "slurm", "slurm_conf": conf}
    partition = "debug"
    options = {k: v for k, v in queue_parameters.items() if k != "plugin"}
    limit = load_plugin("slurm").queue(0, partition, options).coerce_resources(cores=64)["cores"]
    jobmon_server.add_cluster(
        "distributor-slurm",
        {"plugin": "slurm", "slurm_conf": conf, "submit_root": str(tmp_path / "submit-root"),
         "poll_policy": {"min_interval": 0.3, "max_interval": 1.0, "accounting_delay": 15.0,
                         "lost_grace": 60.0}},
        partition, queue_parameters,
    )  # fmt: skip
    spec = {"cluster": "distributor-slurm", "queue": partition, "scratch": str(tmp_path),
            "runtime_limit": 60, "runtime_scale": 1.0, "timeout": 900}  # fmt: skip
    result = run_workflow(jobmon_server, spec, tmp_path)
    check_workflow(jobmon_server, result, tmp_path, max_cores=limit)
