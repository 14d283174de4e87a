"""SubmitRoot: private task directories, an id index, and deletion confined to the root."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from distributor import SchedulerOutputError
from distributor.batch import SubmitRoot, SubmitRootError


def test_task_dirs_and_scripts_are_private(tmp_path: Path) -> None:
    """Task directories and scripts are 0700 and named after a cleaned label."""
    root = SubmitRoot(tmp_path / "root")
    task = root.new_task_dir("my task/../../etc")
    script = root.write_script(task, "#!/bin/sh\n")
    assert task.parent == root.path and task.name.startswith("my_task_.._.._etc-")
    assert stat.S_IMODE(task.stat().st_mode) == 0o700
    assert stat.S_IMODE(script.stat().st_mode) == 0o700
    assert stat.S_IMODE(root.path.stat().st_mode) == 0o700


def test_scripts_are_never_overwritten(tmp_path: Path) -> None:
    """Writing the same script twice fails instead of replacing it."""
    root = SubmitRoot(tmp_path)
    task = root.new_task_dir("x")
    root.write_script(task, "a")
    with pytest.raises(FileExistsError):
        root.write_script(task, "b")


@pytest.mark.parametrize("bad", ["/tmp/with space", "/tmp/per%cent", "/tmp/$HOME", "/"])
def test_unsafe_roots_are_rejected(bad: str) -> None:
    """Roots that cannot be written into directives, and /, are refused with the path named."""
    with pytest.raises(SubmitRootError) as caught:
        SubmitRoot(bad)
    assert "submit root" in str(caught.value)


def test_index_round_trip_and_corruption(tmp_path: Path) -> None:
    """A registered key maps back to its directory and metadata; a corrupt entry says so."""
    root = SubmitRoot(tmp_path)
    task = root.new_task_dir("a")
    root.register("123", task, offset=1001, length=5)
    entry = root.lookup("123")
    assert entry is not None and entry.path == task and entry.meta == {"offset": 1001, "length": 5}
    assert root.lookup("999") is None and root.lookup("../etc/passwd") is None
    (root.path / "index" / "123.json").write_text("{not json")
    with pytest.raises(SchedulerOutputError) as caught:
        root.lookup("123")
    assert caught.value.raw == "{not json"


def test_bad_keys_and_outside_dirs_cannot_be_registered(tmp_path: Path) -> None:
    """Keys with path characters and directories outside the root are refused."""
    root = SubmitRoot(tmp_path / "root")
    task = root.new_task_dir("a")
    with pytest.raises(SubmitRootError):
        root.register("../x", task)
    with pytest.raises(SubmitRootError):
        root.register("1", tmp_path)


def test_remove_deletes_inside_and_drops_index_entries(tmp_path: Path) -> None:
    """Removing a task directory deletes it and the index entries pointing at it."""
    root = SubmitRoot(tmp_path)
    task = root.new_task_dir("a")
    root.register("5", task)
    assert root.remove(task) and not task.exists() and root.lookup("5") is None
    assert not root.remove(task)


def test_remove_never_leaves_the_root(tmp_path: Path) -> None:
    """The root itself, paths outside it, .. tricks and symlinks out are all refused."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    root = SubmitRoot(tmp_path / "root")
    root.ensure()
    os.symlink(outside, root.path / "link")
    for target in [root.path, outside, root.path / ".." / "outside", root.path / "link"]:
        with pytest.raises(SubmitRootError):
            root.remove(target)
    with pytest.raises(SubmitRootError):
        root.remove(root.path / "index")
    assert (outside / "precious").read_text() == "keep"
    assert root.contains(root.path / "x") and not root.contains(outside)


def test_prune_removes_only_old_task_dirs(tmp_path: Path) -> None:
    """prune deletes task directories older than the cutoff, with their index entries, and
    skips symlinks."""
    root = SubmitRoot(tmp_path / "root")
    old, new = root.new_task_dir("old"), root.new_task_dir("new")
    root.register("17", old)
    (old / "job.log").write_text("done\n")
    for path in [*old.iterdir(), old]:
        os.utime(path, (1, 1))
    os.symlink(tmp_path, root.path / "sneaky")
    assert root.prune(3600) == [old]
    assert new.exists() and (root.path / "sneaky").is_symlink()
    assert root.lookup("17") is None


def test_prune_keeps_a_directory_whose_log_still_grows(tmp_path: Path) -> None:
    """A long job's directory is old, but the log it appends to is not: it stays."""
    root = SubmitRoot(tmp_path / "root")
    running = root.new_task_dir("running")
    (running / "job.log").write_text("still going\n")
    os.utime(running, (1, 1))
    assert root.prune(3600) == []
    os.utime(running / "job.log", (1, 1))
    assert root.prune(3600) == [running]


def test_prune_when_due_runs_at_most_once_per_interval(tmp_path: Path) -> None:
    """A second call within the interval does nothing; once the stamp is old it prunes again."""
    root = SubmitRoot(tmp_path / "root")
    first = root.new_task_dir("first")
    os.utime(first, (1, 1))
    assert root.prune_when_due(3600, every=86400) == [first]
    second = root.new_task_dir("second")
    os.utime(second, (1, 1))
    assert root.prune_when_due(3600, every=86400) == []
    os.utime(root.path / ".pruned", (1, 1))
    assert root.prune_when_due(3600, every=86400) == [second]
