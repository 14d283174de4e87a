"""`SubmitRoot`: the directory tree where a batch plugin keeps job scripts, logs and exit records.

Layout::

    <root>/                         0700, created on demand
      <label>-<time>-<random>/      one task directory per submission (a task or an array chunk)
        submission.json             the intent: name, job name, array; written before the
                                    scheduler is asked, so a crash cannot hide a submission
        submitter.json              the submit command's process (host, pid, start time)
        job.sh                      the job script, 0700
        ...                         logs, start and exit records written by the job
        outcomes.jsonl              exit info decided for its tasks, and terminations asked for
      index/<job-key>.json          job key (the scheduler's job id) → task directory + metadata
      names/<name>/<task dir>       the submissions made under each name (empty marker files)
      .pruned                       when `SubmitRoot.prune_when_due` last pruned the tree

The root must be visible under the same path on the submit host and on the compute nodes (a
shared filesystem), because jobs write their logs and exit records into it. Its path is
restricted to ``[A-Za-z0-9._/+@,:=~-]`` so it can be written into directives unquoted.

Deletion is confined: `SubmitRoot.remove` resolves the path (following symlinks) and refuses
anything that is not strictly inside the resolved root, so neither a crafted label, a symlink
planted in the tree nor a stale index entry can make it delete outside the root.

Every file operation goes through a `distributor.batch.files.Files` (this machine's by default;
a login node's with an SSH transport), so the same tree can live on a remote filesystem.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from distributor.batch.files import Files, LocalFiles, newest_change
from distributor.batch.script import safe_name
from distributor.exceptions import DistributorError, SchedulerOutputError
from distributor.logs import get_logger
from distributor.paths import cluster_state_dir

__all__ = ["Submission", "SubmitRoot", "SubmitRootError", "TaskDirectory"]

log = get_logger(__name__)

_SAFE_PATH = re.compile(r"[A-Za-z0-9._/+@,:=~-]+")
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@\[\]-]{0,249}")  # + ".json" fits a file name
_INDEX = "index"
_NAMES = "names"
_KEYS = ".index-keys"
_PRUNED = ".pruned"
_INTENT = "submission.json"
_OUTCOMES = "outcomes.jsonl"
_SUBMITTER = "submitter.json"
_RESERVED = {_INDEX, _NAMES}


def _name_dir(name: str) -> str:
    """A file name standing for a submission name: quoted, or hashed when long."""
    quoted = quote(name, safe="")
    if len(quoted) <= 120 and not quoted.startswith("."):
        return quoted
    return "h-" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


def _json_bytes(data: Mapping[str, Any]) -> bytes:
    return (json.dumps(data) + "\n").encode("utf-8")


class SubmitRootError(DistributorError, ValueError):
    """A submit-root path is unusable, or an operation would leave the root.

    Attributes:
        path: the offending path; reason: what is wrong with it.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"submit root path {str(path)!r}: {reason}")


@dataclass(frozen=True, slots=True)
class TaskDirectory:
    """A registered task directory and what the plugin stored about it.

    Attributes:
        key: the job key it was registered under (usually the scheduler's job id).
        path: the directory.
        meta: plugin data (array offset, length, requested memory, ...), JSON-compatible.
    """

    key: str
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Submission:
    """A submission as its task directory recorded it before the scheduler was asked.

    Attributes:
        task_dir: its directory.
        name: the name it was submitted under; job_name: the scheduler's job name.
        array: ``(offset, length)`` of an array chunk, None for a single task.
        created: wall-clock time of the intent.
        keys: the job keys registered for it; empty while the scheduler's answer is unknown.
    """

    task_dir: Path
    name: str
    job_name: str
    array: tuple[int, int] | None
    created: float
    keys: tuple[str, ...] = ()


class SubmitRoot:
    """A confined directory tree for job scripts, logs and exit records (module docstring).

    Args:
        root: the directory; ``~`` is expanded and the path is resolved (on `files`).
        files: the filesystem it lives on (default: this machine's).

    Raises:
        SubmitRootError: the path contains characters outside ``[A-Za-z0-9._/+@,:=~-]``,
            or is ``/``.
    """

    def __init__(self, root: str | os.PathLike[str], files: Files | None = None) -> None:
        self._files: Files = files if files is not None else LocalFiles()
        resolved = self._files.resolve(Path(root))
        if not _SAFE_PATH.fullmatch(str(resolved)):
            bad = sorted({ch for ch in str(resolved) if not _SAFE_PATH.fullmatch(ch)})
            raise SubmitRootError(
                resolved,
                "contains characters that cannot appear in job-script directives: "
                + ", ".join(repr(ch) for ch in bad)
                + "; choose a root without spaces, quotes, '%', '$' or '#'",
            )
        if resolved == Path(resolved.anchor):
            raise SubmitRootError(resolved, "the filesystem root cannot be a submit root")
        self._root = resolved

    @staticmethod
    def default_path(scheduler: str, cluster_name: str, *, remote: bool = False) -> Path:
        """``$DISTRIBUTOR_SUBMIT_ROOT/<scheduler>/<cluster>``, else the cluster's state
        directory, ``$XDG_STATE_HOME/distributor/<cluster>`` (`distributor.paths`; the
        cluster name made `safe_name`); on a `remote` filesystem
        ``~/.distributor/<scheduler>/<cluster>`` there."""
        if remote:
            return Path("~/.distributor") / scheduler / safe_name(cluster_name)
        explicit = os.environ.get("DISTRIBUTOR_SUBMIT_ROOT")
        if explicit:
            return Path(explicit) / scheduler / safe_name(cluster_name)
        return cluster_state_dir(safe_name(cluster_name))

    @property
    def path(self) -> Path:
        """The resolved root directory."""
        return self._root

    @property
    def files(self) -> Files:
        """The filesystem the root lives on."""
        return self._files

    def ensure(self) -> Path:
        """Create the root (mode 0700) if needed and return it."""
        self._files.mkdir(self._root, parents=True, exist_ok=True)
        return self._root

    def read_file(self, path: Path) -> str | None:
        """The text of a file inside the root (a record, a log); None if it does not exist.

        Raises:
            SubmitRootError: `path` is not inside the root.
        """
        try:
            return self._files.read(self._inside(path)).decode("utf-8", "replace")
        except FileNotFoundError:
            return None

    def glob(self, task_dir: Path, pattern: str) -> list[Path]:
        """The entries of `task_dir` whose names match `pattern` (`fnmatch`), sorted."""
        import fnmatch

        try:
            names = self._files.listdir(self._inside(task_dir))
        except FileNotFoundError:
            return []
        return [task_dir / name for name in sorted(names) if fnmatch.fnmatchcase(name, pattern)]

    def new_task_dir(self, label: str) -> Path:
        """Create and return a fresh, empty task directory (0700) named after `label`."""
        self.ensure()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for _ in range(10):
            path = self._root / f"{safe_name(label, max_length=40)}-{stamp}-{secrets.token_hex(4)}"
            try:
                self._files.mkdir(path)
            except FileExistsError:
                continue
            return path
        raise SubmitRootError(self._root, "could not create a unique task directory")

    def write_script(self, task_dir: Path, text: str, name: str = "job.sh") -> Path:
        """Write `text` as a new executable file (0700) in `task_dir` and return its path.

        Raises:
            SubmitRootError: `task_dir` is not inside the root, or `name` is not a plain name.
            FileExistsError: the file already exists (it is never overwritten).
        """
        directory = self._inside(task_dir)
        if name != safe_name(name):
            raise SubmitRootError(name, "not a plain file name")
        path = directory / name
        self._files.create(path, text.encode("utf-8"), 0o700)  # atomic, never overwrites
        return path

    def register(self, key: str, task_dir: Path, **meta: Any) -> TaskDirectory:
        """Record (atomically) that job `key` lives in `task_dir`; an older entry is replaced.

        Raises:
            SubmitRootError: `key` is not ``[A-Za-z0-9][A-Za-z0-9._-]*`` or `task_dir` is
                outside the root.
        """
        entry = TaskDirectory(self._key(key), self._inside(task_dir), dict(meta))
        index = self._root / _INDEX
        self._files.mkdir(index, exist_ok=True)
        self._files.write_atomic(
            index / f"{entry.key}.json",
            _json_bytes({"key": entry.key, "path": str(entry.path), "meta": entry.meta}),
        )
        # so that `remove` can drop the entry without a scan
        self._files.append(entry.path / _KEYS, (entry.key + "\n").encode())
        return entry

    def lookup(self, key: str) -> TaskDirectory | None:
        """Return the entry registered under `key`, or None if there is none.

        Raises:
            SchedulerOutputError: the index file exists but is corrupt (raw text kept).
        """
        if not _KEY.fullmatch(key):
            return None
        try:
            text = self._files.read(self._root / _INDEX / f"{key}.json").decode("utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
            path = self._inside(Path(data["path"]))
            meta = data.get("meta", {})
            if not isinstance(meta, dict):
                raise TypeError("meta is not an object")
        except (ValueError, TypeError, KeyError, SubmitRootError) as exc:
            raise SchedulerOutputError(
                f"corrupt submit-root index entry {key!r} ({exc})", text
            ) from exc
        return TaskDirectory(key, path, meta)

    def write_intent(
        self, task_dir: Path, *, name: str, job_name: str, array: tuple[int, int] | None
    ) -> None:
        """Record, before the scheduler is asked, that `task_dir` holds a submission named
        `name`, and list it under that name (`submissions`).

        Raises:
            SubmitRootError: `task_dir` is not inside the root.
        """
        directory = self._inside(task_dir)
        self._files.write_atomic(
            directory / _INTENT,
            _json_bytes(
                {
                    "name": name,
                    "job_name": job_name,
                    "array": list(array) if array is not None else None,
                    "created": time.time(),
                }
            ),
        )
        marker_dir = self._root / _NAMES / _name_dir(name)
        self._files.mkdir(marker_dir, parents=True, exist_ok=True)
        self._files.touch(marker_dir / directory.name)

    def submissions(self, name: str) -> list[Submission]:
        """The submissions recorded under exactly `name`, oldest first (directories that
        were removed, or whose intent is unreadable, are skipped)."""
        marker_dir = self._root / _NAMES / _name_dir(name)
        try:
            markers = self._files.listdir(marker_dir)
        except FileNotFoundError:
            return []
        found = []
        for marker in markers:
            task_dir = self._root / marker
            try:
                data = json.loads(self._files.read(task_dir / _INTENT).decode("utf-8"))
                array = data["array"]
                submission = Submission(
                    task_dir,
                    str(data["name"]),
                    str(data["job_name"]),
                    None if array is None else (int(array[0]), int(array[1])),
                    float(data["created"]),
                    tuple(self._registered_keys(task_dir)),
                )
            except FileNotFoundError:
                continue
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                log.warning("submission_intent_corrupt", task_dir=str(task_dir), error=str(exc))
                continue
            if submission.name == name:  # a hashed name could in theory collide
                found.append(submission)
        found.sort(key=lambda sub: (sub.created, sub.task_dir.name))
        return found

    def record_submitter(self, task_dir: Path, *, host: str, pid: int, ticks: int | None) -> None:
        """Record which process carries `task_dir`'s submit command (`submitter`)."""
        self._files.write_atomic(
            self._inside(task_dir) / _SUBMITTER,
            _json_bytes({"host": host, "pid": pid, "ticks": ticks}),
        )

    def submitter(self, task_dir: Path) -> dict[str, Any] | None:
        """The submit command's process as `record_submitter` wrote it, or None."""
        try:
            data = json.loads(self._files.read(self._inside(task_dir) / _SUBMITTER).decode())
        except (FileNotFoundError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def record_outcomes(self, task_dir: Path, entries: Iterable[Mapping[str, Any]]) -> None:
        """Append `entries` (JSON objects with an ``id``) to `task_dir`'s outcome log.

        The log outlives the process: a distributor adopting an id reads it back
        (`read_outcomes`), so exit info decided once, and terminations asked for, stay so.
        """
        lines = "".join(json.dumps(dict(entry)) + "\n" for entry in entries)
        if not lines:
            return
        self._files.append(self._inside(task_dir) / _OUTCOMES, lines.encode("utf-8"))

    def read_outcomes(self, task_dir: Path) -> dict[str, dict[str, Any]]:
        """`task_dir`'s outcome log merged per id (later entries update earlier ones); a torn
        last line (the writer died mid-write) is ignored."""
        merged: dict[str, dict[str, Any]] = {}
        try:
            text = self._files.read(self._inside(task_dir) / _OUTCOMES).decode("utf-8", "replace")
        except FileNotFoundError:
            return merged
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                merged.setdefault(entry["id"], {}).update(entry)
        return merged

    def contains(self, path: str | os.PathLike[str]) -> bool:
        """True if `path`, resolved, lies strictly inside the root."""
        resolved = self._files.resolve(Path(path))
        return resolved != self._root and resolved.is_relative_to(self._root)

    def remove(self, path: str | os.PathLike[str]) -> bool:
        """Delete the task directory (or file) at `path` and its index entries.

        Returns:
            True if something was deleted, False if it did not exist.

        Raises:
            SubmitRootError: `path` resolves outside the root, to the root itself, or to the
                index directory.
        """
        target = self._inside(Path(path), strict=True)
        if target.parent == self._root and target.name in _RESERVED:
            raise SubmitRootError(target, "the index directory is not a task directory")
        found = self._files.stat(target)
        if found is None:
            return False
        if found.kind == "dir":
            self._forget(target)
            self._unlist(target)
            self._files.rmtree(target)
        else:
            self._files.unlink(target, missing_ok=True)
        log.debug("task_dir_removed", path=str(target))
        return True

    def prune(self, older_than: float) -> list[Path]:
        """Remove task directories in which nothing changed for `older_than` seconds.

        "Changed" is the newest modification time of the directory and of every entry in it,
        so a job that still appends to its log keeps its directory. Symlinks are skipped.

        Returns:
            The removed directories.
        """
        try:
            children = self._files.listdir(self._root)
        except (FileNotFoundError, NotADirectoryError):
            return []
        cutoff = time.time() - older_than
        removed = []
        for name in sorted(children):
            child = self._root / name
            if name in _RESERVED or children[name].kind != "dir":
                continue  # links are never followed
            try:
                changed = newest_change(children[name], self._files.listdir(child).values())
            except FileNotFoundError:
                continue
            if changed < cutoff and self.remove(child):
                removed.append(child)
        if removed:
            log.info("submit_root_pruned", root=str(self._root), removed=len(removed))
        return removed

    def prune_when_due(self, older_than: float, every: float = 86400.0) -> list[Path]:
        """`prune`, at most once per `every` seconds for this root, so that frequent starts
        stay cheap on a root with many task directories (a ``.pruned`` stamp file records
        the last run).

        Returns:
            The removed directories (empty when pruning was not due).
        """
        stamp = self._root / _PRUNED
        last = self._files.stat(stamp)
        if last is not None and time.time() - last.mtime < every:
            return []
        self.ensure()
        self._files.touch(stamp)
        return self.prune(older_than)

    def _inside(self, path: Path, *, strict: bool = False) -> Path:
        """`path` if it lies strictly inside the root: resolved (links followed) when
        `strict` (before a deletion), else as cheaply as the filesystem allows."""
        resolved = self._files.resolve(path) if strict else self._files.normalize(path)
        if resolved == self._root or not resolved.is_relative_to(self._root):
            raise SubmitRootError(path, f"is not inside the submit root {str(self._root)!r}")
        return resolved

    def _key(self, key: str) -> str:
        if not _KEY.fullmatch(key):
            raise SubmitRootError(key, "job keys must match [A-Za-z0-9][A-Za-z0-9._@[]-]*")
        return key

    def _registered_keys(self, task_dir: Path) -> list[str]:
        try:
            return self._files.read(task_dir / _KEYS).decode("utf-8", "replace").split()
        except FileNotFoundError:
            return []

    def _unlist(self, task_dir: Path) -> None:
        """Drop `task_dir`'s marker from the name listing (`write_intent`)."""
        try:
            name = json.loads(self._files.read(task_dir / _INTENT).decode("utf-8"))["name"]
        except (OSError, ValueError, TypeError, KeyError):
            return
        marker_dir = self._root / _NAMES / _name_dir(str(name))
        self._files.unlink(marker_dir / task_dir.name, missing_ok=True)
        with contextlib.suppress(OSError):  # other submissions of the name remain
            self._files.rmdir(marker_dir)

    def _forget(self, task_dir: Path) -> None:
        for key in self._registered_keys(task_dir):
            try:
                entry = self.lookup(key)
            except SchedulerOutputError:
                continue  # corrupt entries are left for a human to inspect
            if entry is not None and entry.path == task_dir:
                self._files.unlink(self._root / _INDEX / f"{key}.json", missing_ok=True)
