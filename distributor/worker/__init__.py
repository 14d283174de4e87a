"""The worker-node side: the ``distributor-worker`` wrapper and the exit record it writes.

Every backend runs a task's command under ``distributor-worker``, which writes an `ExitRecord`
(exit status, signals received, usage) atomically beside the task's logs. Batch plugins fall back
to that record when the scheduler's accounting has nothing.
"""

from distributor.worker.record import (
    EXIT_RECORD_VERSION,
    ExitRecord,
    read_exit_record,
    write_exit_record,
)

__all__ = ["EXIT_RECORD_VERSION", "ExitRecord", "read_exit_record", "write_exit_record"]
