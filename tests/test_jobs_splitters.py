"""CAF's splitters and arguments generators (`distributor.jobs.splitters`, `.arguments`)."""

from __future__ import annotations

from collections.abc import Generator
from math import ceil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distributor.jobs import (
    ArgumentsGenerator,
    ArgumentsSplitter,
    Job,
    MaxFilesSplitter,
    MaxSubjobsSplitter,
    SplitterError,
    SubJob,
    range_arguments,
)

FILES = st.lists(
    st.text(st.characters(codec="utf-8", exclude_characters="\0/"), min_size=1, max_size=8),
    min_size=1,
    max_size=60,
    unique_by=lambda name: name,
).map(lambda names: [f"/data/{i}-{name}" for i, name in enumerate(names)])
LIMITS = st.integers(min_value=1, max_value=80)


def _job(files: list[str], **kwargs: object) -> Job:
    return Job("split", command=["analyse"], input_files=files, **kwargs)  # type: ignore[arg-type]


def _shares(job: Job) -> list[list[str]]:
    """The subjobs' input files in id order; ids are 0..n-1."""
    assert sorted(job.subjobs) == list(range(len(job.subjobs)))
    return [job.subjobs[i].input_files for i in range(len(job.subjobs))]


@given(files=FILES, limit=LIMITS)
@settings(max_examples=200)
def test_max_files_splitter_properties(files: list[str], limit: int) -> None:
    """Every file lands in exactly one subjob, in order; none has more than the limit; the
    count is the fewest that can hold them (ceil(files / limit))."""
    job = _job(files)
    MaxFilesSplitter(max_files_per_subjob=limit).create_subjobs(job)
    shares = _shares(job)
    assert [name for share in shares for name in share] == files
    assert all(1 <= len(share) <= limit for share in shares)
    assert len(shares) == ceil(len(files) / limit)


@given(files=FILES, limit=LIMITS)
@settings(max_examples=200)
def test_max_subjobs_splitter_properties(files: list[str], limit: int) -> None:
    """Every file lands in exactly one subjob, in order; at most `max_subjobs` subjobs, none
    empty, and their sizes differ by at most one, the bigger ones first."""
    job = _job(files)
    MaxSubjobsSplitter(max_subjobs=limit).create_subjobs(job)
    shares = _shares(job)
    assert [name for share in shares for name in share] == files
    assert len(shares) == min(limit, len(files))
    sizes = [len(share) for share in shares]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)


def test_max_subjobs_splitter_spreads_eleven_files_over_four_subjobs_as_caf_documents() -> None:
    """CAF's own example: 11 files and at most 4 subjobs give 3, 3, 3 and 2 files."""
    job = _job([f"/d/{i}" for i in range(11)])
    job.max_subjobs = 4
    job.split()
    assert [len(share) for share in _shares(job)] == [3, 3, 3, 2]
    assert _shares(job)[3] == ["/d/9", "/d/10"]


@pytest.mark.parametrize(
    "splitter", [MaxFilesSplitter(max_files_per_subjob=2), MaxSubjobsSplitter(max_subjobs=3)]
)
def test_a_file_splitter_refuses_a_job_without_input_files(
    splitter: MaxFilesSplitter | MaxSubjobsSplitter,
) -> None:
    """No input files with a file splitter is an error naming the job, not a silent no-op."""
    job = Job("empty", command=["x"], splitter=splitter)
    with pytest.raises(SplitterError, match=r"job 'empty': input_files=\[\] is empty"):
        job.split()
    assert job.subjobs == {}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_limits_must_be_positive_whole_numbers(bad: object) -> None:
    """A limit that is not a whole number from 1 is refused when the splitter is made."""
    with pytest.raises(SplitterError, match="must be a whole number from 1"):
        MaxFilesSplitter(max_files_per_subjob=bad)  # type: ignore[arg-type]
    with pytest.raises(SplitterError, match="must be a whole number from 1"):
        MaxSubjobsSplitter(max_subjobs=bad)  # type: ignore[arg-type]


@given(stop=st.integers(min_value=1, max_value=300), limit=st.integers(min_value=1, max_value=300))
@settings(max_examples=150)
def test_arguments_splitter_stops_with_the_generator_or_raises_past_its_limit(
    stop: int, limit: int
) -> None:
    """One subjob per tuple, in order, each with every input file, when the generator ends
    within `max_subjobs`; a clear error when it would go past it."""
    files = ["/d/a", "/d/b"]
    generator = ArgumentsGenerator(range_arguments, 0, stop)
    job = _job(files, splitter=ArgumentsSplitter(arguments_generator=generator, max_subjobs=limit))
    if stop > limit:
        with pytest.raises(SplitterError, match=rf"max_subjobs={limit} is exceeded"):
            job.split()
        assert job.subjobs == {}
        return
    job.split()
    assert [job.subjobs[i].args for i in range(len(job.subjobs))] == [[i] for i in range(stop)]
    assert all(subjob.input_files == files for subjob in job.subjobs.values())


def test_an_endless_generator_is_stopped_by_max_subjobs() -> None:
    """range_arguments without stop never ends: the splitter raises at max_subjobs + 1."""
    generator = ArgumentsGenerator(range_arguments, 5)
    job = Job("mc", command=["sim"], splitter=ArgumentsSplitter(arguments_generator=generator,
                                                                 max_subjobs=50))  # fmt: skip
    with pytest.raises(SplitterError, match="yields more argument tuples than that"):
        job.split()


def test_arguments_splitter_needs_a_generator_that_yields() -> None:
    """No generator, or one that yields nothing, is an error rather than a job that runs
    nothing."""
    with pytest.raises(SplitterError, match="arguments_generator=None is required"):
        ArgumentsSplitter()
    job = Job("none", command=["x"], splitter=ArgumentsSplitter(
        arguments_generator=ArgumentsGenerator(range_arguments, 0, 0)))  # fmt: skip
    with pytest.raises(SplitterError, match="yielded no arguments"):
        job.split()


def _echo_ids(prefix: str) -> Generator[tuple[str, int] | None, SubJob | None, None]:
    """The protocol by hand: primed with None, then sent each subjob."""
    subjob = yield None
    while subjob is not None and subjob.id < 3:
        subjob = yield (prefix, subjob.id * 10)


def test_the_generator_protocol_primes_then_sends_each_subjob() -> None:
    """`ArgumentsGenerator.generator` is primed (send(None) done); each subjob is sent in id
    order and gets the tuple the generator answers; `generator` starts afresh every time."""
    holder = ArgumentsGenerator(_echo_ids, prefix="run")
    first = holder.generator
    parent = Job("p", command=["x"])
    assert first.send(SubJob(parent, 0)) == ("run", 0)
    assert first.send(SubJob(parent, 1)) == ("run", 10)
    assert holder.generator.send(SubJob(parent, 0)) == ("run", 0)  # a fresh one
    job = Job("p", command=["x"], splitter=ArgumentsSplitter(arguments_generator=holder))
    job.split()
    assert [job.subjobs[i].args for i in sorted(job.subjobs)] == [["run", 0], ["run", 10],
                                                                  ["run", 20]]  # fmt: skip


@given(files=FILES, limit=LIMITS, start=st.integers(-5, 5), stop=st.integers(0, 80))
@settings(max_examples=100)
def test_a_file_splitter_assigns_generated_arguments_in_id_order(
    files: list[str], limit: int, start: int, stop: int
) -> None:
    """With a generator, subjob i gets its i-th tuple; once it has ended, empty arguments (as
    in CAF); without one, every subjob gets the job's arguments."""
    generator = ArgumentsGenerator(range_arguments, start, start + stop)
    job = _job(files, splitter=MaxFilesSplitter(arguments_generator=generator,
                                                max_files_per_subjob=limit))  # fmt: skip
    job.split()
    expected = [[start + i] if i < stop else [] for i in range(len(job.subjobs))]
    assert [job.subjobs[i].args for i in range(len(job.subjobs))] == expected
    plain = _job(files, arguments=["--fast", 3], splitter=MaxSubjobsSplitter(max_subjobs=limit))
    plain.split()
    assert all(subjob.args == ["--fast", 3] for subjob in plain.subjobs.values())


def test_range_arguments_refuses_a_step_that_never_advances() -> None:
    """step 0 or negative would never reach stop: refused when the generator is primed."""
    with pytest.raises(SplitterError, match="step=0 must be a whole number from 1"):
        ArgumentsGenerator(range_arguments, 0, 10, 0).generator  # noqa: B018 - primes it


def test_a_job_without_splitter_runs_as_one_subjob_with_everything() -> None:
    """split() without a splitter makes subjob 0 with every input file and the job's
    arguments; splitting again changes nothing."""
    job = _job(["/d/1", "/d/2"], arguments=["-n", 1])
    job.split()
    job.split()
    assert list(job.subjobs) == [0]
    assert job.subjobs[0].input_files == ["/d/1", "/d/2"]
    assert job.subjobs[0].full_command == ["analyse", "-n", "1"]
