"""Helpers for tests of the plugin: stand-ins for HTCondor's commands, and a real pool.

* **Stand-ins.** The fast tests run against a fake pool (``tests/htcondor_fake.py`` in the
  source tree) that answers in the formats recorded from real pools; `command_wrappers` puts
  any such script on PATH, and a site can wrap its own recordings the same way.
* **A real pool.** `unavailable_reason` says why the tests of a real pool cannot run in this
  process (their skip reason), `pool_distributor` makes a distributor for it and `condor`
  runs one of the pool's commands. The project's pool is ``scripts/dev-clusters/htcondor.sh``
  (HTCondor 23.9.6 in a Debian chroot); HTCondor refuses jobs owned by root, so its tests run
  as the pool's job user, inside the pool: ``pool-exec python -m pytest ...``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from distributor import SchedulerError
from distributor.batch import CommandResult, LocalTransport, PollPolicy, Transport
from distributor.testing import install_fake_commands, path_with
from distributor_htcondor.client import HTCondorClient
from distributor_htcondor.distributor import HTCondorDistributor

__all__ = [
    "COMMANDS",
    "POOL_POLL_POLICY",
    "POOL_SCRIPT",
    "WithoutExecutable",
    "command_wrappers",
    "condor",
    "pool_distributor",
    "start_record",
    "unavailable_reason",
    "wrapped_environment",
]

COMMANDS = ("condor_submit", "condor_q", "condor_history", "condor_rm")
"""The HTCondor commands the plugin runs."""

POOL_SCRIPT = "scripts/dev-clusters/htcondor.sh"
"""The project's script that installs and starts a real pool (as root)."""

POOL_POLL_POLICY = PollPolicy(
    min_interval=0.2,
    max_interval=1.0,
    max_calls_per_minute=100_000,
    accounting_interval=0.5,
    accounting_delay=10.0,
    lost_grace=60.0,
)
"""Polling for tests on a real single-machine pool: a job starts about a second after it is
submitted and is in ``condor_history`` about a second after it ended."""


def command_wrappers(
    script: Path, bin_dir: Path, names: Sequence[str] = COMMANDS, *, python: str = sys.executable
) -> Path:
    """Write executables `names` into `bin_dir`; each runs ``python script NAME ARGS...``
    (`distributor.testing.install_fake_commands` with HTCondor's commands).

    Returns:
        `bin_dir`, to be put first on PATH.
    """
    install_fake_commands(bin_dir, script.resolve(), names, python=python)
    return bin_dir


def wrapped_environment(
    script: Path, directory: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Variables that make the plugin's commands run `script`: PATH with the wrappers first.

    Args:
        script: the Python file that implements the commands.
        directory: where ``bin/`` with the wrappers is created.
        extra: further variables (for example the fake's state directory).
    """
    bin_dir = command_wrappers(script, directory / "bin")
    # PATH alone, not the whole environment: a copy of it would override CONDOR_CONFIG
    # when a distributor is given its own.
    return {"PATH": path_with(bin_dir)["PATH"], **(extra or {})}


def unavailable_reason() -> str | None:
    """Why the tests of a real pool cannot run in this process, or None if they can: not as
    root (HTCondor refuses jobs owned by root), ``condor_q`` on PATH, and the schedd answering
    ``condor_q -totals``."""
    how = (
        f"start one as root with {POOL_SCRIPT} start and run the tests through its pool-exec, "
        "as the pool's job user"
    )
    if os.geteuid() == 0:
        return f"HTCondor refuses jobs owned by root: no real pool for root ({how})"
    if shutil.which("condor_q") is None:
        return f"no HTCondor pool: condor_q is not on PATH ({how})"
    try:
        HTCondorClient().runner.run(["condor_q", "-totals"], timeout=30, attempts=1)
    except SchedulerError as exc:
        detail = (exc.stderr or str(exc)).strip().splitlines()
        return f"the HTCondor pool does not answer condor_q: {detail[0] if detail else exc}"
    return None


def pool_distributor(submit_root: Path, **options: Any) -> HTCondorDistributor:
    """A started `HTCondorDistributor` on this machine's pool (the local schedd), polling with
    `POOL_POLL_POLICY` unless `options` give another policy (options are passed through)."""
    options.setdefault("poll_policy", POOL_POLL_POLICY)
    distributor = HTCondorDistributor("pool", submit_root=submit_root, **options)
    distributor.start()
    return distributor


def start_record(distributor: HTCondorDistributor, distributor_id: str) -> Path:
    """Where the worker of a tracked task records that it starts the command (beside its exit
    record): once it exists, the command runs (`distributor.testing.ExitMatrix`'s ``started``).
    """
    job = distributor.tracker.get(distributor_id)
    assert job is not None and job.record_path is not None, distributor_id
    return job.record_path.with_name(job.record_path.name.replace("exit", "started", 1))


def condor(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one of the pool's commands (``condor_qedit``, ``condor_off`` ...) as this user.

    Raises:
        subprocess.CalledProcessError: it failed and `check` is true.
    """
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=check)


_EXECUTABLE = re.compile(r"^executable = (.+)$", re.MULTILINE)


class WithoutExecutable:
    """A `Transport` that deletes the executable a submit description names just before
    ``condor_submit`` reads it: the job of a pool whose execute machine cannot see it. A pool
    accepts such a job (the plugin does not transfer the executable) and holds it when the
    starter cannot execute it (code 6, subcode 2, recorded on 23.9.6 and 25.14.1).

    Args:
        inner: the transport that runs the commands (default `LocalTransport`).
        when: which submit descriptions lose their executable (default: all).
    """

    def __init__(
        self, inner: Transport | None = None, when: Callable[[Path], bool] = lambda _: True
    ) -> None:
        self.inner: Transport = inner if inner is not None else LocalTransport()
        self.when = when

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> CommandResult:
        """Delete the executable of a ``condor_submit FILE``'s description (if `when` says so),
        then run `argv` with the inner transport."""
        if Path(argv[0]).name == "condor_submit" and self.when(Path(argv[-1])):
            found = _EXECUTABLE.search(Path(argv[-1]).read_text())
            if found is not None:
                Path(found[1]).unlink(missing_ok=True)
        return self.inner.run(argv, timeout=timeout, stdin=stdin, env=env, on_start=on_start)
