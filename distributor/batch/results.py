"""`Results`: a batch distributor's ``get_results``, ``peek`` and ``free`` (gc3libs' calls).

They read a task's directory on the submit root's filesystem — a login node's through an SSH
transport, this machine's otherwise — found through the `Ledger`, so they answer for any id
issued on the root, also after a restart. What is copied follows
`distributor.batch.staging.select`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from distributor.batch.ledger import Issued, Ledger
from distributor.batch.staging import confined, matching, select, write_peeked
from distributor.batch.submit_root import SubmitRoot
from distributor.exceptions import SchedulerError, UnknownDistributorIdError
from distributor.logs import Logger

__all__ = ["Results"]


class Results:
    """Results, peeks and clean-up of the tasks of one submit root.

    Args:
        root: the submit root; ledger: what it says of each id; cluster_name: for errors.
        log_paths: the plugin's ``log_paths(key, task_dir, index)``.
        log: the owner's bound logger.
    """

    def __init__(
        self,
        root: SubmitRoot,
        ledger: Ledger,
        cluster_name: str,
        log_paths: Callable[[str, Path, int | None], tuple[Path, Path | None]],
        log: Logger,
    ) -> None:
        self._root = root
        self._ledger = ledger
        self._cluster = cluster_name
        self._log_paths = log_paths
        self._log = log

    def _issued(self, distributor_id: str) -> Issued:
        issued = self._ledger.find(distributor_id)
        if issued is None:
            raise UnknownDistributorIdError(distributor_id, self._cluster)
        return issued

    def get_results(
        self,
        distributor_id: str,
        download_dir: str | os.PathLike[str],
        overwrite: bool = False,
        changed_only: bool = True,
    ) -> list[str]:
        """Copy the task's output files and logs into `download_dir` (see
        `distributor.batch.staging`); return the relative paths copied.

        Raises:
            UnknownDistributorIdError: no distributor on this submit root issued the id.
            NotADirectoryError: `download_dir` is not an existing directory.
        """
        issued = self._issued(distributor_id)
        target = Path(download_dir)
        if not target.is_dir():
            raise NotADirectoryError(f"download_dir={os.fspath(download_dir)!r}: not a directory")
        task_dir = issued.task_dir
        logs = [
            str(path.relative_to(task_dir))
            for path in self._log_paths(issued.key, task_dir, issued.index)
            if path is not None and path.is_relative_to(task_dir)
        ]
        try:
            remote = self._root.files.walk(task_dir)
        except FileNotFoundError:
            return []  # freed, or pruned
        names = matching(remote, issued.outputs, logs)
        chosen = select(remote, names, target, overwrite=overwrite, changed_only=changed_only)
        self._root.files.get(task_dir, chosen, target)
        self._log.info("results_fetched", distributor_id=distributor_id, files=len(chosen),
                       matched=len(names))  # fmt: skip
        return chosen

    def peek(
        self,
        distributor_id: str,
        remote_filename: str | os.PathLike[str],
        local_file: str | os.PathLike[str] | IO[Any],
        offset: int = 0,
        size: int | None = None,
    ) -> int:
        """Copy `size` bytes (None: all) from `offset` (negative: from the end) of a file in
        the task's directory to `local_file` (a path, created or overwritten, or a writable
        file object, left just after them); return how many were copied.

        Raises:
            UnknownDistributorIdError: no distributor on this submit root issued the id.
            ValueError: `remote_filename` leaves the task directory.
            FileNotFoundError: there is no such file (yet).
        """
        issued = self._issued(distributor_id)
        path = confined(issued.task_dir, remote_filename)
        data = self._root.files.read(path, int(offset), None if size is None else int(size))
        write_peeked(data, local_file)
        return len(data)

    def free(self, distributor_id: str, active: Callable[[list[str]], set[str]]) -> bool:
        """Delete the task's directory (confined to the submit root): its logs, records and
        staged files; an array chunk's directory only when none of its steps is active.
        The id's files (and index entry) are gone afterwards: these calls no longer know it.

        Args:
            active: which of the given ids are still queued or running.

        Returns:
            True if a directory was deleted, False if it was already gone.

        Raises:
            UnknownDistributorIdError: no distributor on this submit root issued the id.
            SchedulerError: a task sharing the directory is still queued or running.
        """
        issued = self._issued(distributor_id)
        entry = self._root.lookup(issued.key)
        ids = [str(i) for i in (entry.meta.get("ids") or [])] if entry else [distributor_id]
        busy = active(ids)
        if busy:
            raise SchedulerError(
                f"cannot free {distributor_id!r}: {sorted(busy)} still queued or running in "
                f"{str(issued.task_dir)!r}"
            )
        removed = self._root.remove(issued.task_dir)
        self._log.info("task_dir_freed", distributor_id=distributor_id, removed=removed)
        return removed
