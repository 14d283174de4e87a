"""The submission phase of a cycle: pick, group, record the intent, submit, record the ids.

For each cluster that answered this cycle's poll and is not backing off, `room` instances are
taken from its `FairQueue`, grouped into compatible batches and written to the journal as
intents (batch row with its unique name; members ``Q`` → ``I``) in one commit. Only then is
each batch sent. The answer is recorded as soon as possible:

* ids → members ``I`` → ``O``;
* `SubmissionError` (the scheduler refused: nothing was created) → members end ``W``
  (retried while attempts remain), the cluster backs off;
* `ResourceError` (the request itself is malformed) → members end ``F``;
* any other exception → the outcome is unknown: the batch stays an intent, in doubt, and is
  looked up by name at the start of the next cycle (see `reconcile.resolve_in_doubt`); the
  cluster backs off and gets nothing more this cycle.
"""

from __future__ import annotations

import json
import time
from typing import Any

from distributor.exceptions import ResourceError, SubmissionError
from distributor.exit_info import TaskInstanceStatus
from distributor.logs import get_logger
from distributor.service.batching import (
    chunk_groups,
    in_directory,
    render_command,
    step_line,
    submission_name,
)
from distributor.service.config import Cluster
from distributor.service.controller import Controller
from distributor.service.reconcile import record_ids
from distributor.service.staging import staged_request, wants_staging
from distributor.service.state import BatchRow, BatchState, InstanceRow
from distributor.service.throttle import Backoff, room

__all__ = ["plan", "send"]

log = get_logger(__name__)

S = TaskInstanceStatus
_COMMIT_EVERY = 0.5  # seconds of sending between commits of recorded ids


def _commands(ctl: Controller, insts: list[InstanceRow]) -> Commands:
    """instance id → (command, env, staging), read from the tasks' definitions in the journal
    (staging: the decoded definition when it stages files, else None)."""
    specs = ctl.journal.specs(sorted({inst.task_id for inst in insts}))
    out: Commands = {}
    for inst in insts:
        spec = json.loads(specs[inst.task_id])
        command = in_directory(spec["command"], spec.get("cwd"))
        out[inst.id] = (command, spec.get("env") or {}, spec if wants_staging(spec) else None)
    return out


Commands = dict[int, tuple[str, dict[str, str], dict[str, Any] | None]]


def plan(ctl: Controller, cluster: Cluster, allowed: int) -> tuple[list[BatchRow], Commands]:
    """Take up to `allowed` waiting instances and record them as batch intents (uncommitted).

    Returns:
        The batches, and instance id → (command, env, staging) of their members.
    """
    picked_ids = ctl.waiting[cluster.name].take(allowed) if allowed > 0 else []
    if not picked_ids:
        return [], {}
    picked = [ctl.instances[iid] for iid in picked_ids]
    commands = _commands(ctl, picked)
    by_id = {inst.id: inst for inst in picked}
    groups = chunk_groups(
        picked_ids,
        key=lambda iid: _compatibility(by_id[iid], commands[iid][2]),
        size=lambda iid: len(step_line(cluster.throttle.max_array_size, *commands[iid][:2])) + 1,
        max_steps=cluster.throttle.max_array_size,
        max_bytes=ctl.config.max_command_bytes,
    )
    batches: list[BatchRow] = []
    now = ctl.clock()
    for group in groups:
        first_task = ctl.tasks[by_id[group[0]].task_id]
        batch_id = ctl.new_batch_id()
        name = submission_name(ctl.journal.run_tag, batch_id, first_task.name)
        batch = BatchRow(batch_id, name, cluster.name, dict(enumerate(group)))
        ctl.batches[batch_id] = batch
        ctl.txn.add_batch(batch, now)
        for step, iid in enumerate(group):
            inst = by_id[iid]
            inst.batch_id, inst.step = batch_id, step
            ctl.move(inst, S.INSTANTIATED)
        batches.append(batch)
    return batches, commands


def send(
    ctl: Controller,
    cluster: Cluster,
    batches: list[BatchRow],
    commands: Commands,
    backoff: Backoff,
) -> int:
    """Submit intents already committed; return how many instances were launched.

    Commits the recorded outcomes every half second of sending and at the end. Stops at the
    first submission whose outcome is unknown.
    """
    launched = 0
    last_commit = time.monotonic()
    for index, batch in enumerate(batches):
        members = [ctl.instances[iid] for _, iid in sorted(batch.members.items())]
        command = render_command([commands[inst.id][:2] for inst in members])
        request: dict[str, Any] = json.loads(members[0].resources)
        staged = commands[members[0].id][2]
        if staged is not None:  # alone in its batch (`_compatibility`)
            request = staged_request(request, staged)
        distributor = cluster.distributor
        try:
            if len(members) == 1:
                ids = {0: distributor.submit_to_batch_distributor(command, batch.name, request)}
            else:
                ids = distributor.submit_array_to_batch_distributor(
                    command, batch.name, request, len(members)
                )
        except (SubmissionError, ResourceError) as exc:
            refused = isinstance(exc, SubmissionError)
            pause = backoff.failed(ctl.clock()) if refused else 0.0
            log.warning(
                "submission_refused",
                cluster=cluster.name,
                submission=batch.name,
                members=len(members),
                error=str(exc),
                backoff=pause,
            )
            batch.state = BatchState.REFUSED
            ctl.txn.batch(batch)
            for inst in members:
                ctl.finish(
                    inst,
                    S.NO_DISTRIBUTOR_ID if refused else S.ERROR_FATAL,
                    f"submission refused: {exc}",
                )
            if refused:
                _withdraw(ctl, batches[index + 1 :])
                break
            continue
        except Exception as exc:
            pause = backoff.failed(ctl.clock())
            log.warning(
                "submission_in_doubt",
                cluster=cluster.name,
                submission=batch.name,
                members=len(members),
                error=repr(exc),
                backoff=pause,
            )
            _withdraw(ctl, batches[index + 1 :])
            break
        backoff.succeeded()
        record_ids(ctl, cluster, batch, {int(k): str(v) for k, v in ids.items()}, ctl.clock())
        launched += len(members)
        log.debug(
            "batch_submitted", cluster=cluster.name, submission=batch.name, members=len(members)
        )
        if time.monotonic() - last_commit > _COMMIT_EVERY:
            ctl.flush()
            last_commit = time.monotonic()
    ctl.flush()
    return launched


def _compatibility(inst: InstanceRow, staged: dict[str, Any] | None) -> str:
    """The key of the instances that may share an array: same queue and request, and no
    staging (an array's steps share one task directory and its staging, so an instance that
    stages files goes alone)."""
    alone = f"\0staged {inst.id}" if staged is not None else ""
    return f"{inst.queue}\0{inst.resources}{alone}"


def _withdraw(ctl: Controller, batches: list[BatchRow]) -> None:
    """Return the members of batches that were not sent to ``Q``; retire their names."""
    for batch in batches:
        batch.state = BatchState.ABANDONED
        ctl.txn.batch(batch)
        for _, iid in sorted(batch.members.items()):
            inst = ctl.instances.get(iid)
            if inst is not None and inst.status == S.INSTANTIATED and inst.batch_id == batch.id:
                inst.batch_id = inst.step = None
                ctl.move(inst, S.QUEUED, "not sent this cycle; queued again")


def allowance(ctl: Controller, cluster: Cluster, global_room: int | None) -> tuple[int, int]:
    """(instances the cluster may take now, its instances in flight)."""
    submitting = ctl.submitting[cluster.name]
    running = len(ctl.running[cluster.name])
    active = len(ctl.in_scheduler[cluster.name]) + submitting
    allowed = room(
        cluster.throttle, queued=active - running, active=active, global_room=global_room
    )
    return allowed, active
