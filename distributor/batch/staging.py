"""Staging for batch plugins: inputs in before the submission, results out after, and peeking.

A task may name, beside its resources (the keys are taken out before the request is parsed):

* ``inputs``: local files or directories, uploaded into the task directory before the
  scheduler is asked; the task then runs in its task directory (its sandbox).
* ``outputs``: glob patterns (`fnmatch`, relative to the task directory; ``{step}`` is an
  array step's index), the files `results` fetches; the task then runs in its task directory.
* ``output_dir``: a local directory where the outputs of a task that ended ``D`` are fetched
  by the distributor itself (as ``get_results(id, output_dir, overwrite=True)``).

`select` decides what to copy with gc3libs' semantics: a file absent locally is always copied;
with ``overwrite=False`` nothing that exists is altered; with ``overwrite=True``,
``changed_only`` copies only files whose source is newer or of another size. The task's
stdout and stderr logs are results too.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from distributor.batch.files import FileStat
from distributor.exceptions import ResourceError

__all__ = [
    "STAGING_KEYS",
    "Staging",
    "confined",
    "matching",
    "patterns_for",
    "select",
    "split_staging",
    "write_peeked",
]

STAGING_KEYS = frozenset({"inputs", "outputs", "output_dir"})
"""Request keys that are staging instructions, not resources."""


@dataclass(frozen=True, slots=True)
class Staging:
    """A task's staging instructions (module docstring).

    Attributes:
        inputs: local files or directories to upload (absolute).
        outputs: patterns of result files, relative to the task directory.
        output_dir: where results are fetched once the task ended ``D``; None: only on request.
    """

    inputs: tuple[Path, ...] = ()
    outputs: tuple[str, ...] = ()
    output_dir: Path | None = None

    @property
    def sandboxed(self) -> bool:
        """Whether the task runs in its task directory (it stages something)."""
        return bool(self.inputs or self.outputs)


def split_staging(resources: Mapping[str, Any]) -> tuple[dict[str, Any], Staging]:
    """The request without its staging keys, and the staging they describe.

    Raises:
        ResourceError: an input that does not exist or whose name the task directory
            reserves, a pattern that is absolute or climbs out (``..``), or a value of the
            wrong type (each naming the value).
    """
    rest = {key: value for key, value in resources.items() if key not in STAGING_KEYS}
    inputs = tuple(Path(os.path.abspath(p)) for p in _strings("inputs", resources.get("inputs")))
    for path in inputs:
        if not path.exists() and not path.is_symlink():
            raise ResourceError("inputs", str(path), "does not exist")
        if _reserved(path.name):
            raise ResourceError("inputs", str(path), "its name is reserved in the task directory")
    outputs = _strings("outputs", resources.get("outputs"))
    for pattern in outputs:
        pure = PurePosixPath(pattern)
        if pure.is_absolute() or ".." in pure.parts or "\0" in pattern:
            raise ResourceError("outputs", pattern, "must be relative to the task directory")
    output_dir = resources.get("output_dir")
    if output_dir is not None and not isinstance(output_dir, str | os.PathLike):
        raise ResourceError("output_dir", output_dir, "must be a path")
    return rest, Staging(
        inputs, outputs, Path(os.path.abspath(output_dir)) if output_dir is not None else None
    )


def _strings(key: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str | os.PathLike):
        value = [value]
    items = list(value) if isinstance(value, Sequence) else None
    if items is None or not all(isinstance(item, str | os.PathLike) for item in items):
        raise ResourceError(key, value, "must be a path or a list of non-empty paths")
    paths = [os.fspath(item) for item in items]
    if not all(isinstance(path, str) and path for path in paths):
        raise ResourceError(key, value, "must be a path or a list of non-empty paths")
    return tuple(str(path) for path in paths)


def _reserved(name: str) -> bool:
    """Names the batch machinery writes in a task directory."""
    return (
        name.startswith(".")
        or name in {"job.sh", "submission.json", "submitter.json", "outcomes.jsonl"}
        or fnmatch.fnmatchcase(name, "exit*.json")
        or fnmatch.fnmatchcase(name, "started*.json")
        or fnmatch.fnmatchcase(name, "std*.log")
    )


def patterns_for(outputs: Sequence[str], step: int | None) -> list[str]:
    """`outputs` with ``{step}`` replaced by the array step (left alone for a single task)."""
    if step is None:
        return list(outputs)
    return [pattern.replace("{step}", str(step)) for pattern in outputs]


def matching(
    remote: Mapping[str, FileStat], patterns: Sequence[str], logs: Sequence[str]
) -> list[str]:
    """The regular files of `remote` (relative path → stat) that match a pattern or are one
    of `logs`, sorted."""
    return sorted(
        name
        for name, stat in remote.items()
        if stat.kind == "file"
        and (name in logs or any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns))
    )


def select(
    remote: Mapping[str, FileStat],
    names: Sequence[str],
    download_dir: Path,
    *,
    overwrite: bool = False,
    changed_only: bool = True,
) -> list[str]:
    """Which of `names` (paths relative to the task directory, with their `remote` stats)
    to copy into `download_dir`, with gc3libs' semantics (module docstring)."""
    chosen = []
    for name in names:
        try:
            local = (download_dir / name).stat()
        except FileNotFoundError:
            chosen.append(name)  # absent locally: always copied
            continue
        except NotADirectoryError:
            continue  # a local file stands where a directory of the path would be
        if not overwrite:
            continue
        source = remote[name]
        if not changed_only or source.size != local.st_size or source.mtime > local.st_mtime:
            chosen.append(name)
    return chosen


def confined(task_dir: Path, remote_filename: str | os.PathLike[str]) -> Path:
    """`remote_filename` inside `task_dir` (the job's sandbox).

    Raises:
        ValueError: it is absolute, empty or climbs out with ``..``.
    """
    name = os.fspath(remote_filename)
    pure = PurePosixPath(name)
    if not name or pure.is_absolute() or ".." in pure.parts or "\0" in name:
        raise ValueError(f"remote_filename={name!r}: must be a path inside the task directory")
    return task_dir / pure


def write_peeked(data: bytes, local_file: str | os.PathLike[str] | IO[Any]) -> None:
    """Write `data` to a local path (created or overwritten) or to a writable file object
    (bytes, or text decoded as UTF-8 when it takes text); a stream ends just after them."""
    if isinstance(local_file, str | os.PathLike):
        with open(local_file, "wb") as handle:
            handle.write(data)
        return
    try:
        local_file.write(data)
    except TypeError:  # a text stream
        local_file.write(data.decode("utf-8", "replace"))
