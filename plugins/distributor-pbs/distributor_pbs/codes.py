"""What PBS's one-letter job states and its ``Exit_status`` values mean, per flavour.

Sources (see the plugin README for the full list):

* Job states: PBS Professional Reference Guide 2024.1, "Job Attributes: job_state" and
  OpenPBS ``src/include/job.h`` (``JOB_STATE_LTR_*``); Torque 6.1 ``qstat`` man page. The two
  alphabets do not collide: Torque's final letter is ``C``, PBS Pro's is ``F``.
* PBS Pro / OpenPBS ``Exit_status``: Reference Guide 2024.1 table "Job Exit Codes" and
  OpenPBS ``src/include/job.h`` (``JOB_EXEC_*``, -1 … -30); 0–255 is the top process's exit
  value (128+N: a signal N ended a child of the shell); 256+N: the top process itself was
  killed by signal N (the MoM reports ``WTERMSIG + 0x100``).
* Torque ``exit_status``: Torque 6.1.2 Administrator Guide, "Job Exit Status" (-1 … -14).
  The same negative number means different things in the two flavours: -11 is a walltime kill
  in Torque (``JOB_EXEC_OVERLIMIT_WT``) and a rerun in PBS Pro (``JOB_EXEC_RERUN``).
"""

from __future__ import annotations

from collections.abc import Mapping

from distributor.batch import JobPhase

__all__ = [
    "FLAVOURS",
    "JOB_STATES",
    "PRO_EXIT_CODES",
    "SIGNAL_BASE",
    "SUBSTATE_FAILED",
    "SUBSTATE_FINISHED",
    "SUBSTATE_TERMINATED",
    "TORQUE_EXIT_CODES",
    "ExitCodeTable",
    "ExitCodes",
    "exit_codes",
]

FLAVOURS = ("pro", "torque")
"""The PBS flavours this plugin speaks: PBS Professional / OpenPBS, and Torque."""

JOB_STATES: Mapping[str, tuple[JobPhase, str]] = {
    "Q": (JobPhase.QUEUED, "queued"),
    "H": (JobPhase.QUEUED, "held"),
    "W": (JobPhase.QUEUED, "waiting for its execution time"),
    "T": (JobPhase.QUEUED, "in transit"),
    "R": (JobPhase.RUNNING, "running"),
    "E": (JobPhase.RUNNING, "exiting"),
    "S": (JobPhase.RUNNING, "suspended"),
    "U": (JobPhase.RUNNING, "suspended (workstation busy)"),
    "B": (JobPhase.RUNNING, "array begun"),
    "F": (JobPhase.FINAL, "finished"),
    "C": (JobPhase.FINAL, "completed"),
    "X": (JobPhase.FINAL, "expired subjob"),
    "M": (JobPhase.FINAL, "moved to another server"),
}
"""Every ``job_state`` letter of both flavours → phase and words. ``E`` is transitional in both
(the job ended, PBS is cleaning up): it stays active until ``F``/``C``."""

SUBSTATE_TERMINATED = 91
"""PBS Pro history substate of a job that was deleted (``JOB_SUBSTATE_TERMINATED``)."""
SUBSTATE_FINISHED = 92
"""PBS Pro history substate of a job that ended by itself (``JOB_SUBSTATE_FINISHED``)."""
SUBSTATE_FAILED = 93
"""PBS Pro history substate of a job that failed (``JOB_SUBSTATE_FAILED``)."""

SIGNAL_BASE = 256
"""An ``Exit_status`` of ``256 + N`` means the job's top process was killed by signal N."""

ExitCodes = Mapping[int, tuple[str, str]]
"""Negative ``Exit_status`` → (symbol, meaning)."""

_SHARED_EXIT_CODES: ExitCodes = {
    -1: ("JOB_EXEC_FAIL1", "execution failed before files were staged, no retry"),
    -2: ("JOB_EXEC_FAIL2", "execution failed after files were staged, no retry"),
    -3: ("JOB_EXEC_RETRY", "execution failed, to be retried"),
    -4: ("JOB_EXEC_INITABT", "aborted on MoM initialization"),
    -5: ("JOB_EXEC_INITRST", "aborted on MoM initialization, checkpointed, no migration"),
    -6: ("JOB_EXEC_INITRMG", "aborted on MoM initialization, checkpointed, may migrate"),
    -7: ("JOB_EXEC_BADRESRT", "restart from checkpoint failed"),
}
"""The codes both flavours inherited from OpenPBS 2.3 and still share."""

PRO_EXIT_CODES: ExitCodes = {
    **_SHARED_EXIT_CODES,
    -10: ("JOB_EXEC_FAILUID", "invalid user or group id for the job"),
    -11: ("JOB_EXEC_RERUN", "the job was rerun"),
    -12: ("JOB_EXEC_CHKP", "checkpointed and killed"),
    -13: ("JOB_EXEC_FAIL_PASSWORD", "bad password"),
    -14: ("JOB_EXEC_RERUN_SIS_FAIL", "communication with a sister MoM failed"),
    -15: ("JOB_EXEC_QUERST", "requeued for restart from checkpoint"),
    -16: ("JOB_EXEC_FAILHOOK_RERUN", "a hook rejected the job, requeued for later"),
    -17: ("JOB_EXEC_FAILHOOK_DELETE", "a hook rejected the job, deleted"),
    -18: ("JOB_EXEC_HOOK_RERUN", "a hook requested a requeue"),
    -19: ("JOB_EXEC_HOOK_DELETE", "a hook requested deletion"),
    -20: ("JOB_EXEC_RERUN_MS_FAIL", "the server lost contact with the primary execution host"),
    -21: ("JOB_EXEC_FAIL_SECURITY", "security breach in the PBS directory"),
    -22: ("JOB_EXEC_HOOKERROR", "a hook raised an exception or timed out"),
    -23: ("JOB_EXEC_FAIL_KRB5", "no Kerberos credentials"),
    -24: ("JOB_EXEC_KILL_NCPUS_BURST", "killed for exceeding ncpus (burst)"),
    -25: ("JOB_EXEC_KILL_NCPUS_SUM", "killed for exceeding ncpus (sum)"),
    -26: ("JOB_EXEC_KILL_VMEM", "killed for exceeding vmem"),
    -27: ("JOB_EXEC_KILL_MEM", "killed for exceeding mem"),
    -28: ("JOB_EXEC_KILL_CPUT", "killed for exceeding cput"),
    -29: ("JOB_EXEC_KILL_WALLTIME", "killed for exceeding walltime"),
    -30: ("JOB_EXEC_JOINJOB", "joining the job's sister MoMs failed"),
}
"""PBS Pro / OpenPBS negative exit codes (OpenPBS ``src/include/job.h``)."""

TORQUE_EXIT_CODES: ExitCodes = {
    **_SHARED_EXIT_CODES,
    -8: ("JOB_EXEC_CMDFAIL", "exec() of the user command failed"),
    -9: ("JOB_EXEC_STDOUTFAIL", "could not create or open the stdout/stderr files"),
    -10: ("JOB_EXEC_OVERLIMIT_MEM", "exceeded a memory limit"),
    -11: ("JOB_EXEC_OVERLIMIT_WT", "exceeded a walltime limit"),
    -12: ("JOB_EXEC_OVERLIMIT_CPUT", "exceeded a CPU time limit"),
    -13: ("JOB_EXEC_RETRY_CGROUP", "cgroup creation failed, to be retried"),
    -14: ("JOB_EXEC_RETRY_PROLOGUE", "the prologue failed, to be retried"),
}
"""Torque negative exit codes (Torque 6.1.2 Administrator Guide, "Job Exit Status")."""

_RUNTIME_KILLS = {"pro": frozenset({-28, -29}), "torque": frozenset({-11, -12})}
_MEMORY_KILLS = {"pro": frozenset({-26, -27}), "torque": frozenset({-10})}
_CPU_KILLS = {"pro": frozenset({-24, -25}), "torque": frozenset[int]()}


class ExitCodeTable:
    """The exit-code table of one flavour, with the limit kills picked out."""

    def __init__(self, flavour: str, table: ExitCodes) -> None:
        self.flavour = flavour
        self.table = table
        self.runtime_kills = _RUNTIME_KILLS[flavour]
        self.memory_kills = _MEMORY_KILLS[flavour]
        self.cpu_kills = _CPU_KILLS[flavour]

    def describe(self, exit_status: int) -> str:
        """``-29 JOB_EXEC_KILL_WALLTIME (killed for exceeding walltime)``; ``-99 (undocumented)``
        for a code the table lacks."""
        name, meaning = self.table.get(exit_status, ("", "undocumented"))
        return f"{exit_status} {name} ({meaning})" if name else f"{exit_status} ({meaning})"


_TABLES = {
    "pro": ExitCodeTable("pro", PRO_EXIT_CODES),
    "torque": ExitCodeTable("torque", TORQUE_EXIT_CODES),
}


def exit_codes(flavour: str) -> ExitCodeTable:
    """The exit-code table of `flavour` (``pro`` or ``torque``).

    Raises:
        ValueError: an unknown flavour (naming the known ones).
    """
    try:
        return _TABLES[flavour]
    except KeyError:
        raise ValueError(f"flavour={flavour!r}: expected one of {', '.join(FLAVOURS)}") from None
