"""Which waiting task instances are submitted next: priorities with aging, fair share by owner.

The policy is weighted fair queueing (start-time fair queueing) on two levels:

1. **Owners** share submissions in proportion to their weight (default 1 each): an owner with
   work waiting is never passed over more than (sum of other weights / its weight) times in a
   row, however much the others have queued.
2. **Priorities** within an owner share that owner's submissions in proportion to
   ``priority_base ** priority``: with base 2, priority 3 work gets 8 submissions for each one
   of priority 0, and ties go to the higher priority, so higher priority goes first.

Waiting work *ages* in units of work, not seconds: every submission of other work moves it
closer to the front, so a long low-priority workflow keeps making progress while higher-priority
work is queued, at a rate its weight fixes. Work that arrives into an empty class starts at the
current virtual time: idle time earns no credit. Within one (owner, priority) class order is
first in, first out. A pick costs O(owners + priority levels of the chosen owner).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Mapping
from typing import Generic, TypeVar

__all__ = ["FairQueue"]

K = TypeVar("K", bound=Hashable)

_EXPONENT_CAP = 700.0  # keeps base ** priority inside a float


class _Fair(Generic[K]):
    """Start-time fair queueing over keys: pick the backlogged key with the least finish tag."""

    def __init__(self) -> None:
        self.tags: dict[K, float] = {}
        self.virtual = 0.0

    def activate(self, key: K) -> None:
        """A key goes from empty to backlogged: it starts no earlier than now."""
        self.tags[key] = max(self.tags.get(key, 0.0), self.virtual)

    def choose(self, keys: Mapping[K, tuple[float, tuple[object, ...]]]) -> K:
        """Return the key (of the backlogged `keys`: key → (cost, tie-break)) to serve next."""
        best = min(keys, key=lambda k: (self.tags[k] + keys[k][0], keys[k][1]))
        self.virtual = self.tags[best]
        self.tags[best] += keys[best][0]
        return best


class _Owner:
    __slots__ = ("classes", "count", "fair")

    def __init__(self) -> None:
        self.classes: dict[int, deque[int]] = {}
        self.count = 0
        self.fair: _Fair[int] = _Fair()


class FairQueue:
    """Waiting items (instance ids) of one cluster, ordered by the policy above.

    Args:
        priority_base: share multiplier per priority step (≥ 1).
        owner_weights: owner → share weight (absent owners weigh 1).
    """

    def __init__(self, priority_base: float = 2.0, owner_weights: Mapping[str, float] = {}) -> None:
        self._log_base = math.log(priority_base)
        self._weights = dict(owner_weights)
        self._owners: dict[str, _Owner] = {}
        self._fair: _Fair[str] = _Fair()
        self._where: dict[int, tuple[str, int]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, item: int) -> bool:
        return item in self._where

    def push(self, item: int, owner: str, priority: int) -> None:
        """Add `item` at the back of its (owner, priority) class."""
        if item in self._where:
            return
        state = self._owners.get(owner)
        if state is None:
            state = self._owners[owner] = _Owner()
        if state.count == 0:
            self._fair.activate(owner)
        queue = state.classes.get(priority)
        if queue is None:
            queue = state.classes[priority] = deque()
        if not self._live(queue):
            state.fair.activate(priority)
        queue.append(item)
        state.count += 1
        self._where[item] = (owner, priority)

    def discard(self, item: int) -> None:
        """Remove `item` if present (it is skipped lazily when its turn comes)."""
        where = self._where.pop(item, None)
        if where is not None:
            self._owners[where[0]].count -= 1

    def _live(self, queue: deque[int]) -> bool:
        """Drop discarded items from the front; True if an item remains."""
        while queue and queue[0] not in self._where:
            queue.popleft()
        return bool(queue)

    def _cost(self, priority: int) -> float:
        return math.exp(max(-_EXPONENT_CAP, min(_EXPONENT_CAP, -priority * self._log_base)))

    def pop(self) -> int | None:
        """Remove and return the next item, or None when nothing waits."""
        owners = {
            name: (1.0 / self._weights.get(name, 1.0), (name,))
            for name, state in self._owners.items()
            if state.count > 0
        }
        if not owners:
            return None
        owner = self._fair.choose(owners)
        state = self._owners[owner]
        classes = {
            priority: (self._cost(priority), (-priority,))
            for priority, queue in state.classes.items()
            if self._live(queue)
        }
        priority = state.fair.choose(classes)
        item = state.classes[priority].popleft()
        del self._where[item]
        state.count -= 1
        return item

    def take(self, count: int) -> list[int]:
        """Remove and return up to `count` items in policy order."""
        taken: list[int] = []
        while len(taken) < count:
            item = self.pop()
            if item is None:
                break
            taken.append(item)
        return taken
