"""`Files`: the file operations of a batch plugin, on the filesystem where its submit root lives.

A batch plugin touches files in three places: its submit root (task directories, intents, the
index, outcome logs), the records and logs its jobs write there, and the files a task stages in
and out. All of them go through one `Files` object, so that a submit root on a login node's
filesystem (`distributor.batch.shell_files.ShellFiles` over an SSH transport) works exactly like
one on this machine (`LocalFiles`).

Paths are absolute `pathlib.Path` objects naming places on the *target* filesystem; only
`LocalFiles` ever looks them up here. `transfer_files` picks the implementation for a transport.

Contract for implementations:

* A missing path raises `FileNotFoundError`, an existing one where none may be
  `FileExistsError`; other failures raise `OSError` with the target's message, except a full
  disk or quota (`distributor.exceptions.RemoteDiskFullError` on a remote target) and a lost
  connection (`distributor.exceptions.ConnectionLostError`).
* Writes named atomic are atomic: a reader sees the old content or the new, never a part.
* Nothing follows a symbolic link when listing, walking or stating.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

__all__ = ["FileStat", "Files", "LocalFiles", "newest_change"]

Kind = Literal["file", "dir", "link", "other"]


@dataclass(frozen=True, slots=True)
class FileStat:
    """What `Files.stat` knows of a path (its own, symbolic links not followed).

    Attributes:
        kind: ``file``, ``dir``, ``link`` or ``other``; size: bytes; mtime: seconds since the
            epoch (fractional).
    """

    kind: Kind
    size: int
    mtime: float


@runtime_checkable
class Files(Protocol):
    """File operations on one filesystem (see the module docstring for the contract)."""

    @property
    def remote(self) -> bool:
        """True when the filesystem is not this machine's."""
        ...

    def home(self) -> Path:
        """The home directory of the user on the target."""
        ...

    def resolve(self, path: Path) -> Path:
        """`path` made absolute with every symbolic link that exists resolved."""
        ...

    def normalize(self, path: Path) -> Path:
        """`path` for confinement checks of reads and writes: `resolve` where that is cheap,
        else lexically normalised (``..`` and ``.`` removed)."""
        ...

    def mkdir(self, path: Path, *, parents: bool = False, exist_ok: bool = False) -> None:
        """Create directory `path` with mode 0700 (and its parents when asked)."""
        ...

    def read(self, path: Path, offset: int = 0, size: int | None = None) -> bytes:
        """Bytes of file `path` from `offset` (negative: from the end), at most `size` of
        them (None: to the end)."""
        ...

    def write_atomic(self, path: Path, data: bytes) -> None:
        """Replace file `path` with `data` (mode 0600) atomically."""
        ...

    def create(self, path: Path, data: bytes, mode: int = 0o600) -> None:
        """Create file `path` with `data` and `mode`, atomically and only if it does not
        exist (`FileExistsError`)."""
        ...

    def append(self, path: Path, data: bytes) -> None:
        """Append `data` to file `path` (created 0600 if missing; its directory must exist)."""
        ...

    def touch(self, path: Path) -> None:
        """Create an empty file at `path`, or update its modification time."""
        ...

    def stat(self, path: Path) -> FileStat | None:
        """`path`'s own kind, size and modification time; None if it does not exist."""
        ...

    def listdir(self, path: Path) -> dict[str, FileStat]:
        """The entries of directory `path`, name → stat."""
        ...

    def walk(self, path: Path) -> dict[str, FileStat]:
        """Every entry below directory `path`, relative path → stat (links not followed)."""
        ...

    def unlink(self, path: Path, *, missing_ok: bool = False) -> None:
        """Delete file (or link) `path`."""
        ...

    def rmdir(self, path: Path) -> None:
        """Delete empty directory `path`."""
        ...

    def rmtree(self, path: Path) -> None:
        """Delete directory `path` and everything in it (links are removed, not followed)."""
        ...

    def which(self, program: str) -> str | None:
        """The absolute path `program` runs as on the target, None if it is not found."""
        ...

    def put(self, local: Path, target_dir: Path) -> None:
        """Copy local file or directory `local` into directory `target_dir`, under its own
        name (directories recursively; modification times kept)."""
        ...

    def get(self, source_dir: Path, names: Sequence[str], local_dir: Path) -> None:
        """Copy the files `names` (paths relative to `source_dir`) to the same relative paths
        under local directory `local_dir`, replacing what is there; modification times kept."""
        ...


class LocalFiles:
    """`Files` on this machine's filesystem."""

    remote = False

    def home(self) -> Path:
        """``~`` of this process."""
        return Path.home()

    def resolve(self, path: Path) -> Path:
        """`Path.resolve` (non-strict)."""
        return path.expanduser().resolve()

    def normalize(self, path: Path) -> Path:
        """`resolve` (cheap here)."""
        return self.resolve(path)

    def mkdir(self, path: Path, *, parents: bool = False, exist_ok: bool = False) -> None:
        """`Path.mkdir` with mode 0700."""
        path.mkdir(mode=0o700, parents=parents, exist_ok=exist_ok)

    def read(self, path: Path, offset: int = 0, size: int | None = None) -> bytes:
        """Read a byte range of `path`."""
        with open(path, "rb") as handle:
            if offset < 0:
                end = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, end + offset))
            elif offset:
                handle.seek(offset)
            return handle.read() if size is None else handle.read(max(0, size))

    def write_atomic(self, path: Path, data: bytes) -> None:
        """Temporary file in the same directory, then `os.replace`."""
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def create(self, path: Path, data: bytes, mode: int = 0o600) -> None:
        """Write a temporary file, then hard-link it into place (fails if `path` exists)."""
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, mode)
            os.link(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def append(self, path: Path, data: bytes) -> None:
        """Open for appending and write."""
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "ab") as handle:
            handle.write(data)

    def touch(self, path: Path) -> None:
        """`Path.touch`."""
        path.touch()

    def stat(self, path: Path) -> FileStat | None:
        """`os.lstat`."""
        try:
            return _stat_of(path.lstat())
        except FileNotFoundError:
            return None

    def listdir(self, path: Path) -> dict[str, FileStat]:
        """`os.scandir`, entries that vanish meanwhile skipped."""
        found = {}
        with os.scandir(path) as entries:
            for entry in entries:
                try:
                    found[entry.name] = _stat_of(entry.stat(follow_symlinks=False))
                except FileNotFoundError:
                    continue
        return found

    def walk(self, path: Path) -> dict[str, FileStat]:
        """`os.walk` without following links."""
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: no such directory")
        found: dict[str, FileStat] = {}
        for top, dirs, files in os.walk(path):
            for name in [*dirs, *files]:
                full = Path(top) / name
                try:
                    found[str(full.relative_to(path))] = _stat_of(full.lstat())
                except FileNotFoundError:
                    continue
        return found

    def unlink(self, path: Path, *, missing_ok: bool = False) -> None:
        """`Path.unlink`."""
        path.unlink(missing_ok=missing_ok)

    def rmdir(self, path: Path) -> None:
        """`Path.rmdir`."""
        path.rmdir()

    def rmtree(self, path: Path) -> None:
        """`shutil.rmtree` (which never follows links)."""
        shutil.rmtree(path)

    def which(self, program: str) -> str | None:
        """`shutil.which`."""
        return shutil.which(program)

    def put(self, local: Path, target_dir: Path) -> None:
        """`shutil.copy2`, or `shutil.copytree` for a directory (links copied as links)."""
        if local.is_dir():
            shutil.copytree(local, target_dir / local.name, symlinks=True)
        else:
            shutil.copy2(local, target_dir / local.name)

    def get(self, source_dir: Path, names: Sequence[str], local_dir: Path) -> None:
        """`shutil.copy2` each file, through a temporary name beside its destination."""
        for name in names:
            destination = local_dir / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".get.", dir=destination.parent)
            os.close(fd)
            try:
                shutil.copy2(source_dir / name, tmp)
                os.replace(tmp, destination)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise


def _stat_of(result: os.stat_result) -> FileStat:
    mode = result.st_mode
    kind: Kind
    if stat.S_ISLNK(mode):
        kind = "link"
    elif stat.S_ISDIR(mode):
        kind = "dir"
    elif stat.S_ISREG(mode):
        kind = "file"
    else:
        kind = "other"
    return FileStat(kind, result.st_size, result.st_mtime)


def newest_change(directory: FileStat, entries: Iterable[FileStat]) -> float:
    """The newest modification time of a directory and its entries."""
    return max([directory.mtime, *(entry.mtime for entry in entries)])
