"""Ready jobs are batched into arrays by key, count and command bytes
(snakemake_executor_plugin_distributor.arrays)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from snakemake_executor_plugin_distributor.arrays import Ready, batches

jobs = st.lists(
    st.tuples(st.sampled_from(["a", "b", None]), st.integers(min_value=1, max_value=300)),
    max_size=60,
)


@given(jobs=jobs, max_count=st.integers(min_value=1, max_value=10))
def test_every_job_once_in_order_within_limits(
    jobs: list[tuple[str | None, int]], max_count: int
) -> None:
    """Each job is in one batch; a batch has one key, at most max_count jobs and max_bytes of
    commands (unless it is one job), and keeps the jobs' order."""
    ready = [Ready(i, "x" * size, key) for i, (key, size) in enumerate(jobs)]
    found = batches(ready, max_count=max_count, max_bytes=500)
    assert sorted(job.item for batch in found for job in batch) == list(range(len(jobs)))
    for batch in found:
        assert batch, "no empty batch"
        assert len({job.key for job in batch}) == 1
        if len(batch) > 1:
            assert batch[0].key is not None
            assert len(batch) <= max_count
            assert sum(len(job.command) for job in batch) <= 500
        assert [job.item for job in batch] == sorted(job.item for job in batch)


def test_jobs_of_one_key_share_an_array() -> None:
    """Three jobs with one key and small commands make one batch; a group job goes alone."""
    ready = [Ready(1, "c1", "k"), Ready(2, "c2", None), Ready(3, "c3", "k"), Ready(4, "c4", "k")]
    assert [[job.item for job in b] for b in batches(ready, max_count=50)] == [[2], [1, 3, 4]]
