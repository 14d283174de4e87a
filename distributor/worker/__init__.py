"""The worker-node side: the ``distributor-worker`` wrapper and the exit record it writes.

Every backend runs a task's command under ``distributor-worker``, which writes a `StartRecord`
when the command starts and an `ExitRecord` (exit status, signals received, usage, a limit it
enforced) atomically beside the task's logs when it ends. Batch plugins fall back
to that record when the scheduler's accounting has nothing.
"""

from distributor.worker.record import (
    EXIT_RECORD_VERSION,
    ExitRecord,
    StartRecord,
    read_exit_record,
    read_start_record,
    write_exit_record,
    write_start_record,
)

__all__ = [
    "EXIT_RECORD_VERSION",
    "ExitRecord",
    "StartRecord",
    "read_exit_record",
    "read_start_record",
    "write_exit_record",
    "write_start_record",
]
