"""`HTCondorDistributor`: submit descriptions with ``queue N``, one condor_q per poll cycle.

* **Submission.** Each task (or array chunk) gets a task directory under the submit root with
  its job script (identity, ``distributor-worker`` around the quoted command), its submit
  description (`distributor_htcondor.submit`), logs and exit records. ``condor_submit`` prints
  the cluster id; job ``P`` of cluster ``C`` has the distributor id ``C.P``.
* **Arrays** are ``queue N`` clusters of at most ``max_array_size`` jobs (HTCondor's
  ``MAX_JOBS_PER_SUBMISSION`` defaults to 20000); chunk ``k`` adds its offset to ``$(Process)``
  to give ``DISTRIBUTOR_ARRAY_STEP_ID``, so step ``s`` maps to ``<cluster of its chunk>.<s -
  offset>``. If a chunk is refused, the chunks already queued are removed first.
* **Tracking** is a `distributor.batch.StatusTracker` over `HTCondorClient`: one condor_q per
  cycle, condor_history for jobs that left the queue, the worker's record after the
  accounting delay, lost jobs ``U``. Jobs held for a resource limit are reported ``Z`` and then
  removed from the queue (``remove_held=False`` keeps them for inspection).
* **Termination** is one ``condor_rm`` naming whole clusters where possible, and is remembered.
* **Restarts.** Cluster ids are recorded in the submit root's index, so a new distributor on
  the same root answers for ids issued by an earlier one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from distributor import (
    RemoteExitInfo,
    ResourceError,
    ResourceRequest,
    SchedulerError,
    SubmissionError,
    UnknownDistributorIdError,
    parse_request,
)
from distributor.batch import (
    JobPhase,
    JobScript,
    PollPolicy,
    RetryPolicy,
    StatusTracker,
    SubmitRoot,
    Transport,
    find_worker_executable,
    safe_name,
    worker_node_command,
)
from distributor_htcondor import parsers, states
from distributor_htcondor.client import HTCondorClient
from distributor_htcondor.queue import DECLARED_RESOURCES, SUBMIT_COMMANDS
from distributor_htcondor.submit import CLUSTER_VARIABLE, PROC_VARIABLE, SubmitDescription

__all__ = ["DEFAULT_MAX_ARRAY_SIZE", "HTCondorDistributor", "default_submit_root"]

log = structlog.get_logger(__name__)

DEFAULT_MAX_ARRAY_SIZE = 20000
"""Jobs per cluster: HTCondor's default ``MAX_JOBS_PER_SUBMISSION``."""

_ID_EXPR = f'"${{{CLUSTER_VARIABLE}}}.${{{PROC_VARIABLE}}}"'


def default_submit_root(cluster_name: str) -> Path:
    """``$DISTRIBUTOR_SUBMIT_ROOT/htcondor/<cluster>`` or ``~/.distributor/htcondor/<cluster>``."""
    base = os.environ.get("DISTRIBUTOR_SUBMIT_ROOT") or str(Path.home() / ".distributor")
    return Path(base) / "htcondor" / safe_name(cluster_name)


class HTCondorDistributor:
    """Submits to and tracks an HTCondor pool (see the module docstring).

    Args:
        cluster_name: a name for the pool (used in messages and the default submit root).
        submit_root: directory for job scripts, submit descriptions, logs and exit records;
            it must be visible at the same path on the execute machines (shared filesystem).
        schedd / pool: ``-name`` and ``-pool`` for every command (default: the local schedd).
        condor_config: ``CONDOR_CONFIG`` for every command (default: the environment's).
        environment: further variables for every HTCondor command.
        transport / retry_policy: how commands run (default: locally, `HTCONDOR_TRANSIENT`).
        poll_policy: poll intervals, rate cap, accounting delay and lost-job grace.
        max_array_size: jobs per cluster of an array (default `DEFAULT_MAX_ARRAY_SIZE`).
        memory_policy: add a ``periodic_hold`` that holds jobs exceeding ``request_memory``.
        remove_held: remove jobs held for a resource limit once they are reported ``Z``.
        getenv: give jobs the submitter's environment (``getenv = true``).
        worker: path of ``distributor-worker`` on the execute machines (default: beside this
            Python).
    """

    def __init__(
        self,
        cluster_name: str,
        *args: Any,
        submit_root: str | os.PathLike[str] | None = None,
        schedd: str | None = None,
        pool: str | None = None,
        condor_config: str | None = None,
        environment: Mapping[str, str] | None = None,
        transport: Transport | None = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        max_array_size: int = DEFAULT_MAX_ARRAY_SIZE,
        memory_policy: bool = True,
        remove_held: bool = True,
        getenv: bool = False,
        worker: str | None = None,
        **kwargs: Any,
    ) -> None:
        if args or kwargs:
            unknown = [repr(a) for a in args] + sorted(kwargs)
            raise TypeError(f"HTCondorDistributor got unexpected arguments: {', '.join(unknown)}")
        if max_array_size < 1:
            raise ValueError(f"max_array_size={max_array_size!r}: must be at least 1")
        self._cluster_name = cluster_name
        self._root = SubmitRoot(
            submit_root if submit_root is not None else default_submit_root(cluster_name)
        )
        self.client = HTCondorClient(
            schedd=schedd,
            pool=pool,
            condor_config=condor_config,
            environment=environment,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.tracker = StatusTracker(self.client, poll_policy, cluster_name=cluster_name)
        self._max_array_size = max_array_size
        self._memory_policy = memory_policy
        self._remove_held = remove_held
        self._getenv = getenv
        self._worker = worker or find_worker_executable()
        self._reap_lock = threading.Lock()
        self._log = log.bind(cluster=cluster_name)

    @property
    def worker_node_entry_point(self) -> str:
        """Absolute path of ``distributor-worker``, which wraps every task command."""
        return self._worker

    @property
    def cluster_name(self) -> str:
        """The name given at construction."""
        return self._cluster_name

    @property
    def submit_root(self) -> SubmitRoot:
        """Where job scripts, logs and exit records live (`SubmitRoot.prune` cleans it)."""
        return self._root

    def start(self) -> None:
        """Create the submit root (idempotent); HTCondor needs no session."""
        self._root.ensure()

    def stop(self) -> None:
        """Nothing to release: submitted jobs keep running and stay tracked."""

    # --- submission ---------------------------------------------------------------------

    def _submit(
        self,
        command: str,
        name: str,
        request: ResourceRequest,
        *,
        array: tuple[int, int] | None,
    ) -> tuple[int, Path]:
        """Write and submit one cluster (array chunk = (offset, length)); return (id, dir)."""
        task_dir = self._root.new_task_dir(name)
        offset, length = array if array is not None else (0, 1)
        meta: dict[str, Any] = {
            "memory_bytes": request.memory_bytes,
            "runtime_seconds": request.runtime_seconds,
        }
        if array is not None:
            meta.update(offset=offset, length=length)
        try:
            script = JobScript(
                command=command,
                worker=self._worker,
                record=str(task_dir / ("exit.json" if array is None else "exit-{step}.json")),
                distributor_id_expr=_ID_EXPR,
                array_step_expr=None if array is None else f"$(({PROC_VARIABLE} + {offset}))",
                label=name,
                generator="distributor-htcondor",
            ).render()
            executable = self._root.write_script(task_dir, script)
            description = SubmitDescription(
                executable=executable,
                task_dir=task_dir,
                count=length,
                request=request,
                label=name,
                memory_policy=self._memory_policy,
                getenv=self._getenv,
                commands={
                    SUBMIT_COMMANDS[key]: value
                    for key, value in request.extra.items()
                    if key in SUBMIT_COMMANDS
                },
            ).render()
            path = self._root.write_script(task_dir, description, "job.sub")
            cluster, count = self.client.submit(path)
            if count != length:
                self.client.remove([str(cluster)])
                raise SubmissionError(
                    f"condor_submit queued {count} jobs in cluster {cluster}, not {length} "
                    "(the cluster was removed)",
                    name=name,
                )
        except SchedulerError as exc:
            self._root.remove(task_dir)
            raise SubmissionError(
                f"HTCondor refused task {name!r}: {exc.stderr.strip() or exc}",
                name=name,
                argv=exc.argv,
                returncode=exc.returncode,
                stderr=exc.stderr,
            ) from exc
        except BaseException:
            self._root.remove(task_dir)
            raise
        self._root.register(str(cluster), task_dir, **meta)
        return cluster, task_dir

    def submit_to_batch_distributor(
        self, command: str, name: str, requested_resources: Mapping[str, Any]
    ) -> str:
        """Submit one command as job ``C.0`` (see `ClusterDistributor.submit_to_batch_distributor`).

        Raises:
            ResourceError: the request is malformed or has unknown keys.
            SubmissionError: condor_submit refused the job (stderr and argv attached).
        """
        request = parse_request(requested_resources, DECLARED_RESOURCES)
        cluster, task_dir = self._submit(command, name, request, array=None)
        distributor_id = f"{cluster}.0"
        self.tracker.track(
            distributor_id,
            record_path=task_dir / "exit.json",
            memory_bytes=request.memory_bytes,
            runtime_seconds=request.runtime_seconds,
        )
        self._log.info("job_submitted", distributor_id=distributor_id, name=safe_name(name))
        return distributor_id

    def submit_array_to_batch_distributor(
        self,
        command: str,
        name: str,
        requested_resources: Mapping[str, Any],
        array_length: int,
    ) -> dict[int, str]:
        """Submit an array as ``queue N`` clusters (see the module docstring).

        Raises:
            ResourceError: the request is malformed or ``array_length < 1``.
            SubmissionError: condor_submit refused a chunk (earlier chunks are removed first).
        """
        if isinstance(array_length, bool) or not isinstance(array_length, int):
            raise ResourceError("array_length", array_length, "must be an int")
        if array_length < 1:
            raise ResourceError("array_length", array_length, "must be at least 1")
        request = parse_request(requested_resources, DECLARED_RESOURCES)
        steps: dict[int, str] = {}
        clusters: list[str] = []
        for offset in range(0, array_length, self._max_array_size):
            length = min(self._max_array_size, array_length - offset)
            try:
                cluster, task_dir = self._submit(command, name, request, array=(offset, length))
            except SubmissionError:
                if clusters:
                    self._log.warning("array_chunks_removed", clusters=clusters)
                    self.client.remove(clusters)
                    self.tracker.mark_terminated(list(steps.values()))
                raise
            clusters.append(str(cluster))
            for proc in range(length):
                distributor_id = f"{cluster}.{proc}"
                steps[offset + proc] = distributor_id
                self.tracker.track(
                    distributor_id,
                    record_path=task_dir / f"exit-{offset + proc}.json",
                    memory_bytes=request.memory_bytes,
                    runtime_seconds=request.runtime_seconds,
                )
        self._log.info(
            "array_submitted", clusters=clusters, tasks=array_length, name=safe_name(name)
        )
        return steps

    def build_worker_node_command(
        self,
        task_instance_id: int | None = None,
        array_id: int | None = None,
        batch_number: int | None = None,
    ) -> str:
        """A quoted ``distributor-worker`` invocation carrying the given ids."""
        return worker_node_command(self._worker, task_instance_id, array_id, batch_number)

    # --- tracking -----------------------------------------------------------------------

    def _known(self, distributor_id: str) -> bool:
        """Whether the id is tracked, adopting it from the submit root's index if needed."""
        if self.tracker.get(distributor_id) is not None:
            return True
        parts = parsers.split_id(distributor_id)
        if parts is None:
            return False
        entry = self._root.lookup(str(parts[0]))
        if entry is None:
            return False
        meta, proc = entry.meta, parts[1]
        if "offset" in meta:
            if proc >= int(meta.get("length", 0)):
                return False
            record = entry.path / f"exit-{int(meta['offset']) + proc}.json"
        elif proc == 0:
            record = entry.path / "exit.json"
        else:
            return False
        self.tracker.track(
            distributor_id,
            record_path=record,
            memory_bytes=meta.get("memory_bytes"),
            runtime_seconds=meta.get("runtime_seconds"),
        )
        return True

    def _reap_held(self) -> None:
        """Remove the jobs the last poll found held for a resource limit (one condor_rm)."""
        held = self.client.take_held()
        if not held or not self._remove_held:
            return
        with self._reap_lock:
            try:
                self.client.remove(held)
            except SchedulerError as exc:
                self._log.warning("held_jobs_not_removed", ids=held, error=str(exc)[:300])
            else:
                self._log.info("held_jobs_removed", ids=held)

    def get_submitted_or_running(self, distributor_ids: Sequence[str] | None = None) -> set[str]:
        """Ids still queued or running (one condor_q for all tracked jobs when a poll is due)."""
        if distributor_ids is None:
            active = self.tracker.active()
        else:
            active = self.tracker.active([d for d in distributor_ids if self._known(d)])
        self._reap_held()
        return active

    def get_running(self, distributor_ids: Sequence[str]) -> set[str]:
        """The subset of ids HTCondor reports running (or suspended, or transferring output)."""
        known = [did for did in distributor_ids if self._known(did)]
        statuses = self.tracker.statuses(known)
        self._reap_held()
        return {did for did, status in statuses.items() if status.phase is JobPhase.RUNNING}

    def get_remote_exit_info(self, distributor_id: str) -> RemoteExitInfo:
        """How the job ended (see `ClusterDistributor.get_remote_exit_info`).

        Raises:
            UnknownDistributorIdError: the id was never issued on this submit root.
            RemoteExitInfoNotAvailable: still queued or running, or history is pending.
        """
        if not self._known(distributor_id):
            raise UnknownDistributorIdError(distributor_id, self._cluster_name)
        try:
            return self.tracker.exit_info(distributor_id)
        finally:
            self._reap_held()

    def get_queueing_errors(self, distributor_ids: Sequence[str]) -> dict[str, str]:
        """Held jobs that will not run without help (hold code and reason in the message)."""
        known = [did for did in distributor_ids if self._known(did)]
        queued = [
            did
            for did, status in self.tracker.statuses(known).items()
            if status.phase is JobPhase.QUEUED
        ]
        errors = {}
        for distributor_id, ad in self.client.ads(queued).items():
            message = states.queueing_error(ad)
            if message is not None:
                errors[distributor_id] = message
        return errors

    def terminate_task_instances(self, distributor_ids: Sequence[str]) -> None:
        """``condor_rm`` the jobs in one call and remember it (unknown or ended ids are ignored)."""
        wanted = []
        for distributor_id in distributor_ids:
            job = self.tracker.get(distributor_id) if self._known(distributor_id) else None
            if job is not None and not job.settled:
                wanted.append(distributor_id)
        if not wanted:
            return
        tokens = self._removal_tokens(wanted)
        self.client.remove(tokens)
        self.tracker.mark_terminated(wanted)
        self._log.info("jobs_terminated", count=len(wanted), condor_rm_ids=len(tokens))

    def _removal_tokens(self, distributor_ids: list[str]) -> list[str]:
        """Name a whole cluster when every unsettled job of it is to be removed."""
        open_jobs: dict[str, set[str]] = {}
        for distributor_id in self.tracker.tracked():
            job = self.tracker.get(distributor_id)
            key = parsers.job_key(distributor_id)
            if key is not None and job is not None and not job.settled:
                open_jobs.setdefault(key, set()).add(distributor_id)
        wanted = set(distributor_ids)
        tokens: dict[str, None] = {}
        for distributor_id in distributor_ids:
            key = parsers.job_key(distributor_id)
            if key is None:
                continue
            whole = open_jobs.get(key, {distributor_id}) <= wanted
            tokens[key if whole else distributor_id] = None
        return list(tokens)
