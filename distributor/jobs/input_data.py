"""What a subjob reads to find its input files: `get_input_data`.

Each subjob's working directory holds ``__BACKEND_INPUT_FILES__.json`` (CAF's name), a JSON
list of its input files, and the subjob runs with ``DISTRIBUTOR_INPUT_DATA`` naming that file.
The subjob's own Python code calls `get_input_data()`. This module imports nothing but the
standard library's ``json``, ``os`` and ``pathlib``: it is cheap in every subjob.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["INPUT_DATA_ENV", "INPUT_DATA_FILE", "get_input_data", "write_input_data"]

INPUT_DATA_FILE = "__BACKEND_INPUT_FILES__.json"
"""The file, in a subjob's working directory, listing its input files (CAF's name)."""
INPUT_DATA_ENV = "DISTRIBUTOR_INPUT_DATA"
"""The variable naming that file's absolute path in a running subjob."""


def get_input_data() -> list[str]:
    """This subjob's input files, in order: the JSON list in the file ``$DISTRIBUTOR_INPUT_DATA``
    names, else in ``__BACKEND_INPUT_FILES__.json`` of the current directory (as in CAF).

    Raises:
        FileNotFoundError: not called from a subjob (neither file exists).
        ValueError: the file does not hold a list of strings.
    """
    path = Path(os.environ.get(INPUT_DATA_ENV) or INPUT_DATA_FILE)
    data = json.loads(path.read_text())
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        raise ValueError(f"{path} does not hold a JSON list of file names")
    return data


def write_input_data(directory: Path, files: Sequence[str]) -> Path:
    """Write `files` as the input data of the subjob that runs in `directory`; its path."""
    path = directory / INPUT_DATA_FILE
    path.write_text(json.dumps(list(files), indent=2) + "\n")
    return path
