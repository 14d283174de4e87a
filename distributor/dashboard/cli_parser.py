"""The ``dashboard`` and ``report`` commands in the ``distributor`` command's parser. Only the
parser lives here; the commands (`distributor.dashboard.commands`) are imported when one runs,
so the rest of the command never pays for Starlette or uvicorn.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]

DEFAULT_PORT = 8750


def _cmd_dashboard(args: argparse.Namespace, out: Any) -> int:
    from distributor.dashboard.commands import cmd_dashboard

    return cmd_dashboard(args, out)


def _cmd_report(args: argparse.Namespace, out: Any) -> int:
    from distributor.dashboard.commands import cmd_report

    return cmd_report(args, out)


def register(sub: Any) -> None:
    """Add the ``dashboard`` and ``report`` commands."""
    dashboard = sub.add_parser(
        "dashboard",
        help="a live web page of a journal's tasks",
        description="Serve a live web page of a journal: the task table (filtered, sorted, "
        "updated as tasks change), each task's attempts and log, a timeline, counts over time "
        "and progress per owner and tag. It only reads the journal, but for cancel requests. "
        "It listens on 127.0.0.1; on any other address every request needs the token printed "
        "at start. Needs the 'dashboard' extra: pip install 'distributor-core[dashboard]'.",
    )
    dashboard.add_argument("journal", type=Path, help="the journal of a run")
    dashboard.add_argument("--port", type=int, default=DEFAULT_PORT,
                           help=f"TCP port (default {DEFAULT_PORT}; 0: any free one)")  # fmt: skip
    dashboard.add_argument("--host", default="127.0.0.1",
                           help="address to listen on (default 127.0.0.1; another one "
                           "requires the printed token on every request)")  # fmt: skip
    dashboard.set_defaults(func=_cmd_dashboard)

    report = sub.add_parser(
        "report",
        help="write a journal's summary, timeline and usage plots as one HTML file",
        description="Write one self-contained HTML file (no script, nothing fetched) with a "
        "run's summary, counts over time, timeline of attempts, progress per owner and tag, "
        "and the peak memory and CPU of tasks against their request.",
    )
    report.add_argument("journal", type=Path, help="the journal of a run")
    report.add_argument("-o", "--output", type=Path,
                        help="the HTML file (default: JOURNAL.html beside it)")  # fmt: skip
    report.set_defaults(func=_cmd_report)
