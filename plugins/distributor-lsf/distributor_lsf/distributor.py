"""`LsfDistributor`: submit with ``bsub < job.sh``, track with one bjobs per poll cycle.

* **Submission.** Each task (or array chunk) gets a task directory under the submit root with
  its job script (``#BSUB`` directives, identity, ``distributor-worker`` around the quoted
  command), logs and exit records. The script is fed to ``bsub`` on standard input and the id
  is read from ``Job <123> is submitted to queue <normal>.``
* **Arrays** are ``-J "name[1-n]%cap"`` chunks of at most `LsfDistributor.max_array_size`
  elements (LSF's ``MAX_JOB_ARRAY_SIZE``, default 1000). LSF indices are 1-based: element
  ``i`` of the chunk at offset ``o`` is step ``o + i - 1``, exported as
  ``DISTRIBUTOR_ARRAY_STEP_ID=$((LSB_JOBINDEX - 1 + o))``; its id is ``<job id>[i]``. If a
  chunk is refused, the chunks already submitted are killed before `SubmissionError` is raised.
* **Tracking** (`distributor.batch.TrackedDistributor`) is a `StatusTracker` over
  `LsfClient`: one ``bjobs -a`` per cycle, ``bhist`` only for jobs mbatchd has cleaned, the
  worker's record after the accounting delay, lost jobs ``U``. Termination is one ``bkill``
  naming whole arrays by their job id where possible, and is remembered. Ids are recorded in
  the submit root's index, so a new distributor on the same root answers for them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from distributor import ResourceRequest
from distributor.batch import (
    DEFAULT_RETENTION,
    JobScript,
    JobStatus,
    PollPolicy,
    RetryPolicy,
    TrackedDistributor,
    Transport,
    check_arguments,
    check_directive_value,
    safe_name,
)
from distributor_lsf import parsers, states
from distributor_lsf.client import LsfClient
from distributor_lsf.queue import DECLARED_RESOURCES

__all__ = ["LsfDistributor", "memory_limit"]

log = structlog.get_logger(__name__)

_SINGLE_ID = '"$LSB_JOBID"'
_ARRAY_ID = '"${LSB_JOBID}[${LSB_JOBINDEX}]"'
_UNITS = {"KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}


def memory_limit(amount: int, unit_for_limits: str | None = None) -> str:
    """An amount of bytes for ``-M`` and ``rusage[mem=...]``, rounded up.

    Args:
        amount: bytes.
        unit_for_limits: None writes an explicit ``MB`` (LSF 10.1.0.2 and later); ``KB``,
            ``MB``, ``GB`` or ``TB`` write a bare number in that unit, for older clusters
            whose ``LSF_UNIT_FOR_LIMITS`` it must match.
    """
    if unit_for_limits is None:
        return f"{math.ceil(amount / 2**20)}MB"
    return str(math.ceil(amount / _UNITS[unit_for_limits]))


def _runtime(seconds: int) -> str:
    """``-W [hours:]minutes``, rounded up to whole minutes."""
    hours, minutes = divmod(math.ceil(seconds / 60), 60)
    return f"{hours}:{minutes:02d}"


class LsfDistributor(TrackedDistributor):
    """Submits to and tracks an LSF cluster (see the module docstring).

    Array ids are ``<job id>[<index>]`` with LSF's 1-based index (`first_array_index`).

    Args:
        cluster_name: a name for the cluster (used in messages and the default submit root).
        submit_root: directory for job scripts, logs and exit records; must be visible at the
            same path on the execution hosts.
        lsf_env: extra environment for every LSF command (``LSF_ENVDIR``, ``PATH``).
        transport / retry_policy: how LSF commands run (default: locally, `LSF_TRANSIENT`).
        poll_policy: poll intervals, rate cap, accounting delay and lost-job grace.
        max_array_size: at most this many elements per array job (the cluster's
            ``MAX_JOB_ARRAY_SIZE``; default 1000).
        retention: seconds a task directory is kept after its last change (default 7
            days; None keeps all); expired ones are deleted by `start`, once a day.
        unit_for_limits: None (default) writes memory with an explicit unit; else the
            cluster's ``LSF_UNIT_FOR_LIMITS`` (see `memory_limit`).
        worker: path of ``distributor-worker`` on the hosts (default: beside this Python).
    """

    scheduler = "lsf"
    first_array_index = 1
    declared_resources = DECLARED_RESOURCES

    def __init__(
        self,
        cluster_name: str,
        *args: Any,
        submit_root: str | os.PathLike[str] | None = None,
        lsf_env: Mapping[str, str] | None = None,
        transport: Transport | None = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        max_array_size: int = 1000,
        retention: float | None = DEFAULT_RETENTION,
        unit_for_limits: str | None = None,
        worker: str | None = None,
        **kwargs: Any,
    ) -> None:
        check_arguments("LsfDistributor", args, kwargs, max_array_size)
        if unit_for_limits is not None and unit_for_limits not in _UNITS:
            raise ValueError(
                f"unit_for_limits={unit_for_limits!r}: must be None or one of {sorted(_UNITS)}"
            )
        self.client = LsfClient(
            env=lsf_env,
            transport=transport,
            retry_policy=retry_policy,
            unit_for_limits=unit_for_limits or "KB",
        )
        super().__init__(
            cluster_name,
            self.client,
            submit_root=submit_root,
            poll_policy=poll_policy,
            worker=worker,
            max_array_size=max_array_size,
            retention=retention,
        )
        self._unit = unit_for_limits

    # --- submission ---------------------------------------------------------------------

    def _directives(
        self, request: ResourceRequest, name: str, task_dir: Path, length: int | None
    ) -> list[tuple[str, str | None]]:
        if length is None:
            job_name, suffix = safe_name(name), ""
        else:
            cap = request.extra.get("lsf.array_cap")
            job_name = f"{safe_name(name)}[1-{length}]" + (f"%{cap}" if cap else "")
            suffix = "-%I"
        directives: list[tuple[str, str | None]] = [
            ("-J", job_name),
            ("-o", f"{task_dir}/stdout{suffix}.log"),
            ("-e", f"{task_dir}/stderr{suffix}.log"),
        ]
        if request.queue is not None:
            directives.append(("-q", check_directive_value("queue", request.queue)))
        if request.cores is not None:
            directives += [("-n", str(request.cores)), ("-R", "span[hosts=1]")]
        if request.memory_bytes is not None:
            amount = memory_limit(request.memory_bytes, self._unit)
            directives += [("-M", amount), ("-R", f"rusage[mem={amount}]")]
        if request.runtime_seconds is not None:
            directives.append(("-W", _runtime(request.runtime_seconds)))
        if request.gpus:
            directives.append(("-gpu", f"num={request.gpus}"))
        for key, flag in (("lsf.project", "-P"), ("lsf.app", "-app")):
            if key in request.extra:
                directives.append((flag, request.extra[key]))
        return directives

    def submit_job(
        self,
        command: str,
        name: str,
        request: ResourceRequest,
        *,
        array: tuple[int, int] | None,
    ) -> tuple[str, Path]:
        """Write and submit one job (array chunk = (offset, length)); return (job id, dir)."""
        if array is None:
            id_expr, step_expr, length = _SINGLE_ID, None, None
        else:
            offset, length = array
            id_expr, step_expr = _ARRAY_ID, f"$((LSB_JOBINDEX - 1 + {offset}))"
        with self.submission(name, "LSF") as task_dir:
            script = JobScript(
                command=command,
                worker=self._worker,
                record=str(task_dir / ("exit.json" if array is None else "exit-{step}.json")),
                distributor_id_expr=id_expr,
                array_step_expr=step_expr,
                directive_prefix="#BSUB",
                directives=self._directives(request, name, task_dir, length),
                directive_separator=" ",
                label=name,
                generator="distributor-lsf",
            ).render()
            self.submit_root.write_script(task_dir, script)
            job_id = self.client.submit(script)
        self.register_job(
            job_id,
            task_dir,
            memory_bytes=request.memory_bytes,
            runtime_seconds=request.runtime_seconds,
            array=array,
        )
        return job_id, task_dir

    def array_task_id(self, job_key: str, index: int) -> str:
        """``<job id>[<1-based index>]``."""
        return f"{job_key}[{index}]"

    # --- tracking hooks (the rest is TrackedDistributor's) ------------------------------

    def split_id(self, distributor_id: str) -> tuple[str, int | None] | None:
        """``"123[4]"`` → ``("123", 4)``, ``"123"`` → ``("123", None)``; None if not ours."""
        match = parsers.DISTRIBUTOR_ID.fullmatch(distributor_id)
        if match is None:
            return None
        return match["job"], None if match["index"] is None else int(match["index"])

    def cancel(self, tokens: Sequence[str]) -> None:
        """One ``bkill`` for these job ids and array elements."""
        self.client.cancel(tokens)

    def force_cancel(self, tokens: Sequence[str]) -> None:
        """``bkill -r``: for jobs an earlier ``bkill`` did not end."""
        self.client.cancel(tokens, force=True)

    def queueing_error(self, status: JobStatus) -> str | None:
        """A pending reason that can never clear (`distributor_lsf.states.queueing_error`)."""
        return states.queueing_error(status.reason)
