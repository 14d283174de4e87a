"""The job options of ``distributor run``: ``--job FILE`` and ``--global-job-limit N``.

Only the parser lives here; the command (`distributor.jobs.command`) and the service are
imported when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_run_options"]


def add_run_options(run: argparse.ArgumentParser) -> None:
    """Add ``--job`` and ``--global-job-limit`` to the ``run`` command."""
    run.add_argument("--job", type=Path, metavar="FILE",
                     help="run the jobs of a job file (TOML, or CAF's JSON; docs/jobs.md), split "
                     "into subjobs; --cores, --memory, --runtime, --queue are defaults for their "
                     "backend_args")  # fmt: skip
    run.add_argument("--global-job-limit", type=int, metavar="N",
                     help="with --job: at most N subjobs in the scheduler at once (CAF's "
                     "global_job_limit)")  # fmt: skip
