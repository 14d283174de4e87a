"""Grouping waiting instances into submissions, naming them, and the command each one runs.

Instances with the same cluster, queue and request that stage no files are *compatible* and go
out as one array (at most ``max_array_size`` steps, at most ``max_command_bytes`` of command
line); an instance that stages files goes alone (see `distributor.service.staging`). Step *i*
runs member *i*'s command: when the members' commands differ, the array's command is a ``case`` on
``DISTRIBUTOR_ARRAY_STEP_ID`` with one branch per step, each running its command with
``exec /bin/sh -c``; every value is quoted with `shlex.quote`, so a hostile command or variable
stays data. Identical commands need no dispatch.

Submission names are ``dsv_<run tag>_<batch id>`` plus a sanitised task name: unique per
journal, made of ``[A-Za-z0-9_]`` only so every scheduler keeps them unchanged, and recorded
before submitting so a restarted controller can look them up.
"""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Callable, Mapping, Sequence

__all__ = [
    "NAME_PREFIX",
    "chunk_groups",
    "is_run_tag",
    "new_run_tag",
    "in_directory",
    "render_command",
    "step_line",
    "submission_name",
]

NAME_PREFIX = "dsv"
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")
_RUN_TAG = re.compile(r"^[0-9a-f]{8}$")
_NO_STEP = (
    '*) echo "distributor: no task for array step ${DISTRIBUTOR_ARRAY_STEP_ID:-unset}" >&2; '
    "exit 97 ;;"
)


def new_run_tag() -> str:
    """A fresh run tag: eight hex digits, recorded once per journal."""
    return secrets.token_hex(4)


def is_run_tag(text: str) -> bool:
    """True if `text` has the shape `new_run_tag` produces."""
    return bool(_RUN_TAG.match(text))


def submission_name(run_tag: str, batch_id: int, task_name: str) -> str:
    """The scheduler-visible name of batch `batch_id`: ``dsv_<tag>_<id>_<task name, sanitised>``."""
    label = _UNSAFE.sub("_", task_name).strip("_")[:32]
    base = f"{NAME_PREFIX}_{run_tag}_{batch_id}"
    return f"{base}_{label}" if label else base


def in_directory(command: str, cwd: str | None) -> str:
    """`command` run in `cwd` (quoted: the path is data, never shell); a directory that does
    not exist ends the task with status 126 and the shell's message on its stderr."""
    if cwd is None:
        return command
    return f"cd -- {shlex.quote(cwd)} || exit 126\n{command}"


def _exports(env: Mapping[str, str]) -> str:
    return "".join(f"export {key}={shlex.quote(value)}; " for key, value in sorted(env.items()))


def step_line(step: int, command: str, env: Mapping[str, str]) -> str:
    """The ``case`` branch that runs `command` with `env` for array step `step`."""
    return f"{step}) {_exports(env)}exec /bin/sh -c {shlex.quote(command)} ;;"


def render_command(members: Sequence[tuple[str, Mapping[str, str]]]) -> str:
    """The command line of a submission whose step *i* runs ``members[i]`` (command, env).

    Raises:
        ValueError: `members` is empty.
    """
    if not members:
        raise ValueError("a submission needs at least one member")
    first_command, first_env = members[0]
    if all(command == first_command and env == first_env for command, env in members[1:]):
        return _exports(first_env) + first_command if first_env else first_command
    lines = ['case "${DISTRIBUTOR_ARRAY_STEP_ID:-}" in']
    lines.extend(step_line(step, command, env) for step, (command, env) in enumerate(members))
    lines.append(_NO_STEP)
    lines.append("esac")
    return "\n".join(lines)


def chunk_groups(
    items: Sequence[int],
    key: Callable[[int], str],
    size: Callable[[int], int],
    *,
    max_steps: int,
    max_bytes: int,
) -> list[list[int]]:
    """Split `items` into submissions of compatible members, keeping their order.

    Args:
        items: instance ids in the order they were picked.
        key: the compatibility key of an item (cluster, queue and request).
        size: the bytes an item adds to an array's command line.
        max_steps / max_bytes: limits of one submission (an item bigger than `max_bytes` goes
            alone).

    Returns:
        Lists of items; groups appear in the order of their first item.
    """
    groups: dict[str, list[list[int]]] = {}
    used: dict[str, int] = {}
    for item in items:
        group_key = key(item)
        chunks = groups.setdefault(group_key, [[]])
        cost = size(item)
        current = chunks[-1]
        if current and (len(current) >= max_steps or used[group_key] + cost > max_bytes):
            current = []
            chunks.append(current)
            used[group_key] = 0
        current.append(item)
        used[group_key] = used.get(group_key, 0) + cost
    return [chunk for chunks in groups.values() for chunk in chunks]
