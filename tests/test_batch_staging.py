"""Staging with the local transport (`distributor.batch.staging`, `BatchDistributor`'s
``get_results``, ``peek`` and ``free``) and gc3libs' copy rules as a property."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distributor.batch import BatchDistributor, FileStat, PollPolicy
from distributor.batch.staging import select, split_staging
from distributor.exceptions import ResourceError
from tests.spawn_scheduler import SpawnScheduler
from tests.staging_scenario import run_staging_scenario

POLICY = PollPolicy(min_interval=0.05, max_interval=0.2, accounting_interval=0.2,
                    accounting_delay=0.5, lost_grace=5.0)  # fmt: skip


@pytest.fixture
def scheduler() -> Iterator[SpawnScheduler]:
    """A scheduler running tasks as local processes."""
    made = SpawnScheduler()
    yield made
    made.close()


def test_the_staging_scenario_with_the_local_transport(
    tmp_path: Path, scheduler: SpawnScheduler
) -> None:
    """Inputs in, outputs out after D, get_results in three modes, peek and free, all with
    the local transport."""
    distributor = BatchDistributor("spawn", scheduler, submit_root=tmp_path / "root",
                                   poll_policy=POLICY)  # fmt: skip
    run_staging_scenario(distributor, tmp_path / "work", {}, timeout=30)


LOCAL = st.sampled_from(["absent", "same", "bigger", "older", "newer"])


@settings(max_examples=200, deadline=None)
@given(state=LOCAL, overwrite=st.booleans(), changed_only=st.booleans())
def test_copy_rules_are_gc3libs(
    tmp_path_factory: pytest.TempPathFactory, state: str, overwrite: bool, changed_only: bool
) -> None:
    """Absent locally: always copied; overwrite=False: nothing existing is altered;
    overwrite=True: changed_only copies only a newer or differently sized source."""
    directory = tmp_path_factory.mktemp("select")
    remote = {"f": FileStat("file", 10, 1_000_000.0)}
    if state != "absent":
        local = directory / "f"
        local.write_bytes(b"y" * (11 if state == "bigger" else 10))
        mtime = {"same": 1_000_000.0, "bigger": 1_000_000.0, "older": 999_000.0,
                 "newer": 1_001_000.0}[state]  # fmt: skip
        os.utime(local, (mtime, mtime))
    copied = select(remote, ["f"], directory, overwrite=overwrite, changed_only=changed_only)
    if state == "absent":
        expected = True
    elif not overwrite:
        expected = False
    elif not changed_only:
        expected = True
    else:
        expected = state in ("bigger", "older")
    assert copied == (["f"] if expected else [])


@pytest.mark.parametrize(
    ("request_", "match"),
    [
        ({"inputs": ["/nonexistent/file"]}, "does not exist"),
        ({"inputs": 3}, "must be a path"),
        ({"outputs": ["/etc/passwd"]}, "relative to the task directory"),
        ({"outputs": ["../up/*"]}, "relative to the task directory"),
        ({"output_dir": 5}, "must be a path"),
    ],
)
def test_bad_staging_is_a_resource_error(request_: dict[str, object], match: str) -> None:
    """Each malformed staging key is a ResourceError naming the value."""
    with pytest.raises(ResourceError, match=match):
        split_staging(request_)


def test_inputs_may_not_shadow_the_machinery(tmp_path: Path) -> None:
    """An input named like a file the batch layer writes (job.sh, exit-3.json) is refused."""
    for name in ("job.sh", "exit-3.json", ".index-keys"):
        (tmp_path / name).touch()
        with pytest.raises(ResourceError, match="reserved"):
            split_staging({"inputs": [str(tmp_path / name)]})


def test_staging_keys_are_taken_out_of_the_request(tmp_path: Path) -> None:
    """The remaining request has no staging key; paths are made absolute."""
    rest, staging = split_staging({"memory": "1G", "outputs": "o*", "output_dir": "here"})
    assert rest == {"memory": "1G"}
    assert staging.outputs == ("o*",) and staging.output_dir == Path.cwd() / "here"
    assert staging.sandboxed and not split_staging({})[1].sandboxed
