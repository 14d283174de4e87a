"""Put a fake scheduler's commands on ``PATH`` for a plugin's tests.

A fake scheduler is one Python script implementing several commands (``qsub``, ``qstat``,
``qdel``...), chosen by its first argument; `install_fake_commands` writes one small shim per
command into a directory, and `path_with` gives an environment that finds them first::

    install_fake_commands(tmp_path / "bin", Path(__file__).with_name("fake_pbs.py"),
                          ["qsub", "qstat", "qdel"])
    env = path_with(tmp_path / "bin", {"FAKE_PBS_STATE": str(tmp_path / "pbs")})

The shims run the script with the interpreter running the tests (never ``python3`` from
``PATH``), and pass their arguments on untouched.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["install_fake_commands", "path_with"]

_COMMAND = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


def install_fake_commands(
    bin_dir: Path, script: Path, commands: Sequence[str], *, python: str = sys.executable
) -> list[Path]:
    """Write an executable ``exec PYTHON SCRIPT COMMAND "$@"`` shim per command; return them.

    Raises:
        ValueError: a command name is not a plain file name.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    made = []
    for command in commands:
        if not _COMMAND.fullmatch(command):
            raise ValueError(f"command {command!r} is not a plain file name")
        path = bin_dir / command
        path.write_text(
            "#!/bin/sh\n"
            f'exec {shlex.quote(python)} {shlex.quote(str(script))} {shlex.quote(command)} "$@"\n'
        )
        path.chmod(0o755)
        made.append(path)
    return made


def path_with(
    bin_dir: Path, extra: Mapping[str, str] | None = None, *, inherit: bool = True
) -> dict[str, str]:
    """This process's environment with `bin_dir` first on ``PATH``, plus `extra`; with
    ``inherit=False`` only ``PATH`` and `extra` (for a client's extra variables, which must
    not bring back what the client drops from the environment on purpose)."""
    base = dict(os.environ) if inherit else {}
    return {**base, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", **(extra or {})}
