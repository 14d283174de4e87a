"""The service on the command line: ``run --tasks``, ``status``, ``cancel`` and ``resume``.

`distributor.cli` wires these in; they are kept here, beside the service, so the CLI module
stays one screen per command. A tasks file is TOML with one ``[[task]]`` table per task::

    [[task]]
    name = "align"                 # unique; with `array`, steps are named align[0], align[1], …
    command = "bwa mem ref.fa x"   # run by sh -c; or an argv list: ["bwa", "mem", …]
    array = 4                      # optional: 4 tasks, each sees DISTRIBUTOR_ARRAY_STEP_ID=0..3
    cores = 2                      # optional resources: cores, memory, runtime, queue
    memory = "4G"
    runtime = "1h"
    priority = 1                   # optional: priority, tags, max_attempts, owner
    tags = ["stage1"]
    max_attempts = 3

The journal (default: ``<tasks file>.journal.db`` beside it) makes a run resumable: running the
same file again, or ``distributor resume JOURNAL``, reattaches to everything in flight.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from distributor.report import Outcome, print_log, render
from distributor.service.config import Cluster
from distributor.service.errors import JournalLockedError, TaskSpecError
from distributor.service.events import AttemptOutcome
from distributor.service.journal import Journal
from distributor.service.model import AttemptInfo, TaskInfo, TaskSpec
from distributor.service.service import Service

__all__ = [
    "add_run_options",
    "cmd_run_tasks",
    "load_tasks",
    "register",
]

EXIT_INTERRUPTED = 130
_KEYS = {"name", "command", "array", "cores", "memory", "runtime", "queue", "priority", "tags",
         "max_attempts", "owner", "env", "cwd"}  # fmt: skip


def load_tasks(path: Path) -> list[TaskSpec]:
    """Read a tasks file.

    Raises:
        TaskSpecError: the file is not valid TOML, has no ``[[task]]`` tables, or a table has an
            unknown key or a bad value (the message names the table and the key).
    """
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TaskSpecError(str(path), "file", str(path), f"cannot be read as TOML: {exc}") from exc
    tables = data.get("task")
    extra = sorted(set(data) - {"task"})
    if extra:
        raise TaskSpecError(str(path), "file", extra, "only [[task]] tables are allowed")
    if not isinstance(tables, list) or not tables:
        raise TaskSpecError(str(path), "file", str(path), "has no [[task]] tables")
    specs: list[TaskSpec] = []
    for index, table in enumerate(tables):
        label = str(table.get("name", f"[[task]] #{index + 1}"))
        for key in table:
            if key not in _KEYS:
                close = difflib.get_close_matches(key, sorted(_KEYS), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise TaskSpecError(label, key, table[key], f"unknown key{hint}")
        specs.extend(_expand(label, table))
    return specs


def _expand(label: str, table: dict[str, Any]) -> list[TaskSpec]:
    resources = {key: table[key] for key in ("cores", "memory", "runtime") if key in table}
    common: dict[str, Any] = {
        "command": table.get("command", ""),
        "queue": table.get("queue"),
        "resources": resources,
        "priority": table.get("priority", 0),
        "tags": table.get("tags", ()),
        "max_attempts": table.get("max_attempts", 3),
        "owner": table.get("owner", ""),
        "cwd": table.get("cwd"),
    }
    env = table.get("env", {})
    if not isinstance(env, dict):
        raise TaskSpecError(label, "env", env, "must be a table of names to strings")
    array = table.get("array")
    if array is None:
        return [TaskSpec(name=table.get("name", ""), env=env, **common)]
    if isinstance(array, bool) or not isinstance(array, int) or not 1 <= array <= 100_000:
        raise TaskSpecError(label, "array", array, "must be a whole number from 1 to 100000")
    return [
        TaskSpec(
            name=f"{label}[{step}]",
            env={**env, "DISTRIBUTOR_ARRAY_STEP_ID": str(step)},
            **common,
        )
        for step in range(array)
    ]


def _cluster(plugin: str) -> Cluster:
    # The local queue knows this machine's limits; elsewhere the scheduler's default applies.
    return Cluster.from_plugin(plugin, plugin, default_queue="local" if plugin == "local" else None)


def add_run_options(run: argparse.ArgumentParser) -> None:
    """Add ``--tasks`` and ``--journal`` to the ``run`` command."""
    run.add_argument("--tasks", type=Path, help="run every task of a TOML tasks file")
    run.add_argument("--journal", type=Path, help="journal file (default: TASKS.journal.db)")


def register(sub: Any) -> None:
    """Add the ``status``, ``cancel`` and ``resume`` commands to the CLI's subparsers."""
    status = sub.add_parser("status", help="show the tasks of a journal")
    status.add_argument("journal", type=Path)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--all", action="store_true", help="every task, not only failures")
    status.set_defaults(func=cmd_status)

    cancel = sub.add_parser("cancel", help="cancel tasks of a journal (by name or tag)")
    cancel.add_argument("journal", type=Path)
    cancel.add_argument("names", nargs="*", help="task names")
    cancel.add_argument("--tag", help="cancel every task carrying this tag")
    cancel.set_defaults(func=cmd_cancel)

    resume = sub.add_parser("resume", help="reattach to a journal and run it to the end")
    resume.add_argument("journal", type=Path)
    resume.add_argument("--json", action="store_true", help="print one JSON summary")
    resume.add_argument("--all", action="store_true", help="every task, not only failures")
    resume.set_defaults(func=cmd_resume)


def cmd_run_tasks(args: argparse.Namespace, out: Console) -> int:
    """Run a tasks file through the service; 0 only if every task ends done."""
    tasks = load_tasks(args.tasks)
    journal = args.journal or args.tasks.with_name(args.tasks.name + ".journal.db")
    with Service(journal, _cluster(args.cluster)) as service:
        service.add(tasks)
        return _drive(service, args, out)


def cmd_resume(args: argparse.Namespace, out: Console) -> int:
    """Reattach to a journal (its clusters are loaded as plugins of the same name) and finish."""
    client = Journal(args.journal, role="client")
    try:
        clusters = client.active_clusters()
    finally:
        client.close()
    with Service(args.journal, [_cluster(name) for name in clusters or ["local"]]) as service:
        return _drive(service, args, out)


def _drive(service: Service, args: argparse.Namespace, out: Console) -> int:
    console = Console(stderr=True, quiet=args.json)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[counts]}"),
               TimeElapsedColumn())  # fmt: skip
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            bar = progress.add_task("tasks", total=service.summary().total, counts="")
            while True:
                finished = service.wait(timeout=1.0)
                summary = service.summary()
                counts = " · ".join(f"{key} {value}" for key, value in summary.tasks.items())
                active = " ".join(f"{k}:{v}" for k, v in sorted(summary.active.items()))
                progress.update(bar, completed=summary.total - summary.tasks["active"],
                                counts=counts + (f" ({active})" if active else ""))  # fmt: skip
                if finished:
                    break
    except KeyboardInterrupt:
        print(
            f"interrupted: tasks keep running; resume with: distributor resume "
            f"{service.journal_path}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    _report(
        service.tasks(),
        service.all_attempts() if args.json else {},
        service.journal_path,
        args,
        out,
    )
    return 0 if service.summary().all_done else 1


def _outcome(
    name: str,
    state: str | None,
    message: str,
    distributor_id: str | None,
    step: int | None,
    outcome: AttemptOutcome | None,
    attempt: int | None = None,
) -> Outcome:
    return Outcome(
        name=name,
        distributor_id=distributor_id,
        step=step,
        state=state,
        message=message,
        usage=None if outcome is None else outcome.usage,
        log=None if outcome is None or outcome.log is None else Path(outcome.log),
        stderr_log=None if outcome is None or not outcome.stderr_log else Path(outcome.stderr_log),
        attempt=attempt,
    )


def _report(
    infos: list[TaskInfo],
    attempts: dict[str, list[AttemptInfo]],
    journal: Path,
    args: argparse.Namespace,
    out: Console,
) -> None:
    """The summary and the tasks that did not end done (``--all``: every task); ``--json``:
    every task with its latest attempt's fields and the same fields per attempt."""
    shown = [
        _outcome(
            i.name,
            i.instance_status.value if i.instance_status else None,
            i.message,
            i.distributor_id,
            i.step,
            i.outcome,
        )
        for i in infos
    ]
    if args.json:
        tasks = []
        for info, outcome in zip(infos, shown, strict=True):
            record = outcome.to_json()
            record.update(status=info.status.value, attempts=info.attempts, tags=sorted(info.tags),
                          owner=info.owner, cluster=info.cluster)  # fmt: skip
            record["attempt_list"] = [
                _outcome(
                    info.name,
                    a.status.value,
                    a.message,
                    a.distributor_id,
                    a.step,
                    a.outcome,
                    a.attempt,
                ).to_json()
                for a in attempts.get(info.name, [])
            ]
            tasks.append(record)
        print(json.dumps({"journal": str(journal), "tasks": tasks}, indent=2))
        return
    render(shown, out, show_all=getattr(args, "all", False))


def cmd_status(args: argparse.Namespace, out: Console) -> int:
    """Print the tasks of a journal (read-only; works while a controller runs)."""
    journal = Journal(args.journal, role="client")
    try:
        infos = journal.task_infos()
        attempts = journal.attempts() if args.json else {}
    finally:
        journal.close()
    _report(infos, attempts, args.journal, args, out)
    return 0


def cmd_logs(args: argparse.Namespace, out: Console) -> int:
    """``distributor logs NAME --journal J``: the output of a journal's task (its latest
    attempt, or ``--attempt N``), from the log path recorded when the attempt ended, or asked
    of the cluster while it runs."""
    journal = Journal(args.journal, role="client")
    try:
        attempts = journal.attempts([args.id])[args.id]
    finally:
        journal.close()
    if not attempts:
        raise TaskSpecError(args.id, "attempt", None, "the task has no attempt yet")
    chosen = attempts[-1] if args.attempt is None else None
    for attempt in attempts:
        if attempt.attempt == args.attempt:
            chosen = attempt
    if chosen is None:
        raise TaskSpecError(args.id, "attempt", args.attempt, f"it has {len(attempts)} attempts")
    outcome = chosen.outcome
    if outcome is None or outcome.log is None:
        raise TaskSpecError(
            args.id, "attempt", chosen.attempt,
            "no log is recorded for it (it has not ended, or its cluster cannot say where its "
            f"output is); its distributor id is {chosen.distributor_id}",
        )  # fmt: skip
    path = outcome.stderr_log if args.stderr and outcome.stderr_log else outcome.log
    return print_log(Path(path), tail_lines=args.tail, follow=False, active=lambda: False)


def cmd_cancel(args: argparse.Namespace, out: Console) -> int:
    """Cancel tasks: through the running controller if there is one, else directly."""
    if not args.names and args.tag is None:
        raise TaskSpecError("(cancel)", "names", [], "give task names or --tag")
    client = Journal(args.journal, role="client")
    try:
        ids = client.task_ids(names=args.names, tag=args.tag)  # raises for unknown names
        clusters = client.active_clusters()
    finally:
        client.close()
    try:
        service = Service(args.journal, [_cluster(name) for name in clusters or ["local"]])
    except JournalLockedError:
        client = Journal(args.journal, role="client")
        try:
            for name in args.names:
                client.add_control("cancel", "name", name)
            if args.tag is not None:
                client.add_control("cancel", "tag", args.tag)
        finally:
            client.close()
        out.print(f"asked the running controller to cancel {len(ids)} task(s)")
        return 0
    with service:
        count = service.cancel(args.names, tag=args.tag)
    out.print(f"cancelled {count} active task(s) of {len(ids)}")
    return 0
