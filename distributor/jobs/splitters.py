"""CAF's splitters: how a `Job` becomes subjobs.

* `MaxFilesSplitter` — at most ``max_files_per_subjob`` input files per subjob, in order.
* `MaxSubjobsSplitter` — at most ``max_subjobs`` subjobs, the files spread evenly in order
  (11 files, 4 subjobs: 3, 3, 3, 2).
* `ArgumentsSplitter` — one subjob per argument tuple of a generator, each with every input
  file; past ``max_subjobs`` it raises instead of running away.

The file splitters refuse a job without input files (`SplitterError`: there would be nothing to
run, which CAF only warned about). Given an `ArgumentsGenerator`, they assign its tuples to the
subjobs in id order (if it ends first, the rest get no arguments, as in CAF); without one, each
subjob gets the job's own arguments.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from itertools import count
from math import ceil
from typing import TYPE_CHECKING

from distributor.jobs.arguments import ArgumentsGenerator
from distributor.jobs.errors import SplitterError
from distributor.jobs.model import SubJob
from distributor.jobs.validation import Argument
from distributor.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Sequence

    from distributor.jobs.model import Job

__all__ = ["ArgumentsSplitter", "MaxFilesSplitter", "MaxSubjobsSplitter", "SubjobSplitter"]

log = get_logger(__name__)


def _limit(owner: str, key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SplitterError(owner, key, value, "must be a whole number from 1")
    return value


def _arguments_of(job: Job, subjob: SubJob, args: object) -> Sequence[Argument]:
    if not isinstance(args, tuple | list):
        raise SplitterError(job.name, f"subjobs[{subjob.id}].args", args,
                            "an arguments generator must yield tuples (or lists)")  # fmt: skip
    return args


class SubjobSplitter(ABC):
    """Makes the subjobs of a job (subclass it and implement `create_subjobs`, as in CAF).

    Args:
        arguments_generator: where the subjobs' arguments come from (see `assign_arguments`).
    """

    def __init__(self, *, arguments_generator: ArgumentsGenerator | None = None) -> None:
        if arguments_generator is not None and not isinstance(
            arguments_generator, ArgumentsGenerator
        ):
            raise SplitterError(type(self).__name__, "arguments_generator", arguments_generator,
                                "must be an ArgumentsGenerator")  # fmt: skip
        self.arguments_generator = arguments_generator

    @abstractmethod
    def create_subjobs(self, job: Job) -> None:
        """Add the subjobs to `job` (`Job.create_subjob`).

        Raises:
            SplitterError: the job cannot be split this way.
        """

    def assign_arguments(self, job: Job) -> None:
        """Give each subjob, in id order, the next tuple of the arguments generator (once it
        has ended, an empty tuple); without a generator, the job's own arguments."""
        if self.arguments_generator is None:
            for subjob in job.subjobs.values():
                subjob.args = list(job.arguments)
            return
        generator = self.arguments_generator.generator
        generating = True
        for subjob_id in sorted(job.subjobs):
            subjob = job.subjobs[subjob_id]
            args: Sequence[Argument] = ()
            if generating:
                try:
                    args = _arguments_of(job, subjob, generator.send(subjob))
                except StopIteration:
                    log.warning("arguments_generator_ended", job=job.name, subjob=subjob.id,
                                subjobs=len(job.subjobs))  # fmt: skip
                    generating = False
            subjob.args = list(args)

    def _no_files(self, job: Job) -> SplitterError:
        return SplitterError(job.name, "input_files", job.input_files,
                             f"is empty: {self!r} shares input files out between subjobs; give "
                             "the job input files, or use an ArgumentsSplitter")  # fmt: skip

    def __repr__(self) -> str:
        return type(self).__name__


class MaxFilesSplitter(SubjobSplitter):
    """As many subjobs as it takes for none to have more than `max_files_per_subjob` files.

    Raises:
        SplitterError: `max_files_per_subjob` is not a whole number from 1.
    """

    def __init__(
        self, *, arguments_generator: ArgumentsGenerator | None = None,
        max_files_per_subjob: int = 1,
    ) -> None:  # fmt: skip
        super().__init__(arguments_generator=arguments_generator)
        self.max_files_per_subjob = _limit(
            "MaxFilesSplitter", "max_files_per_subjob", max_files_per_subjob
        )

    def create_subjobs(self, job: Job) -> None:
        """Subjob *i* gets files ``i*n`` to ``i*n + n - 1`` (the last one what is left).

        Raises:
            SplitterError: the job has no input files.
        """
        files = job.input_files
        if not files:
            raise self._no_files(job)
        size = self.max_files_per_subjob
        for index, start in enumerate(range(0, len(files), size)):
            job.create_subjob(index, input_files=files[start : start + size])
        self.assign_arguments(job)
        log.info("subjobs_created", job=job.name, splitter=repr(self), subjobs=len(job.subjobs))

    def __repr__(self) -> str:
        return f"MaxFilesSplitter(max_files_per_subjob={self.max_files_per_subjob})"


class MaxSubjobsSplitter(SubjobSplitter):
    """At most `max_subjobs` subjobs, the input files spread as evenly as order allows: each
    subjob takes ``ceil(files left / subjobs left)`` (11 files, 4 subjobs → 3, 3, 3, 2); with
    fewer files than `max_subjobs`, one file each.

    Raises:
        SplitterError: `max_subjobs` is not a whole number from 1.
    """

    def __init__(
        self, *, arguments_generator: ArgumentsGenerator | None = None, max_subjobs: int = 1000
    ) -> None:
        super().__init__(arguments_generator=arguments_generator)
        self.max_subjobs = _limit("MaxSubjobsSplitter", "max_subjobs", max_subjobs)

    def create_subjobs(self, job: Job) -> None:
        """Share the input files out in order, front-loading the remainder.

        Raises:
            SplitterError: the job has no input files.
        """
        files = job.input_files
        if not files:
            raise self._no_files(job)
        start, available, index = 0, self.max_subjobs, 0
        while start < len(files):
            take = ceil((len(files) - start) / available)
            job.create_subjob(index, input_files=files[start : start + take])
            start, available, index = start + take, available - 1, index + 1
        self.assign_arguments(job)
        log.info("subjobs_created", job=job.name, splitter=repr(self), subjobs=len(job.subjobs))

    def __repr__(self) -> str:
        return f"MaxSubjobsSplitter(max_subjobs={self.max_subjobs})"


class ArgumentsSplitter(SubjobSplitter):
    """One subjob per tuple the arguments generator yields, until it ends; every subjob gets
    all of the job's input files (useful without any, e.g. one subjob per run number).

    Args:
        arguments_generator: required; sent each new `SubJob`, it answers with its arguments.
        max_subjobs: a generator that yields more tuples than this raises `SplitterError`
            instead of making subjobs until memory runs out; None: no limit (beware).

    Raises:
        SplitterError: no generator, or `max_subjobs` is not a whole number from 1.
    """

    def __init__(
        self, *, arguments_generator: ArgumentsGenerator | None = None,
        max_subjobs: int | None = 1000,
    ) -> None:  # fmt: skip
        super().__init__(arguments_generator=arguments_generator)
        if arguments_generator is None:
            raise SplitterError("ArgumentsSplitter", "arguments_generator", None,
                                "is required: the subjobs are made from its tuples")  # fmt: skip
        self.max_subjobs = (
            None if max_subjobs is None else _limit("ArgumentsSplitter", "max_subjobs", max_subjobs)
        )

    def create_subjobs(self, job: Job) -> None:
        """Make subjobs 0, 1, … from the generator's tuples until it ends.

        Raises:
            SplitterError: the generator yields a tuple for subjob ``max_subjobs`` (one more
                than allowed), or yields something that is not a tuple.
        """
        assert self.arguments_generator is not None  # checked in __init__
        generator = self.arguments_generator.generator
        made: dict[int, SubJob] = {}
        for index in count():
            subjob = SubJob(job, index, job.input_files)
            try:
                args = _arguments_of(job, subjob, generator.send(subjob))
            except StopIteration:
                break
            if self.max_subjobs is not None and index >= self.max_subjobs:
                generator.close()
                raise SplitterError(
                    job.name, "max_subjobs", self.max_subjobs,
                    f"is exceeded: {self.arguments_generator!r} yields more argument tuples "
                    "than that; raise max_subjobs or give the generator an end",
                )  # fmt: skip
            subjob.args = list(args)
            made[index] = subjob
        if not made:
            raise SplitterError(job.name, "arguments_generator", self.arguments_generator,
                                "yielded no arguments: there is no subjob to run")  # fmt: skip
        job.subjobs.update(made)
        log.info("subjobs_created", job=job.name, splitter=repr(self), subjobs=len(made))

    def __repr__(self) -> str:
        return f"ArgumentsSplitter(max_subjobs={self.max_subjobs})"
