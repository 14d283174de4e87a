"""mypy --strict rejects calls whose arguments do not fit the function (lines 17-21)."""

from __future__ import annotations

from typing import reveal_type

from distributor.futures import Executor


def scale(value: float, *, factor: int = 2) -> float:
    return value * factor


def use(executor: Executor) -> None:
    fine = executor.submit(scale, 1.5, factor=3)
    reveal_type(fine.result())
    text: str = fine.result()  # noqa: F841 - the wrong type on purpose
    executor.submit(scale, "1.5")
    executor.submit(scale, 1.5, factor="3")
    executor.submit(scale, 1.5, 2)
    executor.submit(scale, 1.5, facter=3)
