"""`ShellFiles` (the file operations an SSH transport runs as commands) behaves like
`LocalFiles` for any file name, checked here through a local byte channel."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distributor.batch import Files, FileStat, LocalFiles, LocalTransport, ShellFiles, SubmitRoot

NAMES = st.text(
    st.characters(codec="utf-8", exclude_characters="/\0"), min_size=1, max_size=24
).filter(lambda name: name not in (".", "..") and len(name.encode()) < 200)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _both() -> list[Files]:
    return [LocalFiles(), ShellFiles(LocalTransport())]


def _shape(found: dict[str, FileStat]) -> dict[str, tuple[str, int | None]]:
    return {
        name: (stat.kind, stat.size if stat.kind == "file" else None)
        for name, stat in found.items()
    }


@SETTINGS
@given(name=NAMES, data=st.binary(max_size=300), offset=st.integers(-400, 400),
       size=st.none() | st.integers(0, 400))  # fmt: skip
def test_reads_writes_and_listings_agree(
    name: str, data: bytes, offset: int, size: int | None
) -> None:
    """For any name and byte range, both implementations write, read, list and walk alike."""
    results = []
    for files in _both():
        with tempfile.TemporaryDirectory() as top:
            base = Path(top)
            files.mkdir(base / name)
            files.write_atomic(base / name / name, data)
            files.append(base / "log", data)
            with pytest.raises(FileExistsError):
                files.create(base / name / name, b"never")
            files.create(base / "job.sh", data, 0o700)
            results.append(
                (
                    files.read(base / name / name, offset, size),
                    _shape(files.listdir(base)),
                    _shape(files.walk(base)),
                    (base / "job.sh").stat().st_mode & 0o777,
                    files.stat(base / "absent"),
                )
            )
    assert results[0] == results[1]


@SETTINGS
@given(names=st.lists(NAMES, min_size=1, max_size=4, unique=True))
def test_get_and_put_copy_any_names(names: list[str]) -> None:
    """Files copied out (`get`) and trees copied in (`put`) keep every name and byte."""
    shell = ShellFiles(LocalTransport())
    with tempfile.TemporaryDirectory() as top:
        source, out, into = Path(top, "source"), Path(top, "out"), Path(top, "into")
        for directory in (source, out, into):
            directory.mkdir()
        for index, name in enumerate(names):
            (source / name).write_bytes(name.encode() * index)
        shell.get(source, names, out)
        assert {p.name: p.read_bytes() for p in out.iterdir()} == {
            p.name: p.read_bytes() for p in source.iterdir()
        }
        shell.put(source, into)
        assert sorted(p.name for p in (into / "source").iterdir()) == sorted(names)


def test_missing_paths_raise_file_not_found() -> None:
    """Reading, listing or deleting what is not there is FileNotFoundError, as locally."""
    shell = ShellFiles(LocalTransport())
    with tempfile.TemporaryDirectory() as top:
        for call in (
            lambda: shell.read(Path(top, "nope")),
            lambda: shell.listdir(Path(top, "nope")),
            lambda: shell.walk(Path(top, "nope")),
            lambda: shell.unlink(Path(top, "nope")),
        ):
            with pytest.raises(FileNotFoundError):
                call()
        shell.unlink(Path(top, "nope"), missing_ok=True)


def test_a_submit_root_on_shell_files_confines_deletion(tmp_path: Path) -> None:
    """A submit root kept through ShellFiles refuses to delete through a planted symlink."""
    root = SubmitRoot(tmp_path / "root", ShellFiles(LocalTransport()))
    root.ensure()
    outside = tmp_path / "precious"
    outside.mkdir()
    (root.path / "link").symlink_to(outside)
    with pytest.raises(ValueError, match="not inside the submit root"):
        root.remove(root.path / "link" / "x")
    task = root.new_task_dir("t")
    root.write_script(task, "#!/bin/sh\n")
    assert root.remove(task) and outside.is_dir()


def test_relative_paths_are_refused() -> None:
    """ShellFiles takes absolute paths only (a relative one would depend on the login dir)."""
    with pytest.raises(ValueError, match="absolute"):
        ShellFiles(LocalTransport()).read(Path("relative"))


def test_binary_round_trip() -> None:
    """Bytes that are not UTF-8 survive a write and a read."""
    shell = ShellFiles(LocalTransport())
    data = bytes(range(256)) * 3
    with tempfile.TemporaryDirectory() as top:
        shell.write_atomic(Path(top, "b"), data)
        assert shell.read(Path(top, "b")) == data
        assert io.BytesIO(shell.read(Path(top, "b"), -10)).read() == data[-10:]
