"""The ``distributor`` command: run commands on any cluster, follow them, list and check
plugins and the configured clusters (`distributor.config`).

Bad input (unknown cluster, impossible resources, empty command, an unwritable directory)
prints one line on stderr and exits with status 2; ``run`` exits 0 only if every task ends
``D``; Ctrl-C, SIGTERM and SIGHUP terminate what ``run`` started and say so (status 128 + the
signal: 130, 143, 129); a closed output pipe ends it quietly.
"""

from __future__ import annotations

# PYTHON_ARGCOMPLETE_OK  (argcomplete: this module completes the command's words)
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
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from distributor import interrupts
from distributor.config import ClusterConfig, load_config
from distributor.dashboard import cli_parser as dashboard_parser
from distributor.exceptions import DistributorError, RemoteExitInfoNotAvailable
from distributor.exit_info import RemoteExitInfo, TaskInstanceStatus, normalize_exit_info
from distributor.jobs import cli_parser as jobs_parser
from distributor.paths import checks_dir
from distributor.plugin import Plugin
from distributor.protocols import (
    ClusterDistributor,
    ClusterQueue,
    SupportsResults,
    SupportsRunningQuery,
    SupportsTaskOutcome,
    SupportsWaitForChange,
)
from distributor.registry import available_plugins, inspect_plugins
from distributor.report import Outcome, print_log, render
from distributor.service import cli_parser as service_parser
from distributor.service.batching import in_directory

__all__ = ["main"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a command whose reader went away


class UsageError(Exception):
    """Input the user must fix; reported as one line on stderr with status 2."""


def _configure_logging(verbosity: int) -> None:
    """The library's events on stderr through the standard ``logging`` (structlog stays
    unimported): warnings, ``-v`` info, ``-vv`` debug, one line each with the bound ids."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logger = logging.getLogger("distributor")
    for old in [h for h in logger.handlers if getattr(h, "distributor_cli", False)]:
        logger.removeHandler(old)  # main() run again in one process (tests)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s [%(levelname)-7s] %(message)s", "%H:%M:%S"))
    handler.distributor_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)


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


def _cluster(name: str) -> ClusterConfig:
    """A configured cluster, else an installed plugin by name (`distributor.config`)."""
    return load_config().resolve(name)


def _resources(
    args: argparse.Namespace, cluster: ClusterConfig, queue: ClusterQueue | None
) -> dict[str, Any]:
    """The options' resources over the cluster's defaults, checked by the queue."""
    requested = cluster.resources(
        {"cores": args.cores, "memory": args.memory, "runtime": args.runtime, "queue": args.queue}
    )
    if queue is None:
        return requested
    valid, message = queue.validate_resources(strict=True, **requested)
    if not valid:
        raise UsageError(message)
    return queue.coerce_resources(**requested)


def _command(args: argparse.Namespace) -> tuple[str, str]:
    """The shell text to run and the default task name: the words after ``--`` are an argv
    (quoted word by word), ``--shell LINE`` a shell line."""
    words = list(args.command)
    if words[:1] == ["--"]:
        words = words[1:]
    if args.shell is not None:
        if words:
            raise UsageError("give either --shell LINE or -- COMMAND [ARGS...], not both")
        if not args.shell.strip():
            raise UsageError("--shell: the line is empty")
        return args.shell, "sh"
    if not words or not words[0]:
        raise UsageError("no command given: put it after --, e.g. distributor run -- echo hi")
    return shlex.join(words), os.path.basename(words[0])[:64] or "task"


def cmd_run(args: argparse.Namespace, out: Console) -> int:
    """Submit a command (or an array of it), show progress, then what did not end ``D``."""
    if args.job is not None:
        from distributor.jobs.command import cmd_run_job

        return cmd_run_job(args, out)
    if args.global_job_limit is not None:
        raise UsageError("--global-job-limit goes with --job FILE")
    if args.tasks is not None:
        if args.command[1:] or (args.command and args.command != ["--"]) or args.shell:
            raise UsageError("give either --tasks FILE or a command, not both")
        from distributor.service import cli_commands

        return cli_commands.cmd_run_tasks(args, out)
    if args.journal is not None:
        raise UsageError("--journal goes with --tasks FILE")
    text, default_name = _command(args)
    if args.array is not None and args.array < 1:
        raise UsageError(f"--array must be at least 1, not {args.array}")
    cluster = _cluster(args.cluster)
    plugin, _ = cluster.load()
    overrides: dict[str, Any] = {}
    if args.parallelism is not None:
        if args.parallelism < 1:
            raise UsageError(f"--parallelism must be at least 1, not {args.parallelism}")
        if not _accepts(plugin.distributor, "parallelism"):
            raise UsageError(f"--parallelism: cluster {cluster.name!r} ({plugin.name}) has none")
        overrides["parallelism"] = args.parallelism
    queue = _make_queue(plugin, args.queue or cluster.defaults.get("queue"))
    resources = _resources(args, cluster, queue)
    distributor = cluster.distributor(**overrides)
    text = _with_context(text, args.env, args.cwd)
    name = args.name or default_name
    tracked: list[_Tracked] = []
    distributor.start()
    try:
        try:
            with interrupts.interruptible():
                if args.array is None:
                    did = distributor.submit_to_batch_distributor(text, name, resources)
                    tracked.append(_Tracked(did, None))
                else:
                    steps = distributor.submit_array_to_batch_distributor(
                        text, name, resources, args.array
                    )
                    tracked.extend(_Tracked(did, step) for step, did in sorted(steps.items()))
                _follow(distributor, tracked, name, quiet=args.json)
        except KeyboardInterrupt as exc:
            signum = exc.signum if isinstance(exc, interrupts.Interrupted) else 2
            return _interrupted(distributor, tracked, name, signum, args, out)
        outcomes = _outcomes(distributor, tracked, name)
    finally:
        distributor.stop()
    _report(outcomes, args, out)
    return (
        0 if all(t.info and t.info.error_state == TaskInstanceStatus.DONE for t in tracked) else 1
    )


def _interrupted(
    distributor: ClusterDistributor,
    tracked: list[_Tracked],
    name: str,
    signum: int,
    args: argparse.Namespace,
    out: Console,
) -> int:
    """Terminate what has not ended, say so, and (``--json``) still write the summary, the
    terminated tasks as ``K``. A further signal meanwhile says what is going on."""
    unfinished = [t for t in tracked if t.info is None]
    signame = interrupts.Interrupted(signum).name

    def notice(again: int) -> None:
        print(f"distributor run: still terminating {len(unfinished)} task(s); please wait",
              file=sys.stderr)  # fmt: skip

    with interrupts.deferred(notice):
        if unfinished:
            distributor.terminate_task_instances([t.distributor_id for t in unfinished])
        reason = f"terminated by distributor run ({signame})"
        for task in unfinished:
            task.info = RemoteExitInfo(TaskInstanceStatus.KILLED_SELF, reason)
        print(f"interrupted ({signame}): terminated {len(unfinished)} unfinished task(s) "
              f"of {len(tracked)}", file=sys.stderr)  # fmt: skip
        if args.json:
            _report(_outcomes(distributor, tracked, name), args, out)
    return interrupts.exit_status(signum)


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


def _follow(
    distributor: ClusterDistributor, tracked: list[_Tracked], name: str, *, quiet: bool
) -> None:
    """Poll until every task has final exit info, drawing a progress bar named after the
    task on stderr."""
    console = Console(stderr=True, quiet=quiet)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[counts]}"),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=False) as progress:
        label = name if len(tracked) == 1 else f"{name}[{len(tracked)}]"
        bar = progress.add_task(escape(label), total=len(tracked), counts="")
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
            if isinstance(distributor, SupportsWaitForChange):
                distributor.wait_for_change(interval)  # news ends the pause at once
            else:
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
        from distributor.service import cli_commands

        return cli_commands.cmd_logs(args, out)
    cluster = _cluster(args.cluster)
    distributor = cluster.distributor()
    if not isinstance(distributor, SupportsTaskOutcome):
        raise UsageError(f"cluster {cluster.name!r} cannot say where a task's output is")
    stdout, stderr = distributor.log_paths(args.id)
    path = stderr if args.stderr and stderr is not None else stdout

    def active() -> bool:
        return args.id in distributor.get_submitted_or_running([args.id])

    files = getattr(getattr(distributor, "submit_root", None), "files", None)
    if getattr(files, "remote", False) and isinstance(distributor, SupportsResults):
        from distributor.cli_remote import print_remote_log  # the log is on the cluster

        return print_remote_log(distributor, args.id, path, tail_lines=args.tail,
                                follow=args.follow, active=active)  # fmt: skip
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


@contextlib.contextmanager
def _scratch_submit_root() -> Iterator[str]:
    """A fresh submit root under `distributor.paths.checks_dir`, removed with everything in
    it afterwards (and the checks directory too, when no other check uses it)."""
    root = checks_dir()
    root.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="root-", dir=root) as submit_root:
            yield submit_root
    finally:
        with contextlib.suppress(OSError):
            root.rmdir()


def _accepts(factory: object, option: str) -> bool:
    """Whether `factory`'s signature names `option` (a keyword it accepts)."""
    try:
        return option in inspect.signature(factory).parameters  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def cmd_check(args: argparse.Namespace, out: Console) -> int:
    """Run the live conformance checks against a configured cluster or an installed plugin;
    print a pass/fail table. A batch plugin's task directories go to a scratch submit root
    under `distributor.paths.checks_dir` (in the home directory, which compute nodes share),
    the local backend's state to a scratch directory: both are removed afterwards."""
    from distributor.testing.checks import ConformanceTarget, run_live_checks

    configured = _cluster(args.plugin)
    plugin, configured_options = configured.load()
    cluster = args.cluster or configured.name
    options = dict(configured_options)
    # Arrays longer than the chunk size are checked with small chunks where the plugin lets
    # them be chosen (every batch plugin has `max_array_size`).
    if _accepts(plugin.distributor, "max_array_size"):
        options["max_array_size"] = 2
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="distributor-check-"))
        stack.enter_context(_local_state_in(scratch))
        where: dict[str, Any] = {"scratch": Path(scratch) / "shared"}
        if "transport" in options:  # a cluster behind SSH: scratch space on its side
            from distributor.cli_remote import remote_check_space

            where.update(remote_check_space(stack, options))
        if _accepts(plugin.distributor, "submit_root") and "submit_root" not in options:
            options["submit_root"] = stack.enter_context(_scratch_submit_root())
        target = ConformanceTarget(
            plugin=plugin,
            make_distributor=lambda: plugin.distributor(cluster, **options),
            make_queue=lambda: plugin.queue(1, args.queue or plugin.name, {}),
            timeout=args.timeout,
            chunk_size=2 if "max_array_size" in options else None,
            **where,
        )
        results = run_live_checks(target)
    table = Table("check", "result", "seconds", "error")
    for r in results:
        mark = "[green]pass[/]" if r.passed else "[red]FAIL[/]"
        table.add_row(r.name, mark, f"{r.seconds:.1f}", r.error)
    out.print(table)
    return 0 if all(r.passed for r in results) else 1


# -- clusters --------------------------------------------------------------------------------


def cmd_clusters(args: argparse.Namespace, out: Console) -> int:
    """List the configured clusters with where each was defined, and the installed plugins
    that ``--cluster`` also accepts by name."""
    config = load_config()
    plugins = available_plugins()
    if args.json:
        payload = {
            "files": [str(path) for path in config.files],
            "clusters": [c.to_json() for c in config.clusters.values()],
            "plugins": sorted(plugins),
        }
        print(json.dumps(payload, indent=2))
        return 0
    table = Table("cluster", "plugin", "options", "defaults", "defined in")
    for c in config.clusters.values():
        options = " ".join(f"{k}={v!r}" for k, v in c.options.items())
        defaults = " ".join(f"{k}={v}" for k, v in c.defaults.items())
        installed = "" if c.plugin in plugins else " [red](not installed)[/]"
        table.add_row(c.name, c.plugin + installed, options, defaults, c.where)
    for name in sorted(set(plugins) - set(config.clusters)):
        table.add_row(name, name, "", "", "installed plugin, by name")
    out.print(table)
    if not config.files:
        print("no configuration file: see `distributor clusters --help`", file=sys.stderr)
    return 0


# -- entry point -----------------------------------------------------------------------------


class _ArgumentError(Exception):
    """argparse's complaint, reported as one line (see `_Parser.error`)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with errors as one line and status 2 instead of usage text."""

    def error(self, message: str) -> NoReturn:
        raise _ArgumentError(f"{self.prog}: error: {message}")


_VALUE_OPTIONS = frozenset({"--memory", "--runtime", "--cores", "--array", "--parallelism"})


def _join_negative_values(argv: Sequence[str]) -> list[str]:
    """``--memory -5G`` → ``--memory=-5G``: argparse takes ``-5G`` for an option, and the
    resource validator should say what is wrong with it."""
    joined: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--":
            joined.append(word)
            joined.extend(words)
            break
        joined.append(word)
        if word in _VALUE_OPTIONS:
            value = next(words, None)
            if value is not None and value.startswith("-") and value != "--":
                joined[-1] = f"{word}={value}"
            elif value is not None:
                joined.append(value)
    return joined


def _complete_clusters(**_: Any) -> list[str]:
    """Shell completion of ``--cluster``: configured clusters and installed plugins."""
    try:
        return sorted({*load_config().clusters, *available_plugins()})
    except DistributorError:
        return sorted(available_plugins())


def _cluster_option(parser: argparse.ArgumentParser, what: str) -> None:
    action = parser.add_argument(
        "--cluster",
        default="local",
        metavar="NAME",
        help=f"{what}: a configured cluster or a plugin name (default: local)",
    )
    action.completer = _complete_clusters  # type: ignore[attr-defined]


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="distributor",
        description="Run commands on any cluster and follow them; list and check plugins "
        "and the configured clusters.",
        epilog="Clusters are configured in $XDG_CONFIG_HOME/distributor/config.toml and "
        "./distributor.toml (see `distributor clusters`).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output on stderr (-vv: debug)")  # fmt: skip
    sub = parser.add_subparsers(dest="cmd", metavar="COMMAND")

    plugins = sub.add_parser("plugins", help="list installed plugins")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.set_defaults(func=cmd_plugins)

    clusters = sub.add_parser(
        "clusters", help="list the configured clusters and where each is defined"
    )
    clusters.add_argument("--json", action="store_true", help="machine-readable output")
    clusters.set_defaults(func=cmd_clusters)

    run = sub.add_parser(
        "run",
        help="run a command and wait for it",
        description="Run a command on a cluster and wait for it. The words after -- are the "
        "command and its arguments, passed as they are (no shell): `-- sh -c 'a | b'` for a "
        "pipeline, or --shell 'LINE'.",
    )
    _cluster_option(run, "where to run")
    run.add_argument("--queue", help="queue / partition (default: the cluster's)")
    run.add_argument("--cores", type=int, help="cores per task")
    run.add_argument("--memory", help="memory per task, e.g. 512M, 4G")
    run.add_argument("--runtime", help="runtime limit, e.g. 90s, 10m, 2h, 1:30:00")
    run.add_argument("--array", type=int, help="run N steps; each sees DISTRIBUTOR_ARRAY_STEP_ID")
    run.add_argument("--name", help="task name (default: the program's name)")
    run.add_argument("--parallelism", type=int, metavar="N",
                     help="local backend: at most N cores' worth of tasks at once")  # fmt: skip
    run.add_argument("--json", action="store_true", help="print one JSON summary, no progress")
    run.add_argument("--all", action="store_true", help="a table of every task, not only failures")
    run.add_argument("--env", action="append", metavar="NAME=VALUE", help="set a variable")
    run.add_argument("--cwd", help="directory the command runs in (default: this one)")
    run.add_argument("--shell", metavar="LINE", help="run LINE with /bin/sh instead of an argv")
    run.add_argument("command", nargs=argparse.REMAINDER,
                     help="-- COMMAND [ARGS...]: an argv, never a shell line")  # fmt: skip
    service_parser.add_run_options(run)
    jobs_parser.add_run_options(run)
    run.set_defaults(func=cmd_run)

    logs = sub.add_parser("logs", help="print a task's output")
    logs.add_argument("id", help="distributor id (or, with --journal, a task name)")
    _cluster_option(logs, "the cluster of the id")
    logs.add_argument("--journal", type=Path, help="a service journal: ID is a task name")
    logs.add_argument("--attempt", type=int, help="with --journal: which attempt (default last)")
    logs.add_argument("--stderr", action="store_true", help="the stderr log, where separate")
    logs.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
    logs.add_argument("--follow", "-f", action="store_true", help="keep writing until it ends")
    logs.set_defaults(func=cmd_logs)

    from distributor import cli_remote  # results and peek: a task's files

    cli_remote.register(sub, _cluster_option)

    check = sub.add_parser("check", help="run the live conformance checks against a plugin")
    check.add_argument("plugin", metavar="CLUSTER", help="a configured cluster or a plugin name")
    check.add_argument("--cluster", help="cluster name passed to the distributor")
    check.add_argument("--queue", help="queue to check against (default: the plugin's name)")
    check.add_argument("--timeout", type=float, default=300.0, help="seconds per task")
    check.set_defaults(func=cmd_check)
    service_parser.register(sub)
    dashboard_parser.register(sub)
    for command in sub.choices.values():  # -v after the command too (`distributor run -v`)
        if not any("-v" in action.option_strings for action in command._actions):
            command.add_argument(
                "-v",
                "--verbose",
                dest="sub_verbose",
                action="count",
                default=0,
                help="more log output on stderr (-vv: debug)",
            )
    return parser


def _version() -> str:
    from distributor import __version__

    return str(__version__)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``distributor`` console script."""
    parser = _parser()
    with contextlib.suppress(ImportError):  # completion: only when the shell asks
        import argcomplete

        argcomplete.autocomplete(parser)
    words = _join_negative_values(sys.argv[1:] if argv is None else argv)
    if not words:
        parser.print_help()
        return 0
    try:
        args = parser.parse_args(words)
    except _ArgumentError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    if args.cmd is None:
        parser.print_help()
        return 0
    _configure_logging(args.verbose + getattr(args, "sub_verbose", 0))
    out = Console()
    try:
        with interrupts.interruptible():
            status: int = args.func(args, out)
    except interrupts.Interrupted as exc:
        print(f"distributor {args.cmd}: interrupted ({exc.name})", file=sys.stderr)
        return interrupts.exit_status(exc.signum)
    except (UsageError, DistributorError) as exc:
        print(f"distributor {args.cmd}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:  # an unwritable or missing directory the user named or owns
        where = f": {exc.filename}" if exc.filename else ""
        print(f"distributor {args.cmd}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USAGE
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    return status


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's own flush at exit is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    raise SystemExit(main())
