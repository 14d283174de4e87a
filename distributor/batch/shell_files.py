"""`ShellFiles`: `distributor.batch.files.Files` as POSIX commands run through a byte channel.

Every operation is one command: ``sh -c SCRIPT sh ARG...`` where SCRIPT is a constant of this
module and every value (paths, names, sizes) is a positional argument — so the remote shell
line that `distributor.batch.ssh.SSHTransport` quotes never contains a value inside code. The
target needs a POSIX shell, GNU coreutils (``realpath -m``, ``stat -c``, ``dd
iflag=skip_bytes``), GNU find (``-printf``) and GNU tar: any Linux login node.

Paths must be absolute. Copies are tar streams (`put`, `get`), so names with spaces, quotes,
newlines or leading dashes travel unchanged.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import IO, Protocol

from distributor.batch.files import FileStat, Kind
from distributor.batch.transport import ExecResult
from distributor.exceptions import RemoteDiskFullError

__all__ = ["ByteChannel", "ShellFiles"]

_KINDS: dict[str, Kind] = {"f": "file", "d": "dir", "l": "link"}
_FULL = re.compile(r"no space left on device|disk quota exceeded", re.IGNORECASE)

_READ = """\
if [ "$2" = 0 ] && [ "$3" = - ]; then exec cat -- "$1"; fi
s=$(stat -L -c %s -- "$1") || exit 1
o=$2
if [ "$o" -lt 0 ]; then o=$((s + o)); [ "$o" -lt 0 ] && o=0; fi
if [ "$3" = - ]; then exec dd if="$1" iflag=skip_bytes skip="$o" bs=65536 status=none; fi
exec dd if="$1" iflag=skip_bytes,count_bytes skip="$o" count="$3" bs=65536 status=none
"""
_WRITE_ATOMIC = """\
umask 077
t=$(mktemp -p "$2" .tmp.XXXXXXXX) || exit 1
if cat >"$t" && mv -f -- "$t" "$1"; then exit 0; fi
rm -f -- "$t"; exit 1
"""
_CREATE = """\
umask 077
t=$(mktemp -p "$2" .tmp.XXXXXXXX) || exit 1
cat >"$t" && chmod "$3" -- "$t" && ln -- "$t" "$1"; r=$?
rm -f -- "$t"; exit $r
"""
_APPEND = 'umask 077; cat >>"$1"'
_MKDIR = """\
umask 077
if [ "$2" = p ]; then exec mkdir -p -- "$1"; fi
if [ "$3" = e ] && [ -d "$1" ] && [ ! -L "$1" ]; then exit 0; fi
exec mkdir -- "$1"
"""
_STAT = "exec find \"$1\" -maxdepth 0 -printf '%y\\0%s\\0%T@\\0'"
_LIST = """\
[ -d "$1" ] && [ ! -L "$1" ] || { echo "$1: No such file or directory" >&2; exit 1; }
find "$1" -mindepth 1 $2 -printf '%P\\0%y\\0%s\\0%T@\\0'; exit 0
"""
_PUT = 'cd -- "$1" && exec tar -x -f - --no-same-owner --no-same-permissions'
_GET_LIST = """\
cd -- "$1" || exit 1
l=$(mktemp) || exit 1
cat >"$l" && tar -c -f - --null --verbatim-files-from -T "$l"; r=$?
rm -f -- "$l"; exit $r
"""


class ByteChannel(Protocol):
    """Runs one argv with bytes in and out (`LocalTransport`, `SSHTransport`)."""

    def exec_bytes(self, argv: Sequence[str], *, stdin: bytes | None, timeout: float) -> ExecResult:
        """Run `argv`; see `distributor.batch.transport.LocalTransport.exec_bytes`."""
        ...


class ShellFiles:
    """`Files` through `channel` (module docstring).

    Args:
        channel: where the commands run (an `SSHTransport`; a `LocalTransport` for tests).
        timeout: seconds per operation.
    """

    remote = True

    def __init__(self, channel: ByteChannel, *, timeout: float = 120.0) -> None:
        self._channel = channel
        self._timeout = timeout
        self.destination = str(getattr(channel, "destination", "localhost"))
        self._home: Path | None = None

    # --- running ----------------------------------------------------------------------------

    def _sh(self, script: str, *args: str, stdin: bytes | None = None, path: object = "") -> bytes:
        result = self._channel.exec_bytes(
            ["sh", "-c", script, "sh", *args], stdin=stdin, timeout=self._timeout
        )
        if result.returncode == 0:
            return result.stdout
        raise self._error(result, path)

    def _error(self, result: ExecResult, path: object) -> OSError | RemoteDiskFullError:
        text = result.stderr.strip()
        line = text.splitlines()[-1] if text else f"exit status {result.returncode}"
        where = f"{self.destination}:{path}"
        if _FULL.search(text):
            return RemoteDiskFullError(self.destination, f"no space left writing {str(path)!r}")
        lowered = text.lower()
        if "no such file or directory" in lowered or "cannot stat" in lowered:
            return FileNotFoundError(2, line, where)
        if "file exists" in lowered:
            return FileExistsError(17, line, where)
        if "not a directory" in lowered:
            return NotADirectoryError(20, line, where)
        if "permission denied" in lowered:
            return PermissionError(13, line, where)
        return OSError(5, line, where)

    @staticmethod
    def _abs(path: Path) -> str:
        text = str(path)
        if not text.startswith("/"):
            raise ValueError(f"{text!r}: remote paths must be absolute")
        return text

    # --- Files ------------------------------------------------------------------------------

    def home(self) -> Path:
        """``$HOME`` on the target (asked once)."""
        if self._home is None:
            self._home = Path(self._sh('printf %s "$HOME"').decode())
        return self._home

    def resolve(self, path: Path) -> Path:
        """``realpath -m``."""
        if str(path).startswith("~"):
            path = self.home() / str(path)[1:].lstrip("/")
        out = self._sh('exec realpath -m -- "$1"', self._abs(path), path=path)
        return Path(out.decode().rstrip("\n"))

    def normalize(self, path: Path) -> Path:
        """Lexically normalised (no round trip)."""
        if str(path).startswith("~"):
            path = self.home() / str(path)[1:].lstrip("/")
        return Path(os.path.normpath(self._abs(path)))

    def mkdir(self, path: Path, *, parents: bool = False, exist_ok: bool = False) -> None:
        """``mkdir`` under umask 077."""
        flags = ("p" if parents else "-", "e" if exist_ok else "-")
        self._sh(_MKDIR, self._abs(path), *flags, path=path)

    def read(self, path: Path, offset: int = 0, size: int | None = None) -> bytes:
        """``cat``, or ``dd`` for a byte range."""
        span = "-" if size is None else str(max(0, size))
        return self._sh(_READ, self._abs(path), str(int(offset)), span, path=path)

    def write_atomic(self, path: Path, data: bytes) -> None:
        """``mktemp`` beside it, ``cat``, ``mv``."""
        self._sh(_WRITE_ATOMIC, self._abs(path), str(path.parent), stdin=data, path=path)

    def create(self, path: Path, data: bytes, mode: int = 0o600) -> None:
        """``mktemp`` beside it, ``cat``, ``chmod``, ``ln`` (fails if `path` exists)."""
        self._sh(_CREATE, self._abs(path), str(path.parent), f"{mode:o}", stdin=data, path=path)

    def append(self, path: Path, data: bytes) -> None:
        """``cat >>``."""
        self._sh(_APPEND, self._abs(path), stdin=data, path=path)

    def touch(self, path: Path) -> None:
        """``touch``."""
        self._sh('exec touch -- "$1"', self._abs(path), path=path)

    def stat(self, path: Path) -> FileStat | None:
        """``find -maxdepth 0 -printf``."""
        try:
            out = self._sh(_STAT, self._abs(path), path=path)
        except FileNotFoundError:
            return None
        kind, size, mtime = out.split(b"\0")[:3]
        return FileStat(_KINDS.get(kind.decode(), "other"), int(size), float(mtime))

    def listdir(self, path: Path) -> dict[str, FileStat]:
        """``find -mindepth 1 -maxdepth 1 -printf``."""
        return self._list(path, "-maxdepth 1")

    def walk(self, path: Path) -> dict[str, FileStat]:
        """``find -mindepth 1 -printf``."""
        return self._list(path, "")

    def _list(self, path: Path, depth: str) -> dict[str, FileStat]:
        fields = self._sh(_LIST.replace("$2", depth), self._abs(path), path=path).split(b"\0")
        found = {}
        for index in range(0, len(fields) - 3, 4):
            name, kind, size, mtime = fields[index : index + 4]
            found[os.fsdecode(name)] = FileStat(
                _KINDS.get(kind.decode(), "other"), int(size), float(mtime)
            )
        return found

    def unlink(self, path: Path, *, missing_ok: bool = False) -> None:
        """``rm -f`` (after checking it exists unless `missing_ok`)."""
        script = 'exec rm -f -- "$1"' if missing_ok else 'exec rm -- "$1"'
        self._sh(script, self._abs(path), path=path)

    def rmdir(self, path: Path) -> None:
        """``rmdir``."""
        self._sh('exec rmdir -- "$1"', self._abs(path), path=path)

    def rmtree(self, path: Path) -> None:
        """``rm -rf`` (never follows links)."""
        self._sh('exec rm -rf -- "$1"', self._abs(path), path=path)

    def which(self, program: str) -> str | None:
        """``command -v`` in the login shell's ``PATH``."""
        try:
            out = self._sh('command -v "$1"', program)
        except OSError:
            return None
        found = out.decode().strip()
        return found if found.startswith("/") else None

    def put(self, local: Path, target_dir: Path) -> None:
        """A tar stream of `local` unpacked in `target_dir`."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            archive.add(local, arcname=local.name)
        self._sh(_PUT, self._abs(target_dir), stdin=buffer.getvalue(), path=target_dir)

    def get(self, source_dir: Path, names: Sequence[str], local_dir: Path) -> None:
        """A tar stream of `names` from `source_dir`, each file written to a temporary name
        beside its destination and renamed into place."""
        if not names:
            return
        listing = b"".join(os.fsencode(name) + b"\0" for name in names)
        archive_bytes = self._sh(_GET_LIST, self._abs(source_dir), stdin=listing, path=source_dir)
        wanted = {str(PurePosixPath(name)) for name in names}
        with tarfile.open(fileobj=io.BytesIO(archive_bytes), mode="r") as archive:
            for member in archive:
                relative = str(PurePosixPath(member.name))
                if not member.isfile() or relative not in wanted:
                    continue  # only what was asked for; never a link or a path outside
                _write_local(local_dir, relative, archive.extractfile(member), member.mtime)


def _write_local(local_dir: Path, relative: str, source: IO[bytes] | None, mtime: float) -> None:
    destination = local_dir / relative
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".get.", dir=destination.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if source is not None:
                while chunk := source.read(1 << 20):
                    handle.write(chunk)
        os.utime(tmp, (mtime, mtime))
        os.replace(tmp, destination)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
