"""See a run: a live web dashboard of a journal and a static HTML report of it.

* ``distributor dashboard JOURNAL`` serves `distributor.dashboard.server.create_app` (Starlette
  and uvicorn: ``pip install 'distributor-core[dashboard]'``).
* ``distributor report JOURNAL -o report.html`` writes `write_report`'s file (no extra needed).

Both read the journal through `JournalView`, which cannot write to it. Importing this package
imports none of its modules: each name loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distributor.dashboard.html_report import render_report, write_report
    from distributor.dashboard.server import create_app, serve
    from distributor.dashboard.view import JournalView

__all__ = ["JournalView", "create_app", "render_report", "serve", "write_report"]

_WHERE = {
    "JournalView": "distributor.dashboard.view",
    "create_app": "distributor.dashboard.server",
    "serve": "distributor.dashboard.server",
    "render_report": "distributor.dashboard.html_report",
    "write_report": "distributor.dashboard.html_report",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'distributor.dashboard' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_WHERE[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
