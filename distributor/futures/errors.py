"""What a call on a cluster can raise besides the function's own exception."""

from __future__ import annotations

from pathlib import Path

from distributor.exceptions import DistributorError
from distributor.exit_info import RemoteExitInfo

__all__ = ["PayloadError", "RemoteEnvironmentError", "RemoteTraceback", "TaskFailedError"]


class RemoteTraceback(Exception):
    """The remote traceback, attached as ``__cause__`` of a re-raised remote exception."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


class PayloadError(DistributorError, TypeError):
    """A function, an argument or a result cannot travel (cloudpickle refused it).

    Attributes:
        what: which object (``argument 2``, ``keyword 'model'``, ``the function``); kind: its
        type's name; reason: cloudpickle's complaint.
    """

    def __init__(self, what: str, kind: str, reason: str) -> None:
        self.what = what
        self.kind = kind
        self.reason = reason
        super().__init__(f"{what} (a {kind}) cannot be pickled: {reason}")


class RemoteEnvironmentError(DistributorError):
    """The remote Python cannot read what this one wrote: another Python version or
    cloudpickle version (detected before unpickling, not a garbled unpickling error).

    Attributes:
        local: ``python X.Y, cloudpickle V`` here; remote: the same, there.
    """

    def __init__(self, local: str, remote: str) -> None:
        self.local = local
        self.remote = remote
        super().__init__(
            f"the task ran with {remote}, the call was written by {local}: use the same "
            "Python and cloudpickle on both sides"
        )


class TaskFailedError(DistributorError):
    """The task ended without a result: terminated, over a limit, lost, killed by a signal.

    Attributes:
        distributor_id: the task; exit_info: how it ended; log: its output file, if known.
    """

    def __init__(self, distributor_id: str, exit_info: RemoteExitInfo, log: Path | None) -> None:
        self.distributor_id = distributor_id
        self.exit_info = exit_info
        self.log = log
        where = f" (log: {log})" if log else ""
        super().__init__(
            f"task {distributor_id} ended {exit_info.error_state.value} without a result: "
            f"{exit_info.error_message}{where}"
        )
