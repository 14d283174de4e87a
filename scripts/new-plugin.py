#!/usr/bin/env python3
"""Generate a new scheduler plugin from ``plugins/_template``.

    python scripts/new-plugin.py NAME [DEST]

NAME is the plugin's entry-point name (``[a-z][a-z0-9]*``, e.g. ``acme``); DEST defaults to
``plugins/distributor-NAME``. Every ``example``/``Example``/``EXAMPLE`` in file names and
contents becomes NAME, Name and NAME in upper case; nothing else changes. The result installs
with ``pip install -e DEST`` and passes its own tests (the conformance kit against the fake
scheduler in its ``tests/``) before a line of it is changed — then replace the client's commands
with your scheduler's.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "plugins" / "_template"
NAME = re.compile(r"[a-z][a-z0-9]{0,30}")


def generate(name: str, dest: Path) -> list[Path]:
    """Copy the template to `dest` with every ``example`` renamed; return the files written.

    Raises:
        ValueError: `name` is not ``[a-z][a-z0-9]*`` or is ``example``.
        FileExistsError: `dest` exists.
    """
    if not NAME.fullmatch(name) or name == "example":
        raise ValueError(f"plugin name {name!r}: must match [a-z][a-z0-9]* and not be 'example'")
    if dest.exists():
        raise FileExistsError(f"{dest} exists; choose another destination")
    replacements = [("example", name), ("Example", name.capitalize()), ("EXAMPLE", name.upper())]

    def rename(text: str) -> str:
        for old, new in replacements:
            text = text.replace(old, new)
        return text

    written = []
    for source in sorted(TEMPLATE.rglob("*")):
        relative = source.relative_to(TEMPLATE)
        if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
            continue  # caches a local run left behind (.hypothesis, .ruff_cache, ...)
        target = dest / rename(str(relative))
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rename(source.read_text(encoding="utf-8")), encoding="utf-8")
        shutil.copymode(source, target)
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(__doc__, file=sys.stderr)
        return 2
    name = argv[0]
    dest = Path(argv[1]) if len(argv) == 2 else TEMPLATE.parent / f"distributor-{name}"
    try:
        files = generate(name, dest)
    except (ValueError, FileExistsError) as exc:
        print(f"new-plugin: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(files)} files to {dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
