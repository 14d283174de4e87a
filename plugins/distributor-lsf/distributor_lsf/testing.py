"""Helpers for tests that need LSF commands: a site's real cluster, or the plugin's fakes.

* `unavailable_reason` says why LSF tests cannot run (``bqueues`` does not answer), or returns
  None: a site runs the conformance kit against its cluster when it returns None.
* `command_environment` is the extra environment that puts a directory of (fake) LSF commands
  first on ``PATH``; `killing_all_jobs` wraps a test so that every job it left is killed
  (``bkill 0``, "all of the user's jobs") afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from distributor import SchedulerError
from distributor.testing import path_with
from distributor_lsf.client import LsfClient

__all__ = ["command_environment", "killing_all_jobs", "unavailable_reason"]


def command_environment(bin_dir: Path, **variables: str) -> dict[str, str]:
    """``PATH`` with `bin_dir` first, plus `variables` (for `LsfDistributor`'s ``lsf_env``)."""
    # PATH alone, not the whole environment: the client drops LSF's output-format overrides
    # from this process's environment, and a copy of it in lsf_env would bring them back.
    return {"PATH": path_with(bin_dir)["PATH"], **variables}


def unavailable_reason(env: Mapping[str, str] | None = None) -> str | None:
    """Why LSF tests cannot run with this environment, or None if ``bqueues -l`` answers."""
    try:
        LsfClient(env=env).queues()
    except SchedulerError as exc:
        return f"no LSF cluster answers (bqueues -l failed: {exc})"
    return None


@contextmanager
def killing_all_jobs(env: Mapping[str, str]) -> Iterator[Mapping[str, str]]:
    """Yield `env`; afterwards ``bkill 0`` every job of the user that is still queued or
    running (use it only on a test cluster, or with the fakes)."""
    try:
        yield env
    finally:
        LsfClient(env=env).cancel(["0"])
