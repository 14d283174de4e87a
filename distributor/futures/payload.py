"""A call and its outcome on disk: what travels between this process and the task.

A call directory holds ``call.pkl`` (or ``call-<step>.pkl`` for each step of a map) and, once
the task ran, ``result.pkl`` (``result-<step>.pkl``). Each file is an envelope — the Python and
cloudpickle versions that wrote it, then the payload — written to a temporary name and renamed,
so a reader never sees half a file. The versions are compared before the payload is unpickled:
a mismatch is reported as such, never as a garbled unpickling error.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import cloudpickle

from distributor.futures.errors import PayloadError, RemoteEnvironmentError

__all__ = [
    "ENVIRONMENT",
    "Outcome",
    "call_path",
    "dump_call",
    "read_envelope",
    "result_path",
    "write_envelope",
]

ENVIRONMENT = (
    f"python {sys.version_info.major}.{sys.version_info.minor}, "
    f"cloudpickle {cloudpickle.__version__}"
)
"""What must match on both sides."""

Outcome = tuple[Literal["ok"], Any] | tuple[Literal["error"], BaseException, str]
"""``("ok", value)`` or ``("error", exception, remote traceback text)``."""


def call_path(directory: Path, step: int | None) -> Path:
    """The call file of a single call (`step` None) or of one step of a map."""
    return directory / ("call.pkl" if step is None else f"call-{step}.pkl")


def result_path(directory: Path, step: int | None) -> Path:
    """The result file matching `call_path`."""
    return directory / ("result.pkl" if step is None else f"result-{step}.pkl")


def write_envelope(path: Path, payload: bytes) -> None:
    """Write ``(ENVIRONMENT, payload)`` atomically (temporary file, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        pickle.dump((ENVIRONMENT, payload), handle, protocol=pickle.HIGHEST_PROTOCOL)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_envelope(path: Path) -> Any:
    """The payload of an envelope, unpickled.

    Raises:
        RemoteEnvironmentError: it was written by another Python or cloudpickle.
    """
    with open(path, "rb") as handle:
        environment, payload = pickle.load(handle)  # noqa: S301 - our own file, in our folder
    if environment != ENVIRONMENT:
        raise RemoteEnvironmentError(local=ENVIRONMENT, remote=environment)
    return cloudpickle.loads(payload)


def _diagnose(fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    """Raise `PayloadError` naming the first part of a call that cannot be pickled."""
    parts: list[tuple[str, Any]] = [("the function", fn)]
    parts += [(f"argument {i + 1}", value) for i, value in enumerate(args)]
    parts += [(f"keyword {key!r}", value) for key, value in kwargs.items()]
    for what, value in parts:
        try:
            cloudpickle.dumps(value)
        except Exception as exc:
            raise PayloadError(what, type(value).__name__, str(exc) or type(exc).__name__) from exc


def dump_call(
    path: Path, fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    """Write a call to `path`.

    Raises:
        PayloadError: the function or an argument cannot be pickled (named).
    """
    try:
        payload = cloudpickle.dumps((fn, tuple(args), dict(kwargs)))
    except Exception:
        _diagnose(fn, args, kwargs)
        raise
    write_envelope(path, payload)
