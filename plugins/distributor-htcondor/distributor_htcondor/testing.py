"""Helpers for tests that put stand-ins for HTCondor's commands on PATH.

The plugin's own tests run against a fake pool (``tests/htcondor_fake.py`` in the source tree)
that answers in HTCondor's documented formats; a site can use the same helper to wrap its own
recordings or scripts. To run the conformance kit against a real pool, see the plugin README.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from distributor.testing import install_fake_commands, path_with

__all__ = ["COMMANDS", "command_wrappers", "wrapped_environment"]

COMMANDS = ("condor_submit", "condor_q", "condor_history", "condor_rm")
"""The HTCondor commands the plugin runs."""


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
