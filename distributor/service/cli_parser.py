"""The service's commands in the ``distributor`` command's parser: ``run --tasks`` options
and ``status``, ``cancel``, ``resume``, ``retry``, ``wait``. Only the parser lives here: the
commands (`distributor.service.cli_commands`) and the service are imported when one runs, so
``distributor --help`` or ``distributor run -- …`` does not pay for them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_run_options", "register"]


def _lazy(name: str) -> Callable[[argparse.Namespace, Any], int]:
    """The command `name` of `distributor.service.cli_commands`, imported when called."""

    def run(args: argparse.Namespace, out: Any) -> int:
        from distributor.service import cli_commands

        command: Callable[[argparse.Namespace, Any], int] = getattr(cli_commands, name)
        return command(args, out)

    run.__name__ = name
    return run


def add_run_options(run: argparse.ArgumentParser) -> None:
    """Add ``--tasks``, ``--journal``, ``--detach``, ``--max-attempts`` and ``--retry-delay``
    to the ``run`` command."""
    run.add_argument("--tasks", type=Path, metavar="FILE",
                     help="run every task of a TOML tasks file (docs/tasks-file.md); "
                     "--cores, --memory, --runtime, --queue, --env, --cwd are defaults for "
                     "its tasks")  # fmt: skip
    run.add_argument("--journal", type=Path, help="with --tasks or --job: the journal "
                     "file (default: FILE.journal.db)")  # fmt: skip
    run.add_argument("--detach", action="store_true", help="with --tasks: print the journal "
                     "path and return; the controller runs in the background")  # fmt: skip
    run.add_argument("--max-attempts", type=int, metavar="N", help="with --tasks: attempts per "
                     "task, for tasks that set none (default 3)")  # fmt: skip
    run.add_argument("--retry-delay", metavar="DURATION", help="with --tasks: wait before "
                     "the first retry (default 10s), doubling for each next one")  # fmt: skip


def register(sub: Any) -> None:
    """Add the ``status``, ``cancel``, ``resume``, ``retry`` and ``wait`` commands."""
    status = sub.add_parser("status", help="show the tasks of a journal")
    status.add_argument("journal", type=Path, help="the journal of a run")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--all", action="store_true", help="every task, not only failures")
    status.set_defaults(func=_lazy("cmd_status"))

    cancel = sub.add_parser("cancel", help="cancel tasks of a journal (by name or tag)")
    cancel.add_argument("journal", type=Path, help="the journal of a run")
    cancel.add_argument("names", nargs="*", help="task names")
    cancel.add_argument("--tag", help="cancel every task carrying this tag")
    cancel.set_defaults(func=_lazy("cmd_cancel"))

    resume = sub.add_parser("resume", help="reattach to a journal and run it to the end")
    resume.add_argument("journal", type=Path, help="the journal of a run")
    _controller_options(resume)
    resume.set_defaults(func=_lazy("cmd_resume"))

    retry = sub.add_parser("retry", help="run failed tasks of a journal again",
                           description="Run failed tasks again (and the tasks cancelled because "
                           "they failed), leaving the tasks that ended done alone. Attempt "
                           "numbers go on; each task gets its max_attempts again.")  # fmt: skip
    retry.add_argument("journal", type=Path, help="the journal of a run")
    retry.add_argument("names", nargs="*", help="task names (failed or cancelled ones)")
    retry.add_argument("--failed", action="store_true", help="every failed task")
    _controller_options(retry)
    retry.set_defaults(func=_lazy("cmd_retry"))

    wait = sub.add_parser("wait", help="wait until a journal's run ends; 0 if all done",
                          description="Block until every task of the journal has ended (a "
                          "background controller runs it), then print what `status` prints. "
                          "Status 0 only if every task ended done; 124 if --timeout passed "
                          "first (the run goes on).")  # fmt: skip
    wait.add_argument("journal", type=Path, help="the journal of a run")
    wait.add_argument("--timeout", metavar="DURATION", help="give up after this long "
                      "(30s, 10m, 2h or seconds): print the status so far, exit 124")  # fmt: skip
    wait.add_argument("--json", action="store_true", help="machine-readable output")
    wait.add_argument("--all", action="store_true", help="every task, not only failures")
    wait.set_defaults(func=_lazy("cmd_wait"))


def _controller_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detach", action="store_true",
                        help="return at once; the controller runs in the background")  # fmt: skip
    parser.add_argument("--parallelism", type=int, metavar="N",
                        help="local backend: at most N cores' worth of tasks at once")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON summary")
    parser.add_argument("--all", action="store_true", help="every task, not only failures")
