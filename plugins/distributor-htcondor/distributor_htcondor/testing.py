"""Helpers for tests that put stand-ins for HTCondor's commands on PATH.

The plugin's own tests run against a fake pool (``tests/htcondor_fake.py`` in the source tree)
that answers in HTCondor's documented formats; a site can use the same helper to wrap its own
recordings or scripts. To run the conformance kit against a real pool, see the plugin README.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["COMMANDS", "command_wrappers", "wrapped_environment"]

COMMANDS = ("condor_submit", "condor_q", "condor_history", "condor_rm")
"""The HTCondor commands the plugin runs."""


def command_wrappers(
    script: Path, bin_dir: Path, names: Sequence[str] = COMMANDS, *, python: str = sys.executable
) -> Path:
    """Write executables `names` into `bin_dir`; each runs ``python script NAME ARGS...``.

    Returns:
        `bin_dir`, to be put first on PATH.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        wrapper = bin_dir / name
        command = shlex.join([python, str(script.resolve()), name])
        wrapper.write_text(f'#!/bin/sh\nexec {command} "$@"\n', encoding="utf-8")
        wrapper.chmod(0o755)
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
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", **(extra or {})}
