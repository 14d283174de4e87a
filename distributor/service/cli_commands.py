"""The service on the command line: ``run --tasks``, ``status``, ``cancel``, ``resume``,
``retry`` and ``wait``.

`distributor.cli` wires these in (`add_run_options`, `register`); they are kept here, beside the
service, so the CLI module stays one screen per command. The tasks file is described in
``docs/tasks-file.md`` and read by `distributor.service.tasks_file.load_tasks`.

The journal (default: ``<tasks file>.journal.db`` beside it) makes a run resumable: running the
same file again, or ``distributor resume JOURNAL``, reattaches to everything in flight. With
``--detach`` the controller runs in the background (`distributor.service.background`) and
``distributor wait JOURNAL`` waits for it. Requests to a running controller (``cancel``,
``retry``) go through the journal; whoever controls it next carries them out.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from distributor.config import ClusterConfig, load_config
from distributor.report import Outcome, print_log, render, state_word
from distributor.service.background import controller_running, detach, log_path
from distributor.service.config import Cluster
from distributor.service.errors import (
    JournalLockedError,
    NothingMatchedError,
    OptionError,
    TaskSpecError,
    UnknownTaskError,
)
from distributor.service.events import AttemptOutcome
from distributor.service.journal import Journal
from distributor.service.model import AttemptInfo, TaskInfo, TaskStatus, parse_delay
from distributor.service.service import Service
from distributor.service.tasks_file import load_tasks

__all__ = [
    "cancel_tasks",
    "cmd_cancel",
    "cmd_logs",
    "cmd_resume",
    "cmd_retry",
    "cmd_run_tasks",
    "cmd_status",
    "cmd_wait",
    "load_tasks",
]

EXIT_INTERRUPTED = 130
EXIT_WAIT_TIMEOUT = 124
"""`distributor wait --timeout` gave up (as coreutils' timeout)."""
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HANDOVER_TIMEOUT = 120.0
"""How long ``retry`` waits for a running controller to take its request before leaving it
in the journal for that controller (or the next one) to carry out."""


def _cluster(name: str, parallelism: int | None = None) -> Cluster:
    """The one place a ``--cluster`` value — a configured cluster, else a plugin name
    (`distributor.config`) — becomes a `Cluster`, with the configuration's options and
    default resources."""
    return _service_cluster(load_config().resolve(name), parallelism)


def _service_cluster(config: ClusterConfig, parallelism: int | None) -> Cluster:
    options: dict[str, Any] = {}
    if parallelism is not None:
        if config.plugin != "local":
            raise OptionError(
                "--parallelism", f"only the local backend has it, not {config.name!r}"
            )
        if parallelism < 1:
            raise OptionError("--parallelism", f"must be at least 1, not {parallelism}")
        options["parallelism"] = parallelism
    return config.service_cluster(options)


def _clusters(names: list[str], parallelism: int | None = None) -> list[Cluster]:
    """The clusters of a journal's tasks (the configuration read once); `parallelism` goes
    to the local ones."""
    config = load_config()
    clusters = []
    for name in names or ["local"]:
        resolved = config.resolve(name)
        local = parallelism is not None and resolved.plugin == "local"
        clusters.append(_service_cluster(resolved, parallelism if local else None))
    return clusters


# -- run --tasks -------------------------------------------------------------------------------


def _run_defaults(args: argparse.Namespace) -> dict[str, Any]:
    """The options that are defaults for the tasks of a tasks file.

    Raises:
        OptionError: an option that has no meaning with ``--tasks``, or a bad value.
    """
    for option, value in (("--array", args.array), ("--name", args.name)):
        if value is not None:
            raise OptionError(option, "cannot be used with --tasks: a tasks file names its "
                              "tasks and sets `array` per task")  # fmt: skip
    defaults: dict[str, Any] = {
        key: value
        for key, value in (("cores", args.cores), ("memory", args.memory),
                           ("runtime", args.runtime), ("queue", args.queue))
        if value is not None
    }  # fmt: skip
    if args.max_attempts is not None:
        if not 1 <= args.max_attempts <= 100:
            raise OptionError("--max-attempts", f"must be from 1 to 100, not {args.max_attempts}")
        defaults["max_attempts"] = args.max_attempts
    if args.retry_delay is not None:
        try:
            defaults["retry_delay"] = parse_delay(args.retry_delay)
        except ValueError as exc:
            raise OptionError("--retry-delay", str(exc)) from None
    env: dict[str, str] = {}
    for pair in getattr(args, "env", None) or ():
        name, sep, value = pair.partition("=")
        if not sep or not _ENV_NAME.match(name):
            raise OptionError("--env", f"{pair!r}: give NAME=VALUE with NAME a shell identifier")
        env[name] = value
    if env:
        defaults["env"] = env
    if getattr(args, "cwd", None) is not None:
        defaults["cwd"] = os.path.abspath(args.cwd)
    return defaults


def cmd_run_tasks(args: argparse.Namespace, out: Console) -> int:
    """Run a tasks file through the service; 0 only if every task ends done (``--detach``:
    print the journal and return 0 once the background controller has it)."""
    defaults = _run_defaults(args)
    tasks = load_tasks(args.tasks, defaults)
    journal = args.journal or args.tasks.with_name(args.tasks.name + ".journal.db")
    parallelism = getattr(args, "parallelism", None)
    with Service(journal, _cluster(args.cluster or "local", parallelism)) as service:
        service.add(tasks)
        if not args.detach:
            return _drive(service, args, out)
    return _background(journal, parallelism)


def _background(journal: Path, parallelism: int | None) -> int:
    """Hand the journal to a background controller; print its path."""
    options = [] if parallelism is None else ["--parallelism", str(parallelism)]
    pid = detach(journal, options)
    print(journal.absolute())
    print(f"the controller runs in the background (pid {pid}, output in "
          f"{log_path(journal.absolute())}); wait for it with: distributor wait {journal}",
          file=sys.stderr)  # fmt: skip
    return 0


# -- resume, retry, wait -----------------------------------------------------------------------


def _journal_clusters(journal: Path) -> list[str]:
    client = Journal(journal, role="client")
    try:
        return client.active_clusters()
    finally:
        client.close()


def cmd_resume(args: argparse.Namespace, out: Console) -> int:
    """Reattach to a journal (its clusters are loaded as plugins of the same name) and finish
    (``--detach``: in the background)."""
    clusters = _clusters(_journal_clusters(args.journal), args.parallelism)
    with Service(args.journal, clusters) as service:
        if not args.detach:
            return _drive(service, args, out)
    return _background(args.journal, args.parallelism)


def cmd_retry(args: argparse.Namespace, out: Console) -> int:
    """Ask for failed tasks to run again, then make sure a controller carries it out: the
    running one, else this process (``--detach``: a background one)."""
    if not args.names and not args.failed:
        raise OptionError("retry", "give task names or --failed")
    client = Journal(args.journal, role="client")
    try:
        try:
            chosen = client.retry_selection(args.names, failed=args.failed)
        except UnknownTaskError as exc:
            raise NothingMatchedError(args.journal, f"task name {exc.task!r}") from None
        if not chosen:
            print(f"nothing to retry: no task of {args.journal} failed", file=sys.stderr)
            return 0
        if args.failed:
            requests = [client.add_control("retry", "failed", "")]
        else:
            requests = [client.add_control("retry", "name", name) for name in args.names]
    finally:
        client.close()
    shown = ", ".join(list(chosen)[:10]) + (", …" if len(chosen) > 10 else "")
    print(f"retrying {len(chosen)} task(s): {shown}", file=sys.stderr)
    if _handed_over(args.journal, requests):
        print("the running controller has the request; wait for it with: "
              f"distributor wait {args.journal}", file=sys.stderr)  # fmt: skip
        return 0
    return cmd_resume(args, out)  # its first cycle carries out the request


def _handed_over(journal: Path, requests: list[int]) -> bool:
    """True once a running controller has taken `requests`, or is still running after
    `_HANDOVER_TIMEOUT` (it will take them); False when no controller runs the journal."""
    deadline = time.monotonic() + _HANDOVER_TIMEOUT
    pause = 0.05
    while controller_running(journal):
        client = Journal(journal, role="client")
        try:
            pending = {request.id for request in client.pending_controls()}
        finally:
            client.close()
        if pending.isdisjoint(requests) or time.monotonic() > deadline:
            return True
        time.sleep(pause)
        pause = min(pause * 1.5, 1.0)
    return False


def cmd_wait(args: argparse.Namespace, out: Console) -> int:
    """Block until every task of the journal ended (and no request waits), then report like
    ``status``; 0 only if every task ended done. With ``--timeout``: report what is known when
    it passes and return `EXIT_WAIT_TIMEOUT`; the run goes on."""
    deadline = None
    if args.timeout is not None:
        try:
            deadline = time.monotonic() + parse_delay(args.timeout)
        except ValueError as exc:
            raise OptionError("--timeout", str(exc)) from None
    pause = 0.05
    gone = 0
    while True:
        client = Journal(args.journal, role="client")
        try:
            active = client.task_counts().get(TaskStatus.ACTIVE.value, 0)
            pending = len(client.pending_controls())
        finally:
            client.close()
        if not active and not pending:
            break
        if controller_running(args.journal):
            gone = 0
        else:
            gone += 1  # a controller may be handing over to another: look again before saying so
            if gone > 3:
                print(f"distributor wait: no controller runs {args.journal} ({active} task(s) "
                      f"active); continue it with: distributor resume {args.journal}",
                      file=sys.stderr)  # fmt: skip
                return 2
        if deadline is not None and time.monotonic() >= deadline:
            _show(args.journal, args, out)
            print(f"distributor wait: {active} task(s) still active after {args.timeout}; "
                  f"the run goes on (wait again, or: distributor status {args.journal})",
                  file=sys.stderr)  # fmt: skip
            return EXIT_WAIT_TIMEOUT
        pause_for = pause if not gone else 0.5
        if deadline is not None:
            pause_for = max(0.0, min(pause_for, deadline - time.monotonic()))
        time.sleep(pause_for)
        pause = min(pause * 1.5, 1.0)
    return 0 if _show(args.journal, args, out) else 1


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
                          owner=info.owner, cluster=info.cluster,
                          waiting_for=list(info.waiting_for),
                          next_attempt_at=info.next_attempt_at)  # fmt: skip
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
        jobs = {"jobs": [job.to_json() for job in _jobs(infos)]} if _jobs(infos) else {}
        print(json.dumps({"journal": str(journal), "tasks": tasks, **jobs}, indent=2))
        return
    render(shown, out, show_all=getattr(args, "all", False))
    for job in _jobs(infos):  # tasks of `distributor run --job`: one line per job
        out.print(job.line(), highlight=False, soft_wrap=True)
    active = _active_line(infos, time.time())
    if active is not None:
        out.print(active, highlight=False, soft_wrap=True)


def _jobs(infos: list[TaskInfo]) -> list[Any]:
    """The jobs (`distributor.jobs`) the tasks belong to, summarised per job."""
    from distributor.jobs.status import job_summaries

    return list(job_summaries(infos))


def cmd_status(args: argparse.Namespace, out: Console) -> int:
    """Print the tasks of a journal (read-only; works while a controller runs)."""
    _show(args.journal, args, out)
    return 0


def _show(path: Path, args: argparse.Namespace, out: Console) -> bool:
    """Print the tasks of a journal; True if every task ended done."""
    journal = Journal(path, role="client")
    try:
        infos = journal.task_infos()
        attempts = journal.attempts() if args.json else {}
    finally:
        journal.close()
    _report(infos, attempts, path, args, out)
    return all(info.status == TaskStatus.DONE for info in infos)


def _active_line(infos: list[TaskInfo], now: float) -> str | None:
    """``active: 2 waiting for dependencies, 1 waiting to retry (next at 12:03:04), 1 running``."""
    counts: dict[str, int] = {}
    next_retry: float | None = None
    for info in infos:
        if info.terminal:
            continue
        if info.waiting_for:
            what = "waiting for dependencies"
        elif info.next_attempt_at is not None and info.next_attempt_at > now:
            what = "waiting to retry"
            next_retry = min(next_retry or info.next_attempt_at, info.next_attempt_at)
        else:
            what = state_word(info.instance_status.value if info.instance_status else None)
        counts[what] = counts.get(what, 0) + 1
    if not counts:
        return None
    parts = []
    for what, count in counts.items():
        if what == "waiting to retry" and next_retry is not None:
            what += f" (next at {time.strftime('%H:%M:%S', time.localtime(next_retry))})"
        parts.append(f"{count} {what}")
    return "active: " + ", ".join(parts)


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
    """Cancel tasks: through the running controller if there is one, else directly. A name
    or a tag that matches no task is an error (status 2), like an unknown name."""
    if not args.names and args.tag is None:
        raise OptionError("cancel", "give task names or --tag")
    out.print(cancel_tasks(args.journal, args.names, args.tag))
    return 0


def cancel_tasks(journal: Path, names: list[str], tag: str | None = None) -> str:
    """Cancel the named tasks and those carrying `tag`: ask the running controller through
    the journal if one runs, else cancel them here (as their controller). Returns what was
    done, in one line (what ``distributor cancel`` prints; the dashboard calls this too).

    Raises:
        NothingMatchedError: a name, or the tag, matches no task.
    """
    client = Journal(journal, role="client")
    try:
        try:
            ids = client.task_ids(names=names)
        except UnknownTaskError as exc:
            raise NothingMatchedError(journal, f"task name {exc.task!r}") from None
        if tag is not None:
            tagged = client.task_ids(tag=tag)
            if not tagged:
                raise NothingMatchedError(journal, f"tag {tag!r}")
            ids.update(tagged)
        clusters = client.active_clusters()
    finally:
        client.close()
    try:
        service = Service(journal, _clusters(clusters))
    except JournalLockedError:
        client = Journal(journal, role="client")
        try:
            for name in names:
                client.add_control("cancel", "name", name)
            if tag is not None:
                client.add_control("cancel", "tag", tag)
        finally:
            client.close()
        return f"asked the running controller to cancel {len(ids)} task(s)"
    with service:
        count = service.cancel(names, tag=tag)
    return f"cancelled {count} active task(s) of {len(ids)}"
