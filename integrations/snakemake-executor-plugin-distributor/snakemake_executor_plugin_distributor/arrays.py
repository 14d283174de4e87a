"""Which ready jobs go to the cluster together, as one array.

Jobs with the same key (rule and request) are batched in the order they came, at most
`max_count` per batch and at most `max_bytes` of commands per batch: an array's steps share one
command (a ``case`` on the step), which the scheduler's submission must carry whole — Linux
takes at most 128 KiB in one argument. A job whose key is None, or whose command alone is over
the limit, goes on its own.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["ARRAY_COMMAND_BYTES", "Ready", "batches"]

ARRAY_COMMAND_BYTES = 64 * 1024
"""Largest array command, in bytes (half the kernel's limit for one argument)."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Ready(Generic[T]):
    """A job ready to go: what to submit (`item`), its command and its batching key."""

    item: T
    command: str
    key: Hashable | None


def batches(
    ready: Sequence[Ready[T]], *, max_count: int, max_bytes: int = ARRAY_COMMAND_BYTES
) -> list[list[Ready[T]]]:
    """Group `ready` into batches (see the module docstring); every job is in exactly one,
    in its original order among those of its key."""
    done: list[list[Ready[T]]] = []
    open_batches: dict[Hashable, tuple[list[Ready[T]], int]] = {}
    for job in ready:
        size = len(job.command.encode())
        if job.key is None or max_count <= 1 or size > max_bytes:
            done.append([job])
            continue
        batch, used = open_batches.get(job.key, ([], 0))
        if batch and (len(batch) >= max_count or used + size > max_bytes):
            done.append(batch)
            batch, used = [], 0
        batch.append(job)
        open_batches[job.key] = (batch, used + size)
    done.extend(batch for batch, _ in open_batches.values())
    return done
