"""Dependencies between tasks: checking a graph, ordering it, and the live waiting picture.

A task with ``depends_on`` gets its first attempt only after every task it names ended
``done``. When one of them ends ``failed`` or ``cancelled``, the task ends ``cancelled`` without
running, and so, in turn, does every task that depends on it. Unknown names and cycles are
refused when the tasks are added (`order`). `Waiting` is the controller's picture of which live
tasks wait for which; the journal's ``dependencies`` table is the durable one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from distributor.service.errors import DependencyError

__all__ = ["Waiting", "order"]


def order(
    graph: Mapping[str, Sequence[str]],
    known: Callable[[str], bool] = lambda name: False,
    *,
    source: str | None = None,
    elsewhere: str = "",
) -> list[str]:
    """The tasks of `graph` (name → the names it depends on), each after its dependencies.

    Tasks without dependencies keep their order; the result is deterministic.

    Args:
        graph: the tasks being added and their dependencies.
        known: whether a name outside `graph` is a task that exists already (a journal's).
        source: the tasks file, named in errors.
        elsewhere: where else names were looked for, for the error (``" or the journal"``).

    Raises:
        DependencyError: a dependency is neither in `graph` nor `known` (naming the task and
            the unknown names), or the dependencies form a cycle (naming it in order).
    """
    for name, needs in graph.items():
        missing = [need for need in needs if need not in graph and not known(need)]
        if missing:
            listed = ", ".join(repr(need) for need in missing)
            raise DependencyError(
                [name, *missing],
                f"task {name!r} depends on {listed}: no such task in "
                f"{'the file' if source else 'the tasks given'}{elsewhere}",
                source,
            )
    done: set[str] = set()
    result: list[str] = []
    for root in graph:
        if root in done:
            continue
        # an iterative depth-first walk: the path on the stack is where a cycle shows
        path = [root]
        on_path = {root}
        stack = [iter(graph[root])]
        while stack:
            for need in stack[-1]:
                if need in done or need not in graph:
                    continue
                if need in on_path:
                    cycle = [*path[path.index(need) :], need]
                    shown = " → ".join(repr(task) for task in cycle)
                    raise DependencyError(cycle, f"a cycle: {shown}", source)
                path.append(need)
                on_path.add(need)
                stack.append(iter(graph[need]))
                break
            else:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                result.append(finished)
    return result


class Waiting:
    """Which live tasks wait for which (by task id): the controller's in-memory picture."""

    def __init__(self) -> None:
        self.unmet: dict[int, set[int]] = {}
        """Waiting task → the dependencies that have not ended yet."""
        self.dependants: dict[int, list[int]] = {}
        """Task → the tasks waiting for it."""

    def __contains__(self, task: int) -> bool:
        return task in self.unmet

    def __len__(self) -> int:
        return len(self.unmet)

    def wait(self, task: int, needs: Iterable[int]) -> bool:
        """Make `task` wait for the live tasks `needs`; False when there are none."""
        unmet = set(needs)
        if not unmet:
            return False
        self.unmet[task] = unmet
        for need in unmet:
            self.dependants.setdefault(need, []).append(task)
        return True

    def ended(self, task: int, done: bool) -> tuple[list[int], list[int]]:
        """`task` ended (`done` or not): return the tasks now free to start, and those that
        must be cancelled because of it (its direct dependants only)."""
        self.unmet.pop(task, None)
        ready: list[int] = []
        doomed: list[int] = []
        for dependant in self.dependants.pop(task, ()):
            unmet = self.unmet.get(dependant)
            if unmet is None:
                continue  # it ended already
            if done:
                unmet.discard(task)
                if not unmet:
                    del self.unmet[dependant]
                    ready.append(dependant)
            else:
                del self.unmet[dependant]
                doomed.append(dependant)
        return ready, doomed
