"""One staging scenario, run on every transport: an array whose inputs are staged in and whose
outputs are fetched after ``D``; `get_results` in its three modes; `peek` with positive and
negative offsets and sizes into paths and file objects; `free`. File names are hostile."""

from __future__ import annotations

import io
import os
import shlex
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from distributor.batch import BatchDistributor
from distributor.exceptions import UnknownDistributorIdError
from distributor.exit_info import TaskInstanceStatus
from distributor.testing.checks import wait_for_exit_info, wait_until_gone

__all__ = ["HOSTILE_FILE", "run_staging_scenario"]

HOSTILE_FILE = "in put $(touch pwned) 'q\" -x\n.txt"
"""An input file name with spaces, quotes, a newline, shell syntax and a dash word."""
HOSTILE_OUT = "-o ut;$HOME `id` 'r'"


def _expected_out(step: int) -> bytes:
    return f"hello\nfrom a dir\nstep {step}\n".encode()


def run_staging_scenario(
    distributor: BatchDistributor,
    tmp_path: Path,
    resources: Mapping[str, Any],
    *,
    timeout: float = 180.0,
) -> None:
    """The whole scenario (module docstring) against `distributor`."""
    source = tmp_path / "inputs"
    (source / "data dir").mkdir(parents=True)
    (source / HOSTILE_FILE).write_text("hello\n")
    (source / "data dir" / "a.txt").write_text("from a dir\n")
    auto = tmp_path / "fetched automatically"
    command = (
        f"cat {shlex.quote(HOSTILE_FILE)} 'data dir/a.txt' > out-$DISTRIBUTOR_ARRAY_STEP_ID.txt"
        f" && echo step $DISTRIBUTOR_ARRAY_STEP_ID >> out-$DISTRIBUTOR_ARRAY_STEP_ID.txt"
        " && printf %s $DISTRIBUTOR_ARRAY_STEP_ID"
        f" > {shlex.quote(HOSTILE_OUT)}$DISTRIBUTOR_ARRAY_STEP_ID"
        " && echo never-fetched > other.txt"
    )
    request = {
        **resources,
        "inputs": [str(source / HOSTILE_FILE), str(source / "data dir")],
        "outputs": ["out-{step}.txt", HOSTILE_OUT + "{step}"],
        "output_dir": str(auto),
    }
    distributor.start()
    steps = distributor.submit_array_to_batch_distributor(command, "staging", request, 2)
    ids = list(steps.values())
    wait_until_gone(distributor, ids, timeout, 0.5)
    for did in ids:
        info = wait_for_exit_info(distributor, did, timeout, 0.5)
        assert info.error_state is TaskInstanceStatus.DONE, info

    # fetched after D, into output_dir: each step's outputs, never other files
    deadline = time.monotonic() + 30
    while not (auto / "out-1.txt").exists() and time.monotonic() < deadline:
        distributor.get_submitted_or_running(ids)  # settling a task fetches its results
        time.sleep(0.2)
    for step in (0, 1):
        assert (auto / f"out-{step}.txt").read_bytes() == _expected_out(step)
        assert (auto / f"{HOSTILE_OUT}{step}").read_text() == str(step)
    assert not (auto / "other.txt").exists()
    assert not (tmp_path / "pwned").exists()

    # get_results: absent files are always copied
    did = steps[0]
    target = tmp_path / "results"
    target.mkdir()
    first = distributor.get_results(did, target)
    assert {"out-0.txt", f"{HOSTILE_OUT}0"} <= set(first), first
    assert "out-1.txt" not in first and "other.txt" not in first
    out = target / "out-0.txt"
    assert out.read_bytes() == _expected_out(0)

    # overwrite=False alters nothing that exists
    out.write_bytes(b"changed locally, longer than the original file")
    (target / f"{HOSTILE_OUT}0").unlink()
    assert distributor.get_results(did, target) == [f"{HOSTILE_OUT}0"]
    assert out.read_bytes().startswith(b"changed locally")

    # overwrite=True, changed_only=True: another size is copied; same size and newer is not
    assert "out-0.txt" in distributor.get_results(did, target, overwrite=True)
    assert out.read_bytes() == _expected_out(0)
    out.write_bytes(b"x" * len(_expected_out(0)))
    future = time.time() + 3600
    os.utime(out, (future, future))
    assert "out-0.txt" not in distributor.get_results(did, target, overwrite=True)
    assert out.read_bytes() == b"x" * len(_expected_out(0))

    # overwrite=True, changed_only=False: everything
    everything = distributor.get_results(did, target, overwrite=True, changed_only=False)
    assert set(everything) == set(first)
    assert out.read_bytes() == _expected_out(0)

    # peek: offsets from the start and the end, sizes, paths and file objects
    data = _expected_out(0)
    for offset, size in [(0, None), (2, 3), (-5, None), (-5, 2), (100, None), (0, 0)]:
        end = None if size is None else (offset if offset >= 0 else len(data) + offset) + size
        start = offset if offset >= 0 else len(data) + offset
        expected = data[start:end]
        buffer = io.BytesIO(b"prefix")
        buffer.seek(0, io.SEEK_END)
        assert distributor.peek(did, "out-0.txt", buffer, offset, size) == len(expected)
        assert buffer.getvalue() == b"prefix" + expected
        assert buffer.tell() == len(b"prefix") + len(expected)
        local = tmp_path / f"peek {offset} {size}"
        local.write_bytes(b"overwritten")
        distributor.peek(did, "out-0.txt", local, offset, size)
        assert local.read_bytes() == expected
    text = io.StringIO()
    distributor.peek(did, HOSTILE_FILE, text)
    assert text.getvalue() == "hello\n"
    with pytest.raises(ValueError, match="inside the task directory"):
        distributor.peek(did, "../index", io.BytesIO())
    with pytest.raises(FileNotFoundError):
        distributor.peek(did, "not there", io.BytesIO())

    # free: the task directory goes (and only it); the id's files are then unknown
    task_dir = distributor.log_paths(did)[0].parent
    assert distributor.free(did) is True
    assert distributor.submit_root.files.stat(task_dir) is None
    assert distributor.submit_root.files.stat(distributor.submit_root.path) is not None
    with pytest.raises(UnknownDistributorIdError):
        distributor.free(did)
    with pytest.raises(UnknownDistributorIdError):
        distributor.get_results(did, target)
