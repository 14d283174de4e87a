"""mypy --strict accepts well-typed calls and infers the results' types."""

from __future__ import annotations

from concurrent.futures import Future
from typing import assert_type

from distributor.futures import ClusterFuture, Executor


def scale(value: float, *, factor: int = 2) -> float:
    return value * factor


def names(count: int) -> list[str]:
    return [f"task-{i}" for i in range(count)]


def use(executor: Executor) -> None:
    assert_type(executor.submit(scale, 1.5, factor=3), ClusterFuture[float])
    assert_type(executor.submit(names, 3).result(), list[str])
    future: Future[float] = executor.submit(scale, 2)
    assert_type(future.result(), float)
    assert_type(list(executor.map(scale, [1.0, 2.0])), list[float])
