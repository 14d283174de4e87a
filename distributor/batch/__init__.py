"""Shared machinery for batch-scheduler plugins (Slurm, Grid Engine, HTCondor, PBS, LSF).

A batch plugin should be mostly templates, parsers and a state map on top of this package:

`distributor.batch.transport`
    `Transport` (run one argv with a timeout) and `LocalTransport`.
`distributor.batch.recording_transport`
    `RecordingTransport`: records every command; a test's `Answer` may reply instead.
`distributor.batch.runner`
    `CommandRunner`: timeouts, retries with backoff and jitter on transient failures,
    `SchedulerError` with argv/status/stderr, and per-program call counts.
`distributor.batch.script`
    `JobScript`: directives + identity (``DISTRIBUTOR_ID``, ``DISTRIBUTOR_ARRAY_STEP_ID``) +
    the ``distributor-worker`` wrapper around the quoted command; `safe_name`,
    `check_directive_value`, `find_worker_executable`, `worker_node_command`.
`distributor.batch.submit_root`
    `SubmitRoot`: per-task directories (0700) for scripts, logs and exit records, an index
    from job id to directory, and deletion that never leaves the root.
`distributor.batch.status`
    `JobStatus`/`JobPhase` (what a parser returns) and the scheduler-independent parts of a
    state map (`describe_exit`, `exit_info_from_record`, `usage_stats`, ...).
`distributor.batch.worker_node`
    `BatchWorkerNode`: a complete ``ClusterWorkerNode`` reading the job script's
    ``DISTRIBUTOR_ID``/``DISTRIBUTOR_ARRAY_STEP_ID``; plugins override how to derive them from
    the scheduler's own variables.
`distributor.batch.polling`
    `StatusTracker`: one status command per poll cycle for all tracked jobs, an adaptive
    interval, a cap on calls per minute, batched accounting, accounting delay, worker-record
    fallback and lost jobs (``U``, never ``D``). A plugin implements `StatusBackend`.

`distributor.batch.tracked`
    `TrackedDistributor`: the tracking half of a batch distributor (submitted-or-running,
    running, exit info, queueing errors, termination naming whole array chunks, adoption of
    ids from the submit root's index), ``distributor-worker``'s path and command; a plugin
    supplies ``split_id`` and ``cancel``. `check_arguments`: the constructor's checks.

A plugin's distributor then looks like this (the Slurm plugin is the worked example)::

    class MyDistributor(TrackedDistributor):
        scheduler = "my"                            # ~/.distributor/my/<cluster> by default
        declared_resources = {"my.account": r"[A-Za-z0-9_]{1,64}"}

        def __init__(self, cluster_name, *args, submit_root=None, transport=None,
                     poll_policy=None, worker=None, max_array_size=None, **kwargs):
            check_arguments("MyDistributor", args, kwargs, max_array_size)
            self.client = MyClient(CommandRunner(transport, RetryPolicy(transient=MY_TRANSIENT)))
            super().__init__(cluster_name, self.client, submit_root=submit_root,
                             poll_policy=poll_policy, worker=worker,
                             max_array_size=max_array_size)

        def submit_job(self, command, name, request, *, array):   # array: (offset, length)
            with self.submission(name, "MyScheduler") as task_dir:
                script = JobScript(command=command, worker=self.worker_node_entry_point,
                                   record=str(task_dir / "exit.json"),
                                   distributor_id_expr='"$MY_JOB_ID"', directive_prefix="#MY",
                                   directives=[("--name", safe_name(name)), ...]).render()
                job_id = self.client.submit(self.submit_root.write_script(task_dir, script))
            self.register_job(job_id, task_dir, memory_bytes=..., runtime_seconds=..., array=array)
            return job_id, task_dir

        def scheduler_array_limit(self): ...        # the scheduler's array size limit
        def array_task_id(self, job_key, index): ... # ("12", 3) -> "12_3"
        def split_id(self, distributor_id): ...     # "12_3" -> ("12", 3); None if not ours
        def cancel(self, tokens): ...               # one scancel/qdel/condor_rm/bkill

This package imports only the contracts and `distributor.worker`; nothing scheduler-specific.
"""

from distributor.batch.distributor import (
    DEFAULT_RETENTION,
    DEFAULT_TERMINATION_RETRY,
    TERMINATION_ATTEMPTS,
    BatchDistributor,
)
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
from distributor.batch.tracked import (
    DEFAULT_ARRAY_CHUNK,
    TrackedDistributor,
    check_arguments,
)
from distributor.batch.transport import CommandResult, LocalTransport, Transport
from distributor.batch.worker_node import BatchWorkerNode

__all__ = [
    "Answer",
    "BatchDistributor",
    "BatchJob",
    "BatchScheduler",
    "BatchWorkerNode",
    "CommandResult",
    "CommandRunner",
    "DEFAULT_ARRAY_CHUNK",
    "DEFAULT_RETENTION",
    "DEFAULT_TERMINATION_RETRY",
    "GENERIC_TRANSIENT",
    "JobPhase",
    "JobScript",
    "JobStatus",
    "LocalTransport",
    "NamedJob",
    "PollPolicy",
    "PollStats",
    "RecordingTransport",
    "RetryPolicy",
    "StatusBackend",
    "StatusTracker",
    "Submission",
    "SubmitRoot",
    "SubmitRootError",
    "TERMINATION_ATTEMPTS",
    "TaskDirectory",
    "TrackedDistributor",
    "TrackedJob",
    "TrackerNews",
    "Transport",
    "check_arguments",
    "check_directive_value",
    "check_env_name",
    "command_phrase",
    "describe_exit",
    "describe_record",
    "exit_info_from_record",
    "exit_info_from_returncode",
    "find_worker_executable",
    "killed_for_memory",
    "limit_exit_info",
    "mebibytes",
    "peak_memory",
    "safe_name",
    "signal_name",
    "usage_stats",
    "worker_node_command",
]
