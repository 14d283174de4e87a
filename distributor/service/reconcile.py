"""Polling and reconciliation (after IceProd's ``check_grid``): make the journal agree with
what each scheduler says.

* Instances the scheduler still lists move ``O`` → ``R`` (when it can tell) and leave triage.
* An instance it no longer lists is asked for its exit info: a finalized answer ends it; a
  non-final one puts it in triage (``T``) and is asked again until `exit_info_deadline`, then
  taken as it stands; no answer at all (or an id the scheduler never issued) puts it in triage.
  Who decides that it is lost is the distributor's, if it has `SupportsLostTracking` (one
  clock: the service waits for its final answer, and only a distributor breaking that contract
  — silent for twice its grace and a minute — is overruled); otherwise the service's
  `lost_grace`. Either way a lost instance ends ``U`` (retried if attempts allow) and is
  terminated, so that it cannot run beside its retry.
* If the scheduler cannot be asked, nothing changes this cycle: an outage fails no task.
* Instances queued or running longer than the configured limits are reset (terminated, ``U``).
* Every `reconcile_interval`: queued instances that can never start end ``F`` (terminated),
  and, where the distributor can look submissions up by name, scheduler jobs under one of this
  journal's submission names whose ids the journal did not record are cancelled and logged.
* Submissions in doubt (recorded, but the controller never saw the answer) are looked up by
  name before anything is submitted again; see `resolve_in_doubt`.
"""

from __future__ import annotations

from distributor.exceptions import RemoteExitInfoNotAvailable, UnknownDistributorIdError
from distributor.exit_info import FINAL_STATES, TaskInstanceStatus, normalize_exit_info
from distributor.logs import get_logger
from distributor.service.config import Cluster, InDoubtPolicy
from distributor.service.controller import Controller
from distributor.service.state import BatchRow, BatchState, InstanceRow

__all__ = [
    "RETIRED_WATCH",
    "check_queueing_errors",
    "poll",
    "reset_stale",
    "resolve_in_doubt",
    "sweep_strangers",
]

log = get_logger(__name__)

S = TaskInstanceStatus

RETIRED_WATCH = 3600.0
"""Seconds a withdrawn submission name keeps being swept for jobs created under it late."""


def poll(ctl: Controller, cluster: Cluster) -> bool:
    """Bring the cluster's submitted instances up to date; False if the scheduler failed us.

    Costs two scheduler calls plus set operations over the ids in flight; Python-level work
    is proportional to the instances that changed, not to those in flight.
    """
    in_flight = ctl.in_scheduler[cluster.name]
    if not in_flight:
        return True
    now = ctl.clock()
    ask_running = cluster.running is not None and now >= ctl.next_running_poll[cluster.name]
    try:
        listed = set(cluster.distributor.get_submitted_or_running(list(in_flight)))
        if ask_running and cluster.running is not None:
            running = set(cluster.running.get_running(list(listed)))
            ctl.next_running_poll[cluster.name] = now + ctl.config.running_interval
        else:
            running = ctl.running[cluster.name] & listed
    except Exception as exc:
        log.warning("poll_failed", cluster=cluster.name, count=len(in_flight), error=repr(exc))
        return False
    for did in sorted(ctl.triaging[cluster.name] & listed):
        inst = in_flight[did]
        inst.triage_since = None
        ctl.move(inst, S.RUNNING if did in running else S.LAUNCHED, "listed by the scheduler again")
    for did in sorted(running - ctl.running[cluster.name]):
        started = in_flight.get(did)
        if started is not None and started.status == S.LAUNCHED:
            ctl.move(started, S.RUNNING)
    gone = sorted(in_flight.keys() - listed)
    if not gone:
        return True
    config = ctl.config
    for did in gone:
        inst = in_flight[did]
        try:
            info = normalize_exit_info(cluster.distributor.get_remote_exit_info(did))
        except (RemoteExitInfoNotAvailable, UnknownDistributorIdError) as exc:
            if cluster.lost_owner is not None:
                grace = 2 * cluster.lost_owner.lost_grace + 60.0
                whose = (
                    f"the distributor did not decide within twice its lost grace + 60s = {grace:g}s"
                )
            else:
                grace = config.lost_grace
                whose = f"after {grace:g}s"
            _triage(
                ctl,
                inst,
                now,
                grace,
                S.UNKNOWN_ERROR,
                f"lost: the scheduler no longer lists it and has no exit info; {whose} ({exc})",
                kill=True,
            )
            continue
        except Exception as exc:
            log.warning(
                "exit_info_failed", cluster=cluster.name, distributor_id=did, error=repr(exc)
            )
            continue
        if info.finalized and info.error_state in FINAL_STATES:
            ctl.finish(inst, info.error_state, info.error_message)
        else:
            state = info.error_state if info.error_state in FINAL_STATES else S.UNKNOWN_ERROR
            _triage(
                ctl,
                inst,
                now,
                config.exit_info_deadline,
                state,
                f"{info.error_message or info.error_state.value} (exit info not finalized "
                f"within {config.exit_info_deadline:g}s; taken as final)",
            )
    return True


def _triage(
    ctl: Controller,
    inst: InstanceRow,
    now: float,
    deadline: float,
    final: TaskInstanceStatus,
    final_message: str,
    *,
    kill: bool = False,
) -> None:
    """Put an instance in triage, or end it when it has been there `deadline` seconds
    (terminating it if `kill`)."""
    if inst.status != S.TRIAGING or inst.triage_since is None:
        inst.triage_since = now
        ctl.move(inst, S.TRIAGING, "ended; waiting for final exit information")
    elif now - inst.triage_since >= deadline:
        if kill:
            log.warning(
                "instance_lost",
                distributor_id=inst.distributor_id,
                waited=round(now - inst.triage_since),
            )
        ctl.finish(inst, final, final_message, kill=kill)


def reset_stale(ctl: Controller, cluster: Cluster) -> None:
    """Terminate and end ``U`` instances queued or running longer than the limits allow."""
    queued_limit = ctl.config.max_queued_seconds
    running_limit = ctl.config.max_running_seconds
    if queued_limit is None and running_limit is None:
        return
    now = ctl.clock()
    knows_running = cluster.running is not None
    total = (queued_limit or 0.0) + (running_limit or 0.0)
    for inst in list(ctl.in_scheduler[cluster.name].values()):
        if inst.status == S.LAUNCHED and knows_running and queued_limit is not None:
            age, limit, what = now - inst.status_at, queued_limit, "queued"
        elif inst.status == S.RUNNING and running_limit is not None:
            age, limit, what = now - inst.status_at, running_limit, "running"
        elif inst.status == S.LAUNCHED and not knows_running:
            age, limit, what = (
                now - (inst.submitted_at or inst.status_at),
                total,
                "in the scheduler",
            )
        else:
            continue
        if age > limit:
            ctl.finish(
                inst,
                S.UNKNOWN_ERROR,
                f"reset: {what} for {age:.0f}s, longer than the limit of {limit:g}s",
                kill=True,
            )


def check_queueing_errors(ctl: Controller, cluster: Cluster) -> None:
    """End ``F`` (and terminate) queued instances the scheduler says can never start."""
    queued = {
        inst.distributor_id: inst
        for inst in ctl.in_scheduler[cluster.name].values()
        if inst.status == S.LAUNCHED and inst.distributor_id is not None
    }
    if not queued:
        return
    try:
        errors = cluster.distributor.get_queueing_errors(list(queued))
    except Exception as exc:
        log.warning("queueing_errors_failed", cluster=cluster.name, error=repr(exc))
        return
    for did, reason in errors.items():
        inst = queued.get(did)
        if inst is not None and inst.id in ctl.instances:
            ctl.finish(inst, S.ERROR_FATAL, f"can never start: {reason}", kill=True)


def sweep_strangers(ctl: Controller, cluster: Cluster) -> int:
    """Cancel scheduler jobs under this journal's submission names whose ids it did not record.

    The names asked about are those of the batches with live members and of the submissions
    withdrawn in the last `RETIRED_WATCH` seconds (a submit call of a dead controller may still
    create one). Returns how many jobs were cancelled.
    """
    if cluster.lookup is None:
        return 0
    batches = {
        b.name: b
        for b in ctl.batches.values()
        if b.cluster == cluster.name and b.state != BatchState.INTENT
    }
    if not batches:
        return 0
    try:
        found = cluster.lookup.find_by_name(list(batches))
    except Exception as exc:
        log.warning("lookup_failed", cluster=cluster.name, error=repr(exc))
        return 0
    strangers = [
        (name, step, did)
        for name, steps in found.items()
        if name in batches
        for step, did in steps.items()
        if batches[name].ids.get(step) != did
    ]
    if strangers:
        ids = [did for _, _, did in strangers]
        try:
            cluster.distributor.terminate_task_instances(ids)
        except Exception as exc:
            log.warning("terminate_failed", cluster=cluster.name, count=len(ids), error=repr(exc))
            return 0
        for name, step, did in strangers:
            log.warning(
                "stranger_cancelled",
                cluster=cluster.name,
                submission=name,
                step=step,
                distributor_id=did,
            )
    return len(strangers)


def resolve_in_doubt(ctl: Controller, cluster: Cluster) -> None:
    """Settle the cluster's batches recorded as intents whose outcome this controller never saw.

    With lookup by name: a batch the scheduler knows gets its ids recorded (members → ``O``);
    one it does not know was never submitted, so its members go back to ``Q`` (same attempt)
    and the name is retired. If the lookup fails, nothing changes until the next cycle.
    Without lookup, members end ``U`` and are retried (or not) as `InDoubtPolicy` says.
    """
    doubtful = [
        b
        for b in ctl.batches.values()
        if b.cluster == cluster.name and b.state == BatchState.INTENT
    ]
    if not doubtful:
        return
    if cluster.lookup is None:
        retry = ctl.config.in_doubt == InDoubtPolicy.RETRY
        for batch in doubtful:
            log.warning(
                "submission_in_doubt",
                cluster=cluster.name,
                submission=batch.name,
                members=len(batch.members),
                policy=ctl.config.in_doubt.value,
            )
            batch.state = BatchState.ABANDONED
            ctl.txn.batch(batch)
            for inst in _live_members(ctl, batch):
                ctl.finish(
                    inst,
                    S.UNKNOWN_ERROR,
                    f"submission {batch.name!r} in doubt: the controller stopped before it saw "
                    f"the scheduler's answer and cluster {cluster.name!r} cannot look "
                    "submissions up by name; it may have run"
                    + ("" if retry else " (in_doubt='fail': not retried)"),
                    retry=retry,
                )
        return
    try:
        found = cluster.lookup.find_by_name([batch.name for batch in doubtful])
    except Exception as exc:
        log.warning("lookup_failed", cluster=cluster.name, error=repr(exc))
        return
    now = ctl.clock()
    for batch in doubtful:
        steps = found.get(batch.name) or {}
        if steps:
            record_ids(ctl, cluster, batch, steps, now)
            log.info(
                "submission_recovered",
                cluster=cluster.name,
                submission=batch.name,
                steps=len(steps),
            )
        else:
            batch.state = BatchState.ABANDONED
            ctl.txn.batch(batch)
            # A submit call still running in the dead controller could yet create it.
            ctl.retired[batch.id] = now + RETIRED_WATCH
            for inst in _live_members(ctl, batch):
                inst.batch_id = inst.step = None
                ctl.move(inst, S.QUEUED, f"submission {batch.name!r} was never made; queued again")
                if ctl.tasks[inst.task_id].cancel_requested:
                    ctl.finish(inst, S.KILLED_SELF, "cancelled on request")
            log.info("submission_withdrawn", cluster=cluster.name, submission=batch.name)


def _live_members(ctl: Controller, batch: BatchRow) -> list[InstanceRow]:
    members = (ctl.instances.get(iid) for _, iid in sorted(batch.members.items()))
    return [
        inst
        for inst in members
        if inst is not None and inst.status == S.INSTANTIATED and inst.batch_id == batch.id
    ]


def record_ids(
    ctl: Controller, cluster: Cluster, batch: BatchRow, ids: dict[int, str], now: float
) -> None:
    """Record a batch's distributor ids: members → ``O``; cancelled members are terminated."""
    batch.state = BatchState.SUBMITTED
    batch.ids = {step: did for step, did in ids.items() if step in batch.members}
    ctl.txn.batch(batch)
    kill: list[str] = [did for step, did in ids.items() if step not in batch.members]
    for step, iid in sorted(batch.members.items()):
        inst = ctl.instances.get(iid)
        did = batch.ids.get(step)
        if inst is None or inst.status != S.INSTANTIATED or inst.batch_id != batch.id:
            if did is not None:
                kill.append(did)
            continue
        if did is None:
            ctl.finish(
                inst,
                S.NO_DISTRIBUTOR_ID,
                f"the scheduler returned no id for step {step} of {batch.name!r}",
            )
            continue
        inst.distributor_id = did
        inst.submitted_at = now
        task = ctl.tasks[inst.task_id]
        if task.cancel_requested:
            ctl.move(inst, S.LAUNCHED)
            ctl.finish(inst, S.KILLED_SELF, "cancelled on request", kill=True)
        else:
            ctl.move(inst, S.LAUNCHED)
    if kill:
        for did in kill:
            log.warning(
                "stranger_cancelled",
                cluster=cluster.name,
                submission=batch.name,
                distributor_id=did,
            )
        try:
            cluster.distributor.terminate_task_instances(kill)
        except Exception as exc:
            log.warning("terminate_failed", cluster=cluster.name, count=len(kill), error=repr(exc))
