"""Hostile input every plugin must survive: names, command words, ids and resource values.

Names, commands and ids come from users and from other programs; a plugin must treat them as
data. One list for every plugin, so that a case found against one scheduler is tried on all:

* `HOSTILE_NAMES`: task names made of shell syntax and of every scheduler's directive lines;
  a name is only ever a label.
* `HOSTILE_WORDS`: command words that must reach ``sh -c`` exactly as written
  (`literal_command` builds the command and the output it must print).
* `HOSTILE_IDS`: text that is no distributor id; it must be unknown and never reach a
  scheduler's command line.
* `HOSTILE_VALUES`: resource values that cannot be written into a directive; a request with
  one is refused (`ResourceError` naming the key) before anything is submitted.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "DIRECTIVE_LINES",
    "HOSTILE_IDS",
    "HOSTILE_NAMES",
    "HOSTILE_VALUES",
    "HOSTILE_WORDS",
    "hostile_name",
    "literal_command",
]

DIRECTIVE_LINES = (
    "#SBATCH --mem=1",
    "#$ -l h_vmem=1",
    "#PBS -l walltime=1",
    "#BSUB -M 1",
    "+Evil = 1",
    "queue 5",
)
"""Lines that every scheduler's submit command would take as its own, were they in a script."""

HOSTILE_NAMES = (
    "$(id)",
    "`id`",
    "a; rm -rf ~",
    "x' \"y",
    "9 starts with a digit",
    "-starts-with-a-dash",
    "..",
    "../../etc/passwd",
    "tab\there",
    "é ü ß 名前",
    "a" * 300,
    "x[1-9]",
    "x[1-9]%2",
    *(f"x\n{line}" for line in DIRECTIVE_LINES),
)
"""Task names: shell syntax, path tricks, array syntax, directives after a newline, unicode,
300 characters."""

HOSTILE_WORDS = (
    "it's",
    'say "hi"',
    "two\nlines",
    "$(touch {pwned})",
    "`touch {pwned}`",
    "a\\b",
    "$HOME",
    "%s %n",
    *DIRECTIVE_LINES,
    *(f"x\n{line}" for line in DIRECTIVE_LINES),
)
"""Command words; ``{pwned}`` is replaced by a path that must never be created. Directive
lines also start a line of their own (``bsub`` reads ``#BSUB`` lines anywhere in a script)."""

HOSTILE_IDS = (
    "",
    "1; touch /tmp/pwned",
    "$(id)",
    "`id`",
    "12 13",
    "-1",
    "../../etc/passwd",
    "12\n13",
    "12[]",
    "0",
    "no-such-id-4242",
)
"""Text that is no distributor id of any plugin (``0`` means "all my jobs" to ``bkill``)."""

HOSTILE_VALUES = (
    "a b",
    "x\n#SBATCH --mem=1",
    "$(id)",
    "`id`",
    "a;b",
    "it's",
    'say"hi"',
    "#comment",
    "",
)
"""Values no directive may carry: whitespace, newlines, quotes, ``$``, ``#``, or nothing."""


def hostile_name(pwned: Path) -> str:
    """One name that holds every trick at once, with `pwned` as the file it tries to create."""
    return f"$(touch {pwned}) `touch {pwned}`; 'x\" é ..%" + "".join(
        f"\n{line}" for line in DIRECTIVE_LINES
    )


def literal_command(
    out: Path, pwned: Path, words: Sequence[str] = HOSTILE_WORDS
) -> tuple[str, str]:
    """A command printing `words` literally into `out`, and what `out` must then hold.

    ``{pwned}`` in a word becomes `pwned`; a task that executes any of the words as shell
    creates that file.
    """
    filled = [word.replace("{pwned}", str(pwned)) for word in words]
    command = "printf '%s|' " + " ".join(shlex.quote(w) for w in filled)
    command += f" > {shlex.quote(str(out))}"
    return command, "".join(f"{word}|" for word in filled)
