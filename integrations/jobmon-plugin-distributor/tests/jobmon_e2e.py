"""A real Jobmon, for the bridge's end-to-end test: its server, and one workflow.

Run by ``test_jobmon_workflow.py`` in processes of their own (Jobmon's client configures
logging and warnings as it likes; pytest's ``filterwarnings = error`` is not its business)::

    python jobmon_e2e.py init-db
    python jobmon_e2e.py serve FD
    python jobmon_e2e.py workflow SPEC.json

``init-db`` creates Jobmon's database and its tables; ``serve`` runs Jobmon's web app (its v2
routes: v3's need a login) on the listening socket inherited as file descriptor FD; the
database and everything else come from ``JOBMON__*`` variables. ``workflow`` runs the workflow
`SPEC.json` describes and prints one JSON line: the workflow id and the run's final status.
"""

from __future__ import annotations

import json
import shlex
import sys
import uuid
from pathlib import Path
from typing import Any


def init_db() -> None:
    """Create the database ``JOBMON__DB__SQLALCHEMY_DATABASE_URI`` names, as Jobmon does."""
    from jobmon.server.web.db_admin import init_db as jobmon_init_db

    jobmon_init_db()


def serve(fd: int) -> None:
    """Serve Jobmon's v2 routes on the inherited listening socket `fd` until terminated."""
    import uvicorn
    from jobmon.server.web.api import get_app

    uvicorn.run(get_app(versions=["v2"]), fd=fd, log_level="warning")


def workflow(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the bridge's workflow on the cluster and queue `spec` names.

    ``spec`` keys: ``cluster``, ``queue``, ``scratch`` (a directory the tasks can write),
    ``runtime_limit`` (seconds, for the over-runtime task's first attempt: long enough for
    Jobmon's worker to start and say so), ``runtime_scale`` (Jobmon's resource scale for its
    retry), ``timeout`` (seconds for the whole run).

    The tasks (their names are what the test looks for):

    * ``step_0`` … ``step_3``: one array, each writing its step to its ``stdout`` log directory;
    * ``downstream``: after the four steps, without log directories (Jobmon's None);
    * ``clamped``: asks for 64 cores, more than the queue has;
    * ``exit3``: exits 3 on both of its two attempts;
    * ``overtime``: sleeps past its runtime limit on its first attempt (the scheduler's limit
      ends it, whenever that comes: Slurm's is checked every 30 s or so), then, retried with
      Jobmon's resource scaling, ends at once;
    * ``killed_worker``: kills its own Jobmon worker (``kill -9 $PPID``) on the first attempt.
    """
    from jobmon.client.tool import Tool

    cluster, queue = spec["cluster"], spec["queue"]
    scratch = Path(spec["scratch"])
    logs = scratch / "jobmon-logs"
    base = {"queue": queue, "cores": 1, "memory": "1G", "runtime": 600}
    tool = Tool(name="distributor_bridge_e2e")
    flow = tool.create_workflow(
        name="bridge_e2e", workflow_args=f"bridge-e2e-{uuid.uuid4().hex}",
        default_cluster_name=cluster, default_compute_resources_set={cluster: base},
    )  # fmt: skip
    step = tool.get_task_template(
        template_name="step", command_template="echo step {i}", node_args=["i"],
        default_cluster_name=cluster, default_compute_resources=base,
    )  # fmt: skip
    steps = step.create_tasks(
        name="step", i=[0, 1, 2, 3], max_attempts=1,
        compute_resources={**base, "stdout": str(logs), "stderr": str(logs)},
    )  # fmt: skip
    shell = tool.get_task_template(
        template_name="shell", command_template="{command}", node_args=["command"],
        default_cluster_name=cluster, default_compute_resources=base,
    )  # fmt: skip
    marker = shlex.quote(str(scratch / "killed_worker.marker"))
    overtime = shlex.quote(str(scratch / "overtime.marker"))
    tasks = [
        shell.create_task(name="downstream", command="echo downstream", upstream_tasks=steps,
                          max_attempts=1, compute_resources=base),
        shell.create_task(name="clamped", command="echo clamped", max_attempts=1,
                          compute_resources={**base, "cores": 64}),
        shell.create_task(name="exit3", command="exit 3", max_attempts=2, compute_resources=base),
        shell.create_task(
            name="overtime", max_attempts=2,
            command=f"if test -e {overtime}; then true; else touch {overtime}; sleep 600; fi",
            compute_resources={**base, "runtime": int(spec["runtime_limit"])},
            resource_scales={"runtime": float(spec["runtime_scale"])},
        ),
        shell.create_task(
            name="killed_worker", max_attempts=2, compute_resources=base,
            command=f"test -e {marker} || {{ touch {marker}; kill -9 $PPID; }}",
        ),
    ]  # fmt: skip
    flow.add_tasks([*steps, *tasks])
    status = flow.run(seconds_until_timeout=int(spec["timeout"]))
    return {"workflow_id": flow.workflow_id, "status": status}


def main(argv: list[str]) -> int:
    """``init-db``, ``serve FD`` or ``workflow SPEC.json`` (see the module docstring)."""
    if argv == ["init-db"]:
        init_db()
        return 0
    if len(argv) == 2 and argv[0] == "serve":
        serve(int(argv[1]))
        return 0
    if len(argv) == 2 and argv[0] == "workflow":
        result = workflow(json.loads(Path(argv[1]).read_text(encoding="utf-8")))
        print(json.dumps(result), flush=True)
        return 0
    print("usage: jobmon_e2e.py init-db | serve FD | workflow SPEC.json", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
