"""CAF's arguments generators: where each subjob's arguments come from.

An *arguments generator function* is a generator function whose first ``yield`` answers the
priming ``send(None)`` and each later one answers ``send(subjob)`` with that subjob's argument
tuple; it ends (``StopIteration``) when it has no more. `ArgumentsGenerator` holds such a
function with the arguments to start it, so that a splitter can start it afresh every time it
splits a job. `range_arguments` is the one CAF ships::

    def numbered(first):            # the protocol, by hand
        subjob = yield None         # primed by send(None); receives the first subjob
        n = first
        while n < first + 3:
            subjob = yield (n, f"part-{subjob.id}")
            n += 1

    ArgumentsGenerator(numbered, 10)    # subjobs get (10, 'part-0'), (11, 'part-1'), (12, 'part-2')
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from itertools import count, takewhile
from typing import TYPE_CHECKING, Any

from distributor.jobs.errors import SplitterError

if TYPE_CHECKING:
    from distributor.jobs.model import SubJob
    from distributor.jobs.validation import Argument

__all__ = ["ArgumentsGenerator", "ArgumentsGeneratorFunction", "range_arguments"]

ArgumentsGeneratorFunction = Callable[
    ..., Generator["Sequence[Argument] | None", "SubJob | None", None]
]
"""A generator function following the protocol above."""


class ArgumentsGenerator:
    """A generator function and what to start it with; `generator` starts a fresh one.

    Args:
        generator_function: a generator function (not yet called) following the protocol.
        *args, **kwargs: what it is called with.
    """

    def __init__(
        self, generator_function: ArgumentsGeneratorFunction, *args: Any, **kwargs: Any
    ) -> None:
        self.generator_function = generator_function
        self.args = args
        self.kwargs = kwargs

    @property
    def generator(self) -> Generator[Sequence[Argument] | None, SubJob | None, None]:
        """A new generator, already primed with ``send(None)``: ready for ``send(subjob)``."""
        generator = self.generator_function(*self.args, **self.kwargs)
        generator.send(None)
        return generator

    def __repr__(self) -> str:
        name = getattr(self.generator_function, "__name__", repr(self.generator_function))
        return f"ArgumentsGenerator({name}, args={self.args!r}, kwargs={self.kwargs!r})"


def range_arguments(
    start: int = 0, stop: int | None = None, step: int = 1
) -> Generator[tuple[int] | None, SubJob | None, None]:
    """Arguments ``(start,)``, ``(start + step,)``, … up to but excluding `stop` (CAF's
    ``range_arguments``); without `stop` it never ends, so give its splitter a ``max_subjobs``.

    Raises:
        SplitterError: `step` is not a positive whole number (when the generator is primed).
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise SplitterError("range_arguments", "step", step, "must be a whole number from 1")
    yield None  # answers the priming send(None); the first send(subjob) resumes here
    for value in takewhile(lambda x: stop is None or x < stop, count(start, step)):
        yield (value,)
