"""`Ledger`: what a submit root knows of the ids issued on it, for any distributor to answer.

Two sources, both files in the submit root, so that a distributor created after another one
died — or the same one after it forgot a settled job — answers exactly as the first would:

* the **index** (`SubmitRoot.register`): job key → task directory, the ids of its tasks in
  step order, the request; from it an id's exit-record path follows;
* each task directory's **outcome log** (`SubmitRoot.record_outcomes`): the exit info decided
  for its tasks, and the terminations asked for (a task cancelled while pending leaves no trace
  in the scheduler: without the log, a restart would call it lost).

The logs of the last `CACHE` task directories read are kept in memory; writing to a
directory's log drops its copy.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributor.batch.polling import TrackedJob
from distributor.batch.scheduler import BatchScheduler
from distributor.batch.staging import patterns_for
from distributor.batch.submit_root import SubmitRoot
from distributor.exceptions import SchedulerOutputError, TransportError
from distributor.exit_info import RemoteExitInfo, TaskInstanceStatus
from distributor.logs import Logger
from distributor.usage import TaskUsage

__all__ = ["CACHE", "Issued", "Ledger"]

CACHE = 64
"""Task directories whose outcome log is kept in memory."""


@dataclass(frozen=True, slots=True)
class Issued:
    """An id issued on the submit root, as the files say.

    Attributes:
        key: its job key; record_path: where its worker writes the exit record.
        index: its position in its array chunk, None for a single task.
        memory_bytes / runtime_seconds: the request.
        terminated: termination was asked for.
        info: the exit info decided for it, if any (finalized).
        usage: the figures written when it was decided, if any.
        outputs: the task's output patterns (``{step}`` filled in for an array step).
    """

    key: str
    record_path: Path
    index: int | None
    memory_bytes: int | None
    runtime_seconds: int | None
    terminated: bool
    info: RemoteExitInfo | None
    usage: TaskUsage | None = None
    outputs: tuple[str, ...] = ()

    @property
    def task_dir(self) -> Path:
        """The submission's directory."""
        return self.record_path.parent


class Ledger:
    """Index and outcome logs of one submit root (see the module docstring).

    Args:
        root: the submit root.
        scheduler: parses ids into job keys.
        log: the owner's bound logger.
    """

    def __init__(
        self,
        root: SubmitRoot,
        scheduler: BatchScheduler,
        log: Logger,
    ) -> None:
        self._root = root
        self._scheduler = scheduler
        self._log = log
        self._lock = threading.Lock()
        self._cache: OrderedDict[Path, dict[str, dict[str, Any]]] = OrderedDict()

    def find(self, distributor_id: str) -> Issued | None:
        """What the files say of `distributor_id`; None if it was never issued on this root
        (or is no id of this scheduler at all)."""
        key = self._scheduler.job_key(distributor_id)
        if key is None:
            return None
        try:
            entry = self._root.lookup(key)
        except SchedulerOutputError as exc:
            self._log.warning("index_entry_corrupt", job_key=key, error=str(exc)[:300])
            return None
        ids = entry.meta.get("ids") if entry is not None else None
        if entry is None or not isinstance(ids, list) or distributor_id not in ids:
            return None
        index = ids.index(distributor_id)
        if "offset" in entry.meta:
            record = entry.path / f"exit-{int(entry.meta['offset']) + index}.json"
        else:
            record = entry.path / "exit.json"
        saved = self._outcomes(entry.path).get(distributor_id, {})
        info = None
        if "state" in saved:
            state = TaskInstanceStatus(saved["state"])
            info = RemoteExitInfo(state, str(saved.get("message", "")), finalized=True)
        usage = saved.get("usage")
        outputs = entry.meta.get("outputs") or []
        step = int(entry.meta["offset"]) + index if "offset" in entry.meta else None
        return Issued(
            key,
            record,
            index if "offset" in entry.meta else None,
            entry.meta.get("memory_bytes"),
            entry.meta.get("runtime_seconds"),
            bool(saved.get("terminated")),
            info,
            TaskUsage.from_dict(usage) if isinstance(usage, dict) else None,
            tuple(patterns_for([str(o) for o in outputs], step)),
        )

    def settled(self, jobs: Iterable[tuple[TrackedJob, TaskUsage | None]]) -> None:
        """Write the exit info decided for `jobs`, and their figures, to their task
        directories' logs."""
        entries = []
        for job, usage in jobs:
            if job.info is not None:
                entry: dict[str, Any] = {"id": job.distributor_id,
                                         "state": job.info.error_state.value,
                                         "message": job.info.error_message}  # fmt: skip
                if usage is not None:
                    entry["usage"] = usage.to_dict()
                entries.append((job, entry))
        self._write(entries)

    def terminated(self, jobs: Iterable[TrackedJob]) -> None:
        """Write that termination was asked for `jobs`."""
        self._write((job, {"id": job.distributor_id, "terminated": True}) for job in jobs)

    def _write(self, entries: Iterable[tuple[TrackedJob, dict[str, Any]]]) -> None:
        by_dir: dict[Path, list[dict[str, Any]]] = {}
        for job, entry in entries:
            if job.record_path is not None:
                by_dir.setdefault(job.record_path.parent, []).append(entry)
        for task_dir, lines in by_dir.items():
            try:
                self._root.record_outcomes(task_dir, lines)
            except (OSError, TransportError) as exc:  # pruned, unwritable, or the link to a
                # login node dropped (a full remote disk too): memory still knows
                self._log.warning("outcome_not_recorded", task_dir=str(task_dir), error=str(exc))
            with self._lock:
                self._cache.pop(task_dir, None)

    def _outcomes(self, task_dir: Path) -> dict[str, dict[str, Any]]:
        with self._lock:
            cached = self._cache.get(task_dir)
            if cached is not None:
                self._cache.move_to_end(task_dir)
                return cached
        outcomes = self._root.read_outcomes(task_dir)
        with self._lock:
            self._cache[task_dir] = outcomes
            while len(self._cache) > CACHE:
                self._cache.popitem(last=False)
        return outcomes
