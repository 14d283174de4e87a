"""The ``distributor dashboard`` and ``distributor report`` commands."""

from __future__ import annotations

import argparse
import importlib.util
from typing import Any

from distributor.exceptions import DistributorError
from distributor.service.errors import OptionError

__all__ = ["DashboardUnavailableError", "cmd_dashboard", "cmd_report"]


class DashboardUnavailableError(DistributorError, ImportError):
    """The dashboard's libraries (the ``dashboard`` extra) are not installed.

    Attributes:
        missing: the names of the missing distributions.
    """

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(
            f"the dashboard needs {' and '.join(missing)}, which are not installed: "
            "pip install 'distributor-core[dashboard]'"
        )


def cmd_dashboard(args: argparse.Namespace, out: Any) -> int:
    """Serve the journal's dashboard until interrupted."""
    missing = [name for name in ("starlette", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        raise DashboardUnavailableError(missing)
    if not 0 <= args.port <= 65535:
        raise OptionError("--port", f"must be from 0 to 65535, not {args.port}")
    from distributor.dashboard.server import serve

    serve(args.journal, args.host, args.port)
    return 0


def cmd_report(args: argparse.Namespace, out: Any) -> int:
    """Write the journal's report; print its path."""
    from distributor.dashboard.html_report import write_report

    output = args.output or args.journal.with_name(args.journal.name + ".html")
    print(write_report(args.journal, output))
    return 0
