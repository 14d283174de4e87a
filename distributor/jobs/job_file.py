"""The job file of ``distributor run --job FILE``: TOML, or CAF's JSON.

TOML: one ``[[job]]`` table per job (every key in ``docs/jobs.md``)::

    [[job]]
    name = "upper"
    command = ["python3", "analyse.py"]      # an argv; `arguments` are appended
    input_sandbox_files = ["analyse.py"]
    input_files = ["data/1.txt", "data/2.txt", "data/3.txt"]
    max_files_per_subjob = 2                 # or max_subjobs = N, or arguments_range
    output_patterns = ["*.out"]
    working_dir = "work"                     # default <name>.work
    output_dir = "out"                       # default <name>.out
    setup_cmds = ["source /opt/setup.sh"]
    backend_args = { memory = "1G", runtime = "10m" }

``arguments_range = { start = 0, stop = 10, step = 1 }`` gives the subjobs the arguments of
`range_arguments` (with neither ``max_files_per_subjob`` nor ``max_subjobs``: one subjob per
value, through an `ArgumentsSplitter` whose ``max_subjobs`` defaults to 1000).

JSON (a ``.json`` file): a job as CAF's ``Job.dump_to_json`` writes it, or a list of them; its
subjobs, if any, are run as they are.

In both, relative paths are taken from the file's directory.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from distributor.jobs.arguments import ArgumentsGenerator, range_arguments
from distributor.jobs.errors import JobError, JobFileError
from distributor.jobs.model import Job
from distributor.jobs.splitters import (
    ArgumentsSplitter,
    MaxFilesSplitter,
    MaxSubjobsSplitter,
    SubjobSplitter,
)

__all__ = ["TOML_KEYS", "load_jobs"]

TOML_KEYS: frozenset[str] = frozenset(
    {"name", "command", "arguments", "input_sandbox_files", "working_dir", "output_dir",
     "output_patterns", "input_files", "setup_cmds", "backend_args", "max_files_per_subjob",
     "max_subjobs", "arguments_range"}
)  # fmt: skip
"""The keys a ``[[job]]`` table may have."""

_RANGE_KEYS = frozenset({"start", "stop", "step"})
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def load_jobs(path: Path, defaults: Mapping[str, Any] | None = None) -> list[Job]:
    """Read a job file: CAF's JSON if its name ends in ``.json``, TOML otherwise.

    Args:
        path: the file.
        defaults: ``backend_args`` for the jobs that do not set them (the command's
            ``--memory``, ``--queue``…).

    Raises:
        JobFileError: the file cannot be read, or a job in it is not valid (the message names
            the file, the job and the key).
    """
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise JobFileError(str(path), "file", str(path), f"cannot be read: {exc}") from exc
    base = path.absolute().parent
    if path.suffix == ".json":
        entries = _json_entries(path, text)
        jobs = [_json_job(path, index, entry, base) for index, entry in enumerate(entries)]
    else:
        jobs = [
            _toml_job(path, index, table, base)
            for index, table in enumerate(_toml_tables(path, text))
        ]
    names: set[str] = set()
    for job in jobs:
        if job.name in names:
            raise JobFileError(f"{path}: {job.name}", "name", job.name, "names two jobs")
        names.add(job.name)
        for key, value in (defaults or {}).items():
            job.backend_args.setdefault(key, value)
    return jobs


def _rebase(value: object, base: Path) -> object:
    """A relative path (not a URI) taken from `base`; anything else unchanged."""
    if isinstance(value, str) and value and not _SCHEME.match(value) and not value.startswith("/"):
        return os.path.join(base, value)
    return value


def _rebase_all(value: object, base: Path) -> object:
    if isinstance(value, list):
        return [_rebase(item, base) for item in value]
    return value


# -- CAF's JSON --------------------------------------------------------------------------------


def _json_entries(path: Path, text: str) -> list[Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobFileError(str(path), "file", str(path), f"is not JSON: {exc}") from exc
    entries = data if isinstance(data, list) else [data]
    if not entries:
        raise JobFileError(str(path), "file", str(path), "holds no job")
    return entries


def _json_job(path: Path, index: int, entry: Any, base: Path) -> Job:
    label = f"{path}: job #{index + 1}"
    if not isinstance(entry, dict):
        raise JobFileError(label, "job", entry, "must be a JSON object (CAF's job layout)")
    data = dict(entry)
    for key in ("input_sandbox_files", "input_files"):
        data[key] = _rebase_all(data.get(key, []), base)
    for key in ("working_dir", "output_dir"):
        data[key] = _rebase(data.get(key, "."), base)
    subjobs = data.get("subjobs", [])
    if isinstance(subjobs, list):
        data["subjobs"] = [
            {**sub, "input_files": _rebase_all(sub.get("input_files", []), base)}
            if isinstance(sub, dict)
            else sub
            for sub in subjobs
        ]
    try:
        return Job.from_dict(data)
    except JobError as exc:
        raise JobFileError(f"{path}: {exc.job}", exc.field, exc.value, exc.reason) from None


# -- TOML --------------------------------------------------------------------------------------


def _toml_tables(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise JobFileError(str(path), "file", str(path), f"is not TOML: {exc}") from exc
    extra = sorted(set(data) - {"job"})
    if extra:
        raise JobFileError(str(path), extra[0], data[extra[0]], "only [[job]] tables are allowed")
    tables = data.get("job")
    if not isinstance(tables, list) or not tables:
        raise JobFileError(str(path), "file", str(path), "has no [[job]] tables")
    return tables


def _toml_job(path: Path, index: int, table: dict[str, Any], base: Path) -> Job:
    name = table.get("name")
    label = f"{path}: {name}" if isinstance(name, str) else f"{path}: [[job]] #{index + 1}"
    for key in table:
        if key not in TOML_KEYS:
            close = difflib.get_close_matches(key, sorted(TOML_KEYS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise JobFileError(label, key, table[key], f"unknown key{hint}")
    if not isinstance(name, str):
        raise JobFileError(label, "name", name, "is required (a string)")
    try:
        return Job(
            name,
            command=table.get("command", ()),
            arguments=table.get("arguments", ()),
            input_sandbox_files=_rebase_all(table.get("input_sandbox_files", []), base),  # type: ignore[arg-type]
            working_dir=str(_rebase(table.get("working_dir", f"{name}.work"), base)),
            output_dir=str(_rebase(table.get("output_dir", f"{name}.out"), base)),
            output_patterns=table.get("output_patterns", ()),
            input_files=_rebase_all(table.get("input_files", []), base),  # type: ignore[arg-type]
            setup_cmds=table.get("setup_cmds", ()),
            backend_args=table.get("backend_args", {}),
            splitter=_splitter(label, table),
        )
    except JobError as exc:
        raise JobFileError(label, exc.field, exc.value, exc.reason) from None


def _splitter(label: str, table: Mapping[str, Any]) -> SubjobSplitter | None:
    files = table.get("max_files_per_subjob")
    most = table.get("max_subjobs")
    span = table.get("arguments_range")
    if files is not None and most is not None:
        raise JobFileError(label, "max_subjobs", most,
                           "cannot go with max_files_per_subjob: choose one splitter")  # fmt: skip
    generator = None
    if span is not None:
        if not isinstance(span, dict) or set(span) - _RANGE_KEYS or "stop" not in span:
            shape = "must be a table { start = 0, stop = N, step = 1 } (stop required)"
            raise JobFileError(label, "arguments_range", span, shape)
        for key, value in span.items():
            if isinstance(value, bool) or not isinstance(value, int):
                raise JobFileError(label, f"arguments_range.{key}", value, "must be a whole number")
        if span.get("step", 1) < 1:
            raise JobFileError(label, "arguments_range.step", span["step"], "must be from 1")
        generator = ArgumentsGenerator(range_arguments, span.get("start", 0), span["stop"],
                                       span.get("step", 1))  # fmt: skip
    if files is not None:
        return MaxFilesSplitter(arguments_generator=generator, max_files_per_subjob=files)
    if most is not None and generator is None:
        return MaxSubjobsSplitter(max_subjobs=most)
    if generator is not None:
        return ArgumentsSplitter(arguments_generator=generator,
                                 max_subjobs=1000 if most is None else most)  # fmt: skip
    return None
