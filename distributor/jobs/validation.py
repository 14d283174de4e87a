"""Validation of a job's fields, one function each: a bad value raises `JobError` naming the
job, the field and the value; a good one comes back normalised (lists, absolute paths)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from distributor.jobs.errors import JobError

__all__ = [
    "Argument",
    "arguments",
    "backend_args",
    "input_files",
    "path",
    "patterns",
    "strings",
    "subjob_id",
]

Argument = str | int | float
"""One argument of a command: JSON scalars only, so that a job's JSON round-trips exactly
(turned into a word with `str` when the command is built)."""

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_RESOURCE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def strings(job: str, field: str, value: object, *, allow_empty_items: bool = False) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise JobError(job, field, value, "must be a list of strings")
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise JobError(job, field, item, f"must be a string, not {type(item).__name__}")
        if "\0" in item:
            raise JobError(job, field, item, "must not contain a NUL byte")
        if not allow_empty_items and not item:
            raise JobError(job, field, item, "must not be empty")
    return items


def arguments(job: str, field: str, value: object) -> list[Argument]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise JobError(job, field, value, "must be a list of strings or numbers")
    items = list(value)
    for item in items:
        if not isinstance(item, str | int | float):
            raise JobError(
                job, field, item, f"must be a string or a number, not {type(item).__name__}"
            )
        if isinstance(item, float) and not math.isfinite(item):
            raise JobError(job, field, item, "must be a finite number")
        if isinstance(item, str) and "\0" in item:
            raise JobError(job, field, item, "must not contain a NUL byte")
    return items


def path(job: str, field: str, value: object) -> Path:
    if not isinstance(value, str | os.PathLike):
        raise JobError(job, field, value, "must be a path")
    text = os.fspath(value)
    if not isinstance(text, str) or not text or "\0" in text:
        raise JobError(job, field, value, "must be a non-empty path without NUL bytes")
    return Path(os.path.abspath(text))


def input_files(job: str, field: str, value: object) -> list[str]:
    """Input files as strings: a plain path is made absolute, a URI (``scheme:…``) is kept."""
    files = [
        item if _SCHEME.match(item) else os.path.abspath(item)
        for item in strings(job, field, value)
    ]
    seen: set[str] = set()
    for item in files:
        if item in seen:
            raise JobError(job, field, item, "is listed twice (each input file goes to one subjob)")
        seen.add(item)
    return files


def patterns(job: str, value: object) -> list[str]:
    patterns = strings(job, "output_patterns", value)
    for pattern in patterns:
        if pattern.startswith("/") or ".." in Path(pattern).parts:
            raise JobError(
                job, "output_patterns", pattern,
                "must be a glob relative to the subjob's working directory, without '..'",
            )  # fmt: skip
    return patterns


def backend_args(job: str, value: object) -> dict[str, Argument]:
    if not isinstance(value, Mapping):
        raise JobError(job, "backend_args", value, "must be a table of resources")
    result: dict[str, Argument] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _RESOURCE_KEY.match(key):
            raise JobError(job, "backend_args", key, "keys must be resource names")
        result[key] = arguments(job, f"backend_args[{key!r}]", [item])[0]
    return result


def subjob_id(job: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise JobError(job, "subjobs", value, "a subjob id must be a whole number from 0")
    return value
