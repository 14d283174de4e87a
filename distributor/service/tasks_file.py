"""The tasks file of ``distributor run --tasks``: TOML, one ``[[task]]`` table per task.

Every key is described in ``docs/tasks-file.md``. In short::

    [[task]]
    name = "align"                 # unique; with `array`, steps are named align[0], align[1], …
    command = ["bwa", "mem", "x"]  # an argv list, or a string run by sh -c
    array = 4                      # 4 tasks, each sees DISTRIBUTOR_ARRAY_STEP_ID=0..3
    cores = 2                      # resources: cores, memory, runtime, gpus, queue
    memory = "4G"
    runtime = "1h"
    resources = { "slurm.account" = "lab" }   # a plugin's pass-through keys
    depends_on = ["fetch"]         # start after these ended done (an array's name: every step)
    max_attempts = 3               # retries: attempts in all, and the wait before the first
    retry_delay = "30s"
    priority = 1                   # and tags, owner, env, cwd
    inputs = ["ref.fa"]            # staging on a batch cluster: uploaded before it runs,
    outputs = ["*.bam"]            # these fetched into output_dir once it ended done
    output_dir = "results/{step}"  # (relative paths: to the file's directory)

Options of the command (``--memory``, ``--max-attempts``, …) are `defaults`: a table's own key
wins over them.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from distributor.service.dependencies import order
from distributor.service.errors import TaskSpecError
from distributor.service.model import TaskSpec

__all__ = ["DEFAULTABLE", "KEYS", "load_tasks"]

KEYS: frozenset[str] = frozenset(
    {"name", "command", "array", "cores", "memory", "runtime", "gpus", "queue", "resources",
     "priority", "tags", "max_attempts", "retry_delay", "depends_on", "owner", "env", "cwd",
     "inputs", "outputs", "output_dir"}
)  # fmt: skip
"""The keys a ``[[task]]`` table may have."""

DEFAULTABLE: frozenset[str] = frozenset(
    {"cores", "memory", "runtime", "queue", "max_attempts", "retry_delay", "env", "cwd"}
)
"""The keys the command's options can give defaults for (``env`` is merged, the table's
variables winning)."""

_MAX_ARRAY = 100_000


def load_tasks(path: Path, defaults: Mapping[str, Any] | None = None) -> list[TaskSpec]:
    """Read a tasks file.

    Args:
        path: the TOML file.
        defaults: values for the keys in `DEFAULTABLE` that a table does not set.

    Raises:
        TaskSpecError: the file is not valid TOML, has no ``[[task]]`` tables, or a table has
            an unknown key or a bad value (the message names the table and the key).
        DependencyError: ``depends_on`` names a task that is not in the file, or the
            dependencies form a cycle (the message names the file and the tasks).
    """
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TaskSpecError(str(path), "file", str(path), f"cannot be read as TOML: {exc}") from exc
    tables = data.get("task")
    extra = sorted(set(data) - {"task"})
    if extra:
        raise TaskSpecError(str(path), "file", extra, "only [[task]] tables are allowed")
    if not isinstance(tables, list) or not tables:
        raise TaskSpecError(str(path), "file", str(path), "has no [[task]] tables")
    given = dict(defaults or {})
    unknown = sorted(set(given) - DEFAULTABLE)
    if unknown:
        raise ValueError(f"no defaults for {unknown}")  # a programming error, not the user's
    expanded: list[tuple[str, dict[str, Any], int | None]] = []
    for index, table in enumerate(tables):
        label = str(table.get("name", f"[[task]] #{index + 1}"))
        for key in table:
            if key not in KEYS:
                close = difflib.get_close_matches(key, sorted(KEYS), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise TaskSpecError(label, key, table[key], f"unknown key{hint}")
        merged = {**given, **table, "env": _env(label, given, table)}
        if "cwd" not in table and (table.get("inputs") or table.get("outputs")):
            merged.pop("cwd", None)  # a staged task runs in its task directory, not in --cwd
        expanded.append((label, merged, _array(label, table)))
    steps = {label: array for label, _, array in expanded}
    base = path.resolve().parent
    specs: list[TaskSpec] = []
    for label, table, array in expanded:
        needs = _depends(label, table, steps)
        if array is None:
            staging = _staging(label, table, base, None)
            specs.append(_spec(label, table, table.get("name", ""), table["env"], needs, staging))
            continue
        for step in range(array):
            env = {**table["env"], "DISTRIBUTOR_ARRAY_STEP_ID": str(step)}
            staging = _staging(label, table, base, step)
            specs.append(_spec(label, table, f"{label}[{step}]", env, needs, staging))
    order({spec.name: spec.depends_on for spec in specs}, source=str(path))
    return specs


def _env(label: str, given: Mapping[str, Any], table: Mapping[str, Any]) -> dict[str, Any]:
    env = table.get("env", {})
    if not isinstance(env, dict):
        raise TaskSpecError(label, "env", env, "must be a table of names to strings")
    return {**given.get("env", {}), **env}


def _array(label: str, table: Mapping[str, Any]) -> int | None:
    array = table.get("array")
    if array is None:
        return None
    if isinstance(array, bool) or not isinstance(array, int) or not 1 <= array <= _MAX_ARRAY:
        raise TaskSpecError(label, "array", array, f"must be a whole number from 1 to {_MAX_ARRAY}")
    return array


def _depends(label: str, table: Mapping[str, Any], steps: Mapping[str, int | None]) -> list[str]:
    """The task names a table depends on: an array's name stands for every one of its steps."""
    value = table.get("depends_on", [])
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise TaskSpecError(label, "depends_on", value, "must be a list of task names")
    names: list[str] = []
    for name in value:
        array = steps.get(name)
        names.extend([name] if array is None else [f"{name}[{step}]" for step in range(array)])
    return names


_OWN_KEYS = ("cores", "memory", "runtime", "gpus")
"""Resources set by a key of their own (``queue`` is the task's queue, not a resource)."""


def _extra_resources(label: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """The ``resources`` table: a plugin's pass-through keys (``"slurm.account" = "lab"``);
    whether the cluster knows them is checked when the task is submitted."""
    extra = table.get("resources", {})
    if not isinstance(extra, dict):
        raise TaskSpecError(label, "resources", extra, 'must be a table such as '
                            '{ "slurm.account" = "lab" }')  # fmt: skip
    for key in extra:
        if key in (*_OWN_KEYS, "queue"):
            raise TaskSpecError(label, f"resources.{key}", extra[key],
                                f"set it with the task's own key: {key} = …")  # fmt: skip
    return dict(extra)


def _staging(label: str, table: Mapping[str, Any], base: Path, step: int | None) -> dict[str, Any]:
    """The table's ``inputs``, ``outputs`` and ``output_dir``: relative paths are taken from
    `base` (the file's directory), and an array step's ``{step}`` is its index."""

    def each(text: str) -> str:
        return text if step is None else text.replace("{step}", str(step))

    staging: dict[str, Any] = {}
    for key in ("inputs", "outputs"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise TaskSpecError(label, key, value, "must be a list of strings")
        staging[key] = [each(item) for item in value]
    staging["inputs"] = [str(base / item) if item else item for item in staging["inputs"]]
    output_dir = table.get("output_dir")
    if output_dir is not None:
        if not isinstance(output_dir, str) or not output_dir:
            raise TaskSpecError(label, "output_dir", output_dir, "must be a non-empty string")
        output_dir = str(base / each(output_dir))
    staging["output_dir"] = output_dir
    return staging


def _spec(
    label: str,
    table: Mapping[str, Any],
    name: str,
    env: dict[str, Any],
    needs: list[str],
    staging: Mapping[str, Any],
) -> TaskSpec:
    resources = {**_extra_resources(label, table), **{
        key: table[key] for key in _OWN_KEYS if key in table
    }}  # fmt: skip
    if name in needs:
        raise TaskSpecError(label, "depends_on", table.get("depends_on"),
                            "a task cannot depend on itself")  # fmt: skip
    return TaskSpec(
        name=name,
        command=table.get("command", ""),
        queue=table.get("queue"),
        resources=resources,
        priority=table.get("priority", 0),
        tags=table.get("tags", ()),
        max_attempts=table.get("max_attempts"),
        retry_delay=table.get("retry_delay"),
        owner=table.get("owner", ""),
        env=env,
        cwd=table.get("cwd"),
        depends_on=needs,
        **staging,
    )
