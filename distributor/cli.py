"""The ``distributor`` command: list plugins, run commands on any backend, check a plugin.

Bad input (unknown plugin, impossible resources, empty command) prints one line on stderr and
exits with status 2; ``run`` exits 0 only if every task ends ``D``; Ctrl-C terminates what
``run`` started and says so (status 130).
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import logging
import os
import re
import shlex
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from distributor.exceptions import DistributorError, RemoteExitInfoNotAvailable
from distributor.exit_info import RemoteExitInfo, TaskInstanceStatus, normalize_exit_info
from distributor.plugin import Plugin
from distributor.protocols import (
    ClusterDistributor,
    ClusterQueue,
    SupportsRunningQuery,
    SupportsTaskOutcome,
)
from distributor.registry import inspect_plugins, load_plugin
from distributor.report import Outcome, print_log, render
from distributor.service import cli_commands as service_commands
from distributor.service.batching import in_directory
from distributor.testing.checks import ConformanceTarget, run_live_checks

__all__ = ["main"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Input the user must fix; reported as one line on stderr with status 2."""


def _configure_logging(verbosity: int) -> None:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


# -- plugins ---------------------------------------------------------------------------------


def cmd_plugins(args: argparse.Namespace, out: Console) -> int:
    """List installed plugins, with the reason for each broken one."""
    statuses = inspect_plugins()
    if args.json:
        listing = [
            {
                "name": s.name,
                "state": s.state,
                "description": s.description,
                "reason": s.reason,
                "distributions": [
                    {"name": i.distribution, "version": i.version, "entry_point": i.value}
                    for i in s.info
                ],
            }
            for s in statuses
        ]
        print(json.dumps(listing, indent=2))
        return 0
    table = Table("plugin", "state", "distribution", "description / reason")
    for s in statuses:
        dists = ", ".join(f"{i.distribution} {i.version}" for i in s.info)
        style = "green" if s.state == "ok" else "red"
        table.add_row(s.name, f"[{style}]{s.state}[/]", dists, s.description or s.reason)
    out.print(table)
    return 0


# -- run -------------------------------------------------------------------------------------


@dataclass
class _Tracked:
    distributor_id: str
    step: int | None
    info: RemoteExitInfo | None = None


def _make_queue(plugin: Plugin, name: str | None) -> ClusterQueue | None:
    if name is None and plugin.name != "local":
        return None  # the scheduler applies its default queue
    return plugin.queue(1, name or plugin.name, {})


def _resources(args: argparse.Namespace, queue: ClusterQueue | None) -> dict[str, Any]:
    requested = {
        key: value
        for key, value in (
            ("cores", args.cores),
            ("memory", args.memory),
            ("runtime", args.runtime),
        )
        if value is not None
    }
    if args.queue is not None:
        requested["queue"] = args.queue
    if queue is None:
        return requested
    valid, message = queue.validate_resources(strict=True, **requested)
    if not valid:
        raise UsageError(message)
    return queue.coerce_resources(**requested)


def cmd_run(args: argparse.Namespace, out: Console) -> int:
    """Submit a command (or an array of it), show progress, then a table of exit infos."""
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if args.tasks is not None:
        if command:
            raise UsageError("give either --tasks FILE or a command, not both")
        return service_commands.cmd_run_tasks(args, out)
    if args.journal is not None:
        raise UsageError("--journal goes with --tasks FILE")
    if not command or not any(part.strip() for part in command):
        raise UsageError("no command given: put it after --, e.g. distributor run -- echo hi")
    if args.array is not None and args.array < 1:
        raise UsageError(f"--array must be at least 1, not {args.array}")
    plugin = load_plugin(args.cluster)
    queue = _make_queue(plugin, args.queue)
    resources = _resources(args, queue)
    distributor = plugin.distributor(args.cluster)
    text = shlex.join(command) if len(command) > 1 else command[0]
    text = _with_context(text, args.env, args.cwd)
    name = args.name or os.path.basename(command[0])[:64] or "task"
    distributor.start()
    tracked: list[_Tracked] = []
    try:
        if args.array is None:
            did = distributor.submit_to_batch_distributor(text, name, resources)
            tracked.append(_Tracked(did, None))
        else:
            steps = distributor.submit_array_to_batch_distributor(text, name, resources, args.array)
            tracked.extend(_Tracked(did, step) for step, did in sorted(steps.items()))
        _follow(distributor, tracked, quiet=args.json)
        outcomes = _outcomes(distributor, tracked, name)
    except KeyboardInterrupt:
        unfinished = [t.distributor_id for t in tracked if t.info is None]
        distributor.terminate_task_instances(unfinished)
        print(f"interrupted: terminated {len(unfinished)} unfinished task(s) of {len(tracked)}",
              file=sys.stderr)  # fmt: skip
        return EXIT_INTERRUPTED
    finally:
        distributor.stop()
    _report(outcomes, args, out)
    return (
        0 if all(t.info and t.info.error_state == TaskInstanceStatus.DONE for t in tracked) else 1
    )


def _with_context(command: str, env: Sequence[str] | None, cwd: str | None) -> str:
    """`command` with ``--env NAME=VALUE`` exported and run in ``--cwd`` (values quoted: they
    are data, never shell).

    Raises:
        UsageError: a variable is not ``NAME=VALUE`` with a shell identifier, or the directory
            is not absolute.
    """
    exports = []
    for pair in env or ():
        name, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or "\0" in value:
            raise UsageError(f"--env {pair!r}: give NAME=VALUE with NAME a shell identifier")
        exports.append(f"export {name}={shlex.quote(value)}\n")
    if cwd is not None and not cwd.startswith("/"):
        cwd = os.path.abspath(cwd)
    return "".join(exports) + in_directory(command, cwd)


def _follow(distributor: ClusterDistributor, tracked: list[_Tracked], *, quiet: bool) -> None:
    """Poll until every task has final exit info, drawing a progress bar on stderr."""
    console = Console(stderr=True, quiet=quiet)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[counts]}"),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("tasks", total=len(tracked), counts="")
        interval = 0.05
        while True:
            pending = [t for t in tracked if t.info is None]
            active = distributor.get_submitted_or_running([t.distributor_id for t in pending])
            for task in pending:
                if task.distributor_id not in active:
                    task.info = _final_info(distributor, task.distributor_id)
            pending = [t for t in tracked if t.info is None]
            running = 0
            if isinstance(distributor, SupportsRunningQuery):
                running = len(distributor.get_running([t.distributor_id for t in pending]))
            done = sum(1 for t in tracked if t.info and t.info.error_state == "D")
            failed = sum(1 for t in tracked if t.info and t.info.error_state != "D")
            queued = len(pending) - running
            counts = f"queued {queued} · running {running} · done {done} · failed {failed}"
            progress.update(bar, completed=done + failed, counts=counts)
            if not pending:
                return
            time.sleep(interval)
            interval = min(interval * 1.5, 2.0)


def _final_info(distributor: ClusterDistributor, distributor_id: str) -> RemoteExitInfo | None:
    try:
        info = normalize_exit_info(distributor.get_remote_exit_info(distributor_id))
    except RemoteExitInfoNotAvailable:
        return None
    return info if info.finalized else None


def _outcomes(distributor: ClusterDistributor, tracked: list[_Tracked], name: str) -> list[Outcome]:
    """Each task's exit info, usage and logs (where the distributor can tell them)."""
    outcomes = []
    for t in tracked:
        usage = log = stderr_log = None
        if isinstance(distributor, SupportsTaskOutcome):
            usage = distributor.task_usage(t.distributor_id)
            log, stderr_log = distributor.log_paths(t.distributor_id)
        label = name if t.step is None else f"{name}[{t.step}]"
        outcomes.append(
            Outcome(
                name=label,
                distributor_id=t.distributor_id,
                step=t.step,
                state=t.info.error_state.value if t.info else None,
                message=t.info.error_message if t.info else "",
                usage=usage,
                log=log,
                stderr_log=stderr_log,
            )
        )
    return outcomes


def _report(outcomes: list[Outcome], args: argparse.Namespace, out: Console) -> None:
    if args.json:
        payload = {"cluster": args.cluster, "tasks": [o.to_json() for o in outcomes]}
        print(json.dumps(payload, indent=2))
        return
    render(outcomes, out, show_all=args.all)


# -- logs ------------------------------------------------------------------------------------


def cmd_logs(args: argparse.Namespace, out: Console) -> int:
    """Print a task's output: its stdout log (``--stderr``: its stderr), the last ``--tail``
    lines, and with ``--follow`` what it writes until it ends."""
    if args.journal is not None:
        return service_commands.cmd_logs(args, out)
    plugin = load_plugin(args.cluster)
    distributor = plugin.distributor(args.cluster)
    if not isinstance(distributor, SupportsTaskOutcome):
        raise UsageError(f"plugin {plugin.name!r} cannot say where a task's output is")
    stdout, stderr = distributor.log_paths(args.id)
    path = stderr if args.stderr and stderr is not None else stdout

    def active() -> bool:
        return args.id in distributor.get_submitted_or_running([args.id])

    return print_log(path, tail_lines=args.tail, follow=args.follow, active=active)


# -- check -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _local_state_in(scratch: str) -> Iterator[None]:
    """Point the local backend's default state directory at `scratch` (unless the user chose
    one) while the checks run, so they leave nothing in the user's state directory."""
    chosen = os.environ.get("DISTRIBUTOR_LOCAL_STATE_DIR")
    if chosen:
        yield
        return
    os.environ["DISTRIBUTOR_LOCAL_STATE_DIR"] = scratch
    try:
        yield
    finally:
        os.environ.pop("DISTRIBUTOR_LOCAL_STATE_DIR", None)


def _accepts(factory: object, option: str) -> bool:
    """Whether `factory`'s signature names `option` (a keyword it accepts)."""
    try:
        return option in inspect.signature(factory).parameters  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def cmd_check(args: argparse.Namespace, out: Console) -> int:
    """Run the live conformance checks against an installed plugin; print a pass/fail table."""
    plugin = load_plugin(args.plugin)
    cluster = args.cluster or plugin.name
    with (
        tempfile.TemporaryDirectory(prefix="distributor-check-") as scratch,
        _local_state_in(scratch),
    ):
        # Arrays longer than the chunk size are checked with small chunks where the plugin
        # lets them be chosen (every batch plugin has `max_array_size`).
        options = {"max_array_size": 2} if _accepts(plugin.distributor, "max_array_size") else {}
        target = ConformanceTarget(
            plugin=plugin,
            make_distributor=lambda: plugin.distributor(cluster, **options),
            make_queue=lambda: plugin.queue(1, args.queue or plugin.name, {}),
            timeout=args.timeout,
            scratch=Path(scratch) / "shared",
            chunk_size=2 if options else None,
        )
        results = run_live_checks(target)
    table = Table("check", "result", "seconds", "error")
    for r in results:
        mark = "[green]pass[/]" if r.passed else "[red]FAIL[/]"
        table.add_row(r.name, mark, f"{r.seconds:.1f}", r.error)
    out.print(table)
    return 0 if all(r.passed for r in results) else 1


# -- entry point -----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="distributor", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="cmd", required=True)

    plugins = sub.add_parser("plugins", help="list installed plugins")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.set_defaults(func=cmd_plugins)

    run = sub.add_parser("run", help="run a command and wait for it")
    run.add_argument("--cluster", default="local", help="plugin name (default: local)")
    run.add_argument("--queue", help="queue / partition name")
    run.add_argument("--cores", type=int)
    run.add_argument("--memory", help="e.g. 512M, 4G")
    run.add_argument("--runtime", help="e.g. 90s, 10m, 2h, 1:30:00")
    run.add_argument("--array", type=int, help="run N steps; each sees DISTRIBUTOR_ARRAY_STEP_ID")
    run.add_argument("--name", help="task name (default: the program's name)")
    run.add_argument("--json", action="store_true", help="print one JSON summary, no progress")
    run.add_argument("--all", action="store_true", help="a table of every task, not only failures")
    run.add_argument("--env", action="append", metavar="NAME=VALUE", help="set a variable")
    run.add_argument("--cwd", help="directory the command runs in (default: this one)")
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    service_commands.add_run_options(run)
    run.set_defaults(func=cmd_run)

    logs = sub.add_parser("logs", help="print a task's output")
    logs.add_argument("id", help="distributor id (or, with --journal, a task name)")
    logs.add_argument("--cluster", default="local", help="plugin of the id (default: local)")
    logs.add_argument("--journal", type=Path, help="a service journal: ID is a task name")
    logs.add_argument("--attempt", type=int, help="with --journal: which attempt (default last)")
    logs.add_argument("--stderr", action="store_true", help="the stderr log, where separate")
    logs.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
    logs.add_argument("--follow", "-f", action="store_true", help="keep writing until it ends")
    logs.set_defaults(func=cmd_logs)

    check = sub.add_parser("check", help="run the live conformance checks against a plugin")
    check.add_argument("plugin")
    check.add_argument("--cluster", help="cluster name passed to the distributor")
    check.add_argument("--queue", help="queue to check against (default: the plugin's name)")
    check.add_argument("--timeout", type=float, default=300.0, help="seconds per task")
    check.set_defaults(func=cmd_check)
    service_commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``distributor`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    out = Console()
    try:
        status: int = args.func(args, out)
    except (UsageError, DistributorError) as exc:
        print(f"distributor {args.cmd}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return status


if __name__ == "__main__":
    raise SystemExit(main())
