"""Exit information in the form Jobmon 3.4.8's distributor takes it.

Jobmon asks for exit information only to triage a task instance whose worker stopped
reporting, and does ``state, message = get_remote_exit_info(id)``; its server then accepts only
four states from triage: ``R`` (still running), ``Z`` (over a resource limit: retried with scaled
resources), ``U`` (unknown: retried) and ``F`` (fatal). Anything else would leave the task
instance in triage for good, so `exit_info_for_jobmon` reports every other state as ``U``,
naming the state the plugin gave — ``E`` above all (an error that may go away on a retry: a
killed worker, a signal), but also ``D`` (the command ended well, its worker never said so)
and ``K`` (terminated from outside Jobmon).
"""

from __future__ import annotations

from distributor import (
    RemoteExitInfo,
    RemoteExitInfoNotAvailable,
    TaskInstanceStatus,
    normalize_exit_info,
)

__all__ = ["JOBMON_TRIAGE_STATES", "exit_info_for_jobmon"]

JOBMON_TRIAGE_STATES = frozenset({"R", "Z", "U", "F"})
"""The states Jobmon 3.4.8's server accepts for a task instance in triage."""


def exit_info_for_jobmon(
    distributor_id: str, info: RemoteExitInfo | tuple[str, str]
) -> tuple[str, str]:
    """Return a plugin's exit information as the ``(state, message)`` Jobmon unpacks.

    Raises:
        RemoteExitInfoNotAvailable: the answer is not final yet (Jobmon asks again on its next
            pass).
        ExitInfoError: the plugin's answer has the wrong shape.
    """
    exit_info = normalize_exit_info(info)
    state = TaskInstanceStatus(exit_info.error_state).value
    if not exit_info.finalized:
        raise RemoteExitInfoNotAvailable(
            distributor_id, f"provisional {state}: {exit_info.error_message}"
        )
    if state in JOBMON_TRIAGE_STATES:
        return state, exit_info.error_message
    name = TaskInstanceStatus(state).name
    return "U", (
        f"{exit_info.error_message} [the distributor said {state} ({name}); Jobmon's triage "
        "takes only R, Z, U or F, so it is reported as U, which Jobmon retries]"
    ).lstrip()
