"""Shared machinery for batch-scheduler plugins (Slurm, Grid Engine, HTCondor, PBS, LSF).

A batch plugin is a client, its parsers and a state map, handed as one small object to one
concrete distributor (composition, as httpx hands a transport to its client)::

    class MyScheduler:                      # satisfies BatchScheduler; talks to the scheduler
        name, title = "my", "MyScheduler"
        def submit(self, job: BatchJob) -> str: ...          # job.script(...), job.write(...)
        def task_ids(self, key, array) -> list[str]: ...
        def query_status(self, ids) / query_accounting(self, ids) / classify(...)
        def cancel(self, targets) / find_jobs(self, job_names) / ...

    class MyDistributor(BatchDistributor):  # only a typed constructor
        def __init__(self, cluster_name: str, *, submit_root=None, transport=None,
                     retry_policy=None, poll_policy=None, max_array_size=None, ...) -> None:
            self.client = MyClient(transport=transport, retry_policy=retry_policy)
            super().__init__(cluster_name, MyScheduler(self.client), submit_root=submit_root,
                             poll_policy=poll_policy, max_array_size=max_array_size)

``python scripts/new-plugin.py NAME`` generates a working plugin of this shape from
``plugins/_template``. The modules, one concept each:

`distributor.batch.scheduler`
    `BatchScheduler` (the protocol a plugin implements), `BatchJob` (one submission, and the
    job script for it) and `NamedJob` (what a lookup by name finds).
`distributor.batch.distributor`
    `BatchDistributor`: submission with intents, chunked arrays, tracking and lost jobs,
    composing the three below; every method final.
`distributor.batch.ledger`
    `Ledger`: the index and the outcome logs, from which any distributor on a submit root
    answers for any id issued there, as decided before.
`distributor.batch.lookup`
    `SubmissionLookup`: ``find_by_name`` from the index, and one scheduler command for the
    submissions whose answer was lost.
`distributor.batch.termination`
    `TerminationRetries`: what a cancel did not end is cancelled again, harder.
`distributor.batch.polling`
    `StatusTracker`: one status command per poll cycle for all jobs, adaptive interval, rate
    cap, batched accounting, the worker-record fallback, the one clock for lost jobs, and
    forgetting settled jobs.
`distributor.batch.runner`
    `CommandRunner`: the one place where the user's `RetryPolicy` meets the scheduler's
    transient patterns; timeouts, backoff with jitter, `SchedulerError` with argv/status/stderr.
`distributor.batch.transport` / `distributor.batch.recording_transport`
    `Transport` (run one argv; report its pid), `LocalTransport`, and `RecordingTransport`
    (records every command; a test's `Answer` may reply instead).
`distributor.batch.ssh` / `distributor.batch.transport_option`
    `SSHTransport` (a login node through OpenSSH with one master connection) and the
    ``transport`` option every plugin takes (``"ssh://user@host[:port]"``, `SSHConfig`).
`distributor.batch.files` / `distributor.batch.shell_files`
    `Files`: every file operation on the submit root's filesystem; `LocalFiles`, and
    `ShellFiles` (POSIX commands through the SSH transport).
`distributor.batch.script`
    `JobScript`: directives + identity + ``distributor-worker`` (records and limits) around
    the quoted command; `safe_name`, `check_directive_value`, `find_worker_executable`.
`distributor.batch.submit_root`
    `SubmitRoot`: task directories (0700), intents and the name listing, the index from job key
    to directory and ids, outcome logs, pruning that never leaves the root.
`distributor.batch.status`
    `JobStatus`/`JobPhase` (what a parser returns) and the scheduler-independent parts of a
    state map (`describe_exit`, `command_phrase`, `limit_exit_info`, ...).
`distributor.batch.worker_node`
    `BatchWorkerNode`: a complete ``ClusterWorkerNode`` reading the job script's identity.

This package imports only the contracts and `distributor.worker`; nothing scheduler-specific.
"""

from distributor.batch.distributor import DEFAULT_RETENTION, BatchDistributor
from distributor.batch.files import Files, FileStat, LocalFiles
from distributor.batch.ledger import Issued, Ledger
from distributor.batch.lookup import SubmissionLookup
from distributor.batch.polling import (
    PollPolicy,
    PollStats,
    StatusBackend,
    StatusTracker,
    TrackedJob,
    TrackerNews,
)
from distributor.batch.recording_transport import Answer, RecordingTransport
from distributor.batch.runner import GENERIC_TRANSIENT, CommandRunner, RetryPolicy
from distributor.batch.scheduler import BatchJob, BatchScheduler, NamedJob
from distributor.batch.script import (
    JobScript,
    check_directive_value,
    check_env_name,
    find_worker_executable,
    safe_name,
    worker_node_command,
)
from distributor.batch.shell_files import ShellFiles
from distributor.batch.ssh import SSHConfig, SSHTransport
from distributor.batch.status import (
    JobPhase,
    JobStatus,
    command_phrase,
    describe_exit,
    describe_record,
    exit_info_from_record,
    exit_info_from_returncode,
    killed_for_memory,
    limit_exit_info,
    mebibytes,
    peak_memory,
    signal_name,
    usage_stats,
)
from distributor.batch.submit_root import Submission, SubmitRoot, SubmitRootError, TaskDirectory
from distributor.batch.termination import (
    DEFAULT_TERMINATION_RETRY,
    TERMINATION_ATTEMPTS,
    TerminationRetries,
)
from distributor.batch.transport import CommandResult, ExecResult, LocalTransport, Transport
from distributor.batch.transport_option import TransportOption, files_for, open_transport
from distributor.batch.worker_node import BatchWorkerNode

__all__ = [
    "Answer",
    "BatchDistributor",
    "BatchJob",
    "BatchScheduler",
    "BatchWorkerNode",
    "CommandResult",
    "CommandRunner",
    "DEFAULT_RETENTION",
    "DEFAULT_TERMINATION_RETRY",
    "ExecResult",
    "FileStat",
    "Files",
    "GENERIC_TRANSIENT",
    "Issued",
    "JobPhase",
    "JobScript",
    "JobStatus",
    "Ledger",
    "LocalFiles",
    "LocalTransport",
    "NamedJob",
    "PollPolicy",
    "PollStats",
    "RecordingTransport",
    "RetryPolicy",
    "SSHConfig",
    "SSHTransport",
    "ShellFiles",
    "StatusBackend",
    "StatusTracker",
    "Submission",
    "SubmissionLookup",
    "SubmitRoot",
    "SubmitRootError",
    "TERMINATION_ATTEMPTS",
    "TaskDirectory",
    "TerminationRetries",
    "TrackedJob",
    "TrackerNews",
    "Transport",
    "TransportOption",
    "check_directive_value",
    "check_env_name",
    "command_phrase",
    "describe_exit",
    "describe_record",
    "exit_info_from_record",
    "exit_info_from_returncode",
    "files_for",
    "find_worker_executable",
    "killed_for_memory",
    "limit_exit_info",
    "mebibytes",
    "open_transport",
    "peak_memory",
    "safe_name",
    "signal_name",
    "usage_stats",
    "worker_node_command",
]
