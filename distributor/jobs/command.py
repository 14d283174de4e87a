"""``distributor run --job FILE``: a job file's jobs through a `JobRunner`, with progress.

The journal defaults to ``FILE.journal.db`` beside the file; running the same file again
reattaches to it (nothing is run twice; outputs of subjobs that ended meanwhile are collected).
While it runs, each job has a bar (finished subjobs of all, and how many are in each status)
and each subjob that finishes gets a line; at the end, one line per job and, for the subjobs
that failed, their exit, log and last lines (``--all``: a table of every subjob; ``--json``:
everything, outputs included). Exit status 0 only if every job completed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from distributor import interrupts
from distributor.jobs.job_file import load_jobs
from distributor.jobs.model import Job, JobStatus, SubJob
from distributor.jobs.runner import JobRunner
from distributor.report import Outcome, render
from distributor.service.config import ServiceConfig
from distributor.service.errors import OptionError
from distributor.service.model import TaskInfo, parse_delay

__all__ = ["cmd_run_job"]


def _refuse_others(args: argparse.Namespace) -> None:
    words = [word for word in getattr(args, "command", []) if word != "--"]
    for option, given in (
        ("--tasks", getattr(args, "tasks", None) is not None),
        ("--array", getattr(args, "array", None) is not None),
        ("--name", getattr(args, "name", None) is not None),
        ("--shell", getattr(args, "shell", None) is not None),
        ("--env", bool(getattr(args, "env", None))),
        ("--cwd", getattr(args, "cwd", None) is not None),
        ("--detach", bool(getattr(args, "detach", False))),
        ("a command", bool(words)),
    ):
        if given:
            raise OptionError(option, "cannot be used with --job: the job file says what runs, "
                              "where and with which arguments")  # fmt: skip


def _config(args: argparse.Namespace) -> ServiceConfig:
    config = ServiceConfig()
    if getattr(args, "retry_delay", None) is not None:
        try:
            config = ServiceConfig(retry_delay=parse_delay(args.retry_delay))
        except ValueError as exc:
            raise OptionError("--retry-delay", str(exc)) from None
    return config


def cmd_run_job(args: argparse.Namespace, out: Console) -> int:
    """Run every job of ``args.job``; 0 only if every job completed."""
    from distributor.service.cli_commands import _cluster

    _refuse_others(args)
    attempts = getattr(args, "max_attempts", None)
    if attempts is not None and not 1 <= attempts <= 100:
        raise OptionError("--max-attempts", f"must be from 1 to 100, not {attempts}")
    limit = getattr(args, "global_job_limit", None)
    if limit is not None and limit < 1:
        raise OptionError("--global-job-limit", f"must be at least 1, not {limit}")
    defaults = {key: value for key in ("queue", "cores", "memory", "runtime")
                if (value := getattr(args, key, None)) is not None}  # fmt: skip
    jobs = load_jobs(args.job, defaults)
    journal = args.journal or args.job.with_name(args.job.name + ".journal.db")
    cluster = _cluster(args.cluster or "local", getattr(args, "parallelism", None))
    with JobRunner(journal, cluster, global_job_limit=limit, config=_config(args),
                   max_attempts=attempts) as runner:  # fmt: skip
        runner.submit(jobs)
        try:
            _follow(runner, quiet=args.json)
        except KeyboardInterrupt as exc:
            print(f"interrupted: subjobs keep running; pick them up again with: "
                  f"distributor run --job {args.job}", file=sys.stderr)  # fmt: skip
            if isinstance(exc, interrupts.Interrupted):
                return interrupts.exit_status(exc.signum)
            return 130
        infos = {info.name: info for info in runner.service.tasks(_names(jobs))}
        if args.json:
            payload = {"journal": str(Path(journal).absolute()),
                       "jobs": [_job_json(job, infos, runner.outputs) for job in jobs]}  # fmt: skip
            print(json.dumps(payload, indent=2))
        else:
            _report(jobs, infos, out, show_all=getattr(args, "all", False))
    return 0 if all(job.status is JobStatus.COMPLETED for job in jobs) else 1


def _names(jobs: list[Job]) -> list[str]:
    return [subjob.name for job in jobs for subjob in job.subjobs.values()]


def _counts(job: Job) -> str:
    counts = {status: 0 for status in JobStatus}
    for subjob in job.subjobs.values():
        counts[subjob.status] += 1
    return " · ".join(f"{status.value} {n}" for status, n in counts.items() if n)


def _follow(runner: JobRunner, *, quiet: bool) -> None:
    """Run to the end with a bar per job and a line per finished subjob (stderr)."""
    console = Console(stderr=True, quiet=quiet)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[counts]}"),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=False) as progress:
        bars = {job.name: progress.add_task(f"job {job.name}", total=len(job.subjobs), counts="")
                for job in runner.jobs}  # fmt: skip

        def show(finished: list[SubJob]) -> None:
            for subjob in finished:
                progress.console.print(_subjob_line(runner, subjob), highlight=False,
                                       soft_wrap=True)  # fmt: skip
            for job in runner.jobs:
                done = sum(1 for s in job.subjobs.values() if s.ready())
                progress.update(bars[job.name], completed=done, counts=_counts(job))

        show(runner.update_status())
        while not runner.ready():
            runner.service.wait(_names(runner.jobs), timeout=1.0)
            show(runner.update_status())


def _subjob_line(runner: JobRunner, subjob: SubJob) -> str:
    if subjob.status is JobStatus.COMPLETED:
        outputs = runner.outputs.get(subjob.name, [])
        return f"{subjob.name} completed: {len(outputs)} output(s) in {subjob.output_dir}"
    return f"{subjob.name} failed: {subjob.message}"


def _outcome(subjob: SubJob, info: TaskInfo | None) -> Outcome:
    found = None if info is None else info.outcome
    state = None if info is None or info.instance_status is None else info.instance_status.value
    return Outcome(
        name=subjob.name,
        distributor_id=None if info is None else info.distributor_id,
        step=None if info is None else info.step,
        state=state,
        message=subjob.message or ("" if info is None else info.message),
        usage=None if found is None else found.usage,
        log=None if found is None or found.log is None else Path(found.log),
        stderr_log=None if found is None or not found.stderr_log else Path(found.stderr_log),
    )


def _report(jobs: list[Job], infos: dict[str, TaskInfo], out: Console, *, show_all: bool) -> None:
    for job in jobs:
        out.print(f"job {job.name}: {job.status.value} — {len(job.subjobs)} subjobs: "
                  f"{_counts(job)}; outputs in {job.output_dir}", highlight=False,
                  soft_wrap=True)  # fmt: skip
        subjobs = list(job.subjobs.values())
        if show_all or any(s.status is not JobStatus.COMPLETED for s in subjobs):
            render([_outcome(s, infos.get(s.name)) for s in subjobs], out, show_all=show_all)


def _job_json(job: Job, infos: dict[str, TaskInfo], outputs: dict[str, list[str]]) -> Any:
    return {
        "name": job.name,
        "status": job.status.value,
        "working_dir": str(job.working_dir),
        "output_dir": str(job.output_dir),
        "subjobs": [
            {
                "id": subjob.id,
                "status": subjob.status.value,
                "input_files": subjob.input_files,
                "args": subjob.args,
                "output_dir": str(subjob.output_dir),
                "outputs": outputs.get(subjob.name, []),
                "task": _outcome(subjob, infos.get(subjob.name)).to_json(),
            }
            for subjob in job.subjobs.values()
        ],
    }
