"""`DistributorBridge`: a Jobmon ``ClusterDistributor`` that submits through a distributor plugin.

Jobmon builds it as ``DistributorBridge(cluster_name, **connection_parameters)``; the parameters
name the plugin and carry its distributor's options, exactly as a ``[clusters.NAME]`` table of
``distributor.toml`` would (tables become the option's dataclass, unknown options are refused)::

    {"plugin": "slurm", "slurm_conf": "/etc/slurm/slurm.conf", "submit_root": "/shared/jm"}

What Jobmon 3.4.8 needs besides the plugin's own answers:

* the worker command: Jobmon's ``build_worker_node_command`` words carry no executable; the
  bridge prepends Jobmon's ``worker_node_entry_point`` when it submits (the command that
  ``JOBMON__DISTRIBUTOR__WORKER_NODE_ENTRY_POINT`` names, else the one beside this Python,
  else the one on ``PATH``);
* ``stdout``/``stderr`` log directories among the resources, which no plugin takes;
* exit information as a ``(state, message)`` tuple in a state triage accepts
  (`jobmon_exit_info`);
* a silent start: Jobmon's client reads the first five bytes its distributor process writes
  on stderr and gives up unless they are ``ALIVE``, so creating, starting and stopping the
  plugin's distributor run with file descriptor 2 on a scratch file (kept in
  `DistributorBridge.captured_output`), and no process they start inherits Jobmon's pipe.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from jobmon.plugins.distributor.jobmon_exit_info import exit_info_for_jobmon
from jobmon.plugins.distributor.jobmon_resources import split_log_dirs

from distributor import (
    ClusterDistributor,
    ClusterDistributorFactory,
    RemoteExitInfo,
    TaskInstanceStatus,
    UnknownDistributorIdError,
)
from distributor.config import ClusterConfig
from distributor.exceptions import ConfigFileError
from distributor.logs import get_logger

__all__ = ["WORKER_ENTRY_POINT_ENV", "DistributorBridge", "jobmon_worker_argv"]

log = get_logger(__name__)

WORKER_ENTRY_POINT_ENV = "JOBMON__DISTRIBUTOR__WORKER_NODE_ENTRY_POINT"
"""Jobmon's client sets it (in double quotes) to a command that replaces the entry point."""

_ENTRY_POINT = "worker_node_entry_point"
_CAPTURE_LIMIT = 64 * 1024  # bytes kept of one capture
_CAPTURE_KEPT = 4  # captures kept


def jobmon_worker_argv(environ: dict[str, str] | None = None) -> list[str]:
    """The words that start Jobmon's worker node.

    Raises:
        ConfigFileError: no ``worker_node_entry_point`` beside this Python nor on ``PATH``,
            and the environment names none.
    """
    env = os.environ if environ is None else environ
    configured = env.get(WORKER_ENTRY_POINT_ENV, "").strip()
    if configured:
        words = shlex.split(configured)
        if len(words) == 1 and not Path(words[0]).is_file():
            words = shlex.split(words[0])  # Jobmon quotes the whole command once
        if words:
            return words
    beside = Path(sys.executable).parent / _ENTRY_POINT
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which(_ENTRY_POINT, path=env.get("PATH"))
    if found:
        return [found]
    raise ConfigFileError(
        "Jobmon",
        None,
        _ENTRY_POINT,
        f"not found beside {sys.executable} nor on PATH: install jobmon-core where the "
        f"distributor runs, or set {WORKER_ENTRY_POINT_ENV}",
    )


@functools.cache
def _jobmon_version() -> str:
    """The version Jobmon's worker checks its own against (``jobmon.core.__version__``)."""
    return metadata.version("jobmon_core")


@contextlib.contextmanager
def _stderr_captured(into: list[str]) -> Iterator[None]:
    """Run the body with file descriptor 2 on a scratch file; append what it caught to `into`.

    Not logged: an application that logs to stderr would put it on Jobmon's pipe after all.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as scratch:
        os.dup2(scratch.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            scratch.seek(0)
            caught = scratch.read(_CAPTURE_LIMIT)
            if caught:
                into.append(caught.decode(errors="replace"))
                del into[:-_CAPTURE_KEPT]


class DistributorBridge:
    """Jobmon's distributor for one cluster, backed by the distributor plugin it names.

    Args:
        cluster_name: Jobmon's name for the cluster (also the plugin distributor's).
        **connection_parameters: ``plugin`` (required) and the plugin distributor's options.

    Raises:
        ConfigFileError: no ``plugin``, positional parameters, an option the plugin's
            distributor does not take, or no Jobmon worker entry point.
        PluginNotFoundError, PluginLoadError: as `distributor.load_plugin`.
    """

    def __init__(self, cluster_name: str, *args: str, **connection_parameters: Any) -> None:
        where = f"Jobmon cluster {cluster_name!r} connection_parameters"
        if args:
            raise ConfigFileError(where, None, "", f"takes keywords only, not {args!r}")
        options = dict(connection_parameters)
        plugin = options.pop("plugin", None)
        if not isinstance(plugin, str) or not plugin:
            raise ConfigFileError(
                where,
                None,
                "plugin",
                'must name the distributor plugin, e.g. {"plugin": "slurm", ...}; '
                f"got {plugin!r}",
            )
        self._captured: list[str] = []
        try:
            with _stderr_captured(self._captured):
                inner = ClusterConfig(cluster_name, plugin, options).distributor()
        except ConfigFileError as exc:  # it names a file; here the options are Jobmon's
            key = exc.key.removeprefix(f"clusters.{cluster_name}").lstrip(".")
            raise ConfigFileError(where, None, key, exc.reason) from exc
        self._cluster_name = cluster_name
        self._plugin = plugin
        self._inner: ClusterDistributor = inner
        self._worker = jobmon_worker_argv()
        self._log = log.bind(cluster=cluster_name, plugin=plugin)

    @property
    def inner(self) -> ClusterDistributor:
        """The plugin's distributor that does the work."""
        return self._inner

    @property
    def plugin(self) -> str:
        """The distributor plugin's name."""
        return self._plugin

    @property
    def captured_output(self) -> list[str]:
        """What was written on stderr while the plugin's distributor was created, started or
        stopped (the last few times), kept off Jobmon's pipe."""
        return list(self._captured)

    @property
    def worker_node_entry_point(self) -> str:
        """Jobmon's worker command, shell-quoted (it is put before every command submitted)."""
        return shlex.join(self._worker)

    @property
    def cluster_name(self) -> str:
        """Jobmon's name for the cluster."""
        return self._cluster_name

    def start(self) -> None:
        """Start the plugin's distributor; nothing reaches Jobmon's stderr pipe."""
        with _stderr_captured(self._captured):
            self._inner.start()

    def stop(self) -> None:
        """Stop the plugin's distributor (submitted tasks keep running), as quietly."""
        with _stderr_captured(self._captured):
            self._inner.stop()

    def get_queueing_errors(self, distributor_ids: list[str]) -> dict[str, str]:
        """The plugin's queueing errors for these ids."""
        return self._inner.get_queueing_errors(list(distributor_ids))

    def get_submitted_or_running(self, distributor_ids: list[str] | None = None) -> set[str]:
        """The ids the plugin still has queued or running."""
        ids = None if distributor_ids is None else list(distributor_ids)
        return self._inner.get_submitted_or_running(ids)

    def terminate_task_instances(self, distributor_ids: list[str]) -> None:
        """Ask the plugin to end these tasks."""
        self._inner.terminate_task_instances(list(distributor_ids))

    def get_remote_exit_info(self, distributor_id: str) -> tuple[str, str]:
        """How the task ended, as a ``(state, message)`` Jobmon's triage accepts; an id the
        plugin never issued (its state was lost, say) is ``U``, so that Jobmon retries the task
        instead of triaging it for ever.

        Raises:
            RemoteExitInfoNotAvailable: nothing final is known yet.
        """
        try:
            info = self._inner.get_remote_exit_info(distributor_id)
        except UnknownDistributorIdError as exc:
            info = RemoteExitInfo(TaskInstanceStatus.UNKNOWN_ERROR, str(exc))
        state, message = exit_info_for_jobmon(distributor_id, info)
        self._log.info("jobmon_exit_info", distributor_id=distributor_id, state=state)
        return state, message

    def submit_to_batch_distributor(
        self, command: str, name: str, requested_resources: dict[str, Any]
    ) -> str:
        """Submit Jobmon's worker command for one task instance.

        Raises:
            SubmissionError, ResourceError: as the plugin's distributor.
        """
        request, _ = split_log_dirs(requested_resources)
        return self._inner.submit_to_batch_distributor(self._command(command), name, request)

    def submit_array_to_batch_distributor(
        self, command: str, name: str, requested_resources: dict[str, Any], array_length: int
    ) -> dict[int, str]:
        """Submit Jobmon's worker command for an array batch: step (0-based) → id.

        Raises:
            SubmissionError, ResourceError: as the plugin's distributor.
        """
        request, _ = split_log_dirs(requested_resources)
        return self._inner.submit_array_to_batch_distributor(
            self._command(command), name, request, array_length
        )

    def build_worker_node_command(
        self,
        task_instance_id: int | None = None,
        array_id: int | None = None,
        batch_number: int | None = None,
    ) -> str:
        """Jobmon's worker-node arguments for a task instance or an array batch, quoted, without
        the executable (as Jobmon's own ``build_worker_node_command``).

        Raises:
            ValueError: neither a task instance nor an array and batch number.
        """
        if task_instance_id is not None:
            words = ["worker_node_job", "--task_instance_id", str(int(task_instance_id))]
        elif array_id is not None and batch_number is not None:
            words = ["worker_node_array", "--array_id", str(int(array_id)),
                     "--batch_number", str(int(batch_number))]  # fmt: skip
        else:
            raise ValueError(
                "a worker command needs task_instance_id, or array_id and batch_number; got "
                f"task_instance_id={task_instance_id!r}, array_id={array_id!r}, "
                f"batch_number={batch_number!r}"
            )
        words += [
            "--expected_jobmon_version",
            _jobmon_version(),
            "--cluster_name",
            self._cluster_name,
        ]
        return shlex.join(words)

    def _command(self, arguments: str) -> str:
        """The worker's arguments behind its entry point (Jobmon leaves the executable out)."""
        return f"{shlex.join(self._worker)} {arguments}"


_pinned: ClusterDistributorFactory = DistributorBridge
