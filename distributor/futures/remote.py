"""The task's side of a call: ``python -m distributor.futures.remote DIRECTORY [STEP]``.

Reads the call (``call.pkl``; for a step of a map ``call-<step>.pkl``, the step given or taken
from ``DISTRIBUTOR_ARRAY_STEP_ID``),
runs it and writes the outcome next to it, atomically: the value, or the exception with its
traceback (an exception that cannot be pickled travels as a `RuntimeError` with its type and
message). A call written by another Python or cloudpickle is answered with that mismatch. The
process exits 0 whenever an outcome was written, so a raising function is a task that ended
``D`` with an exception as its result; anything else (a limit, a signal) is the task's exit info.
"""

from __future__ import annotations

import os
import resource
import sys
import traceback
from pathlib import Path

import cloudpickle

from distributor.futures.errors import RemoteEnvironmentError
from distributor.futures.payload import call_path, read_envelope, result_path, write_envelope
from distributor.resources import format_bytes

__all__ = ["main"]


def _outcome_bytes(value: object) -> bytes:
    payload: bytes = cloudpickle.dumps(value)
    return payload


def _note_memory_limit(exc: MemoryError) -> None:
    """Say which limit a MemoryError met: schedulers such as Grid Engine enforce a memory
    request as the task's address-space limit (``h_vmem``), which Python reports this way."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        exc.add_note(f"the task's memory limit (address space) is {format_bytes(soft)}")


def main(argv: list[str] | None = None) -> int:
    """Run the call of the directory (and step) given as arguments."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print("usage: python -m distributor.futures.remote DIRECTORY [STEP]", file=sys.stderr)
        return 2
    directory = Path(args[0])
    raw_step = args[1] if len(args) == 2 else os.environ.get("DISTRIBUTOR_ARRAY_STEP_ID", "")
    step = int(raw_step) if raw_step and (directory / "call-0.pkl").exists() else None
    target = result_path(directory, step)
    try:
        fn, fn_args, fn_kwargs = read_envelope(call_path(directory, step))
    except RemoteEnvironmentError as exc:
        write_envelope(target, _outcome_bytes(("error", exc, traceback.format_exc())))
        return 0
    try:
        value = fn(*fn_args, **fn_kwargs)
    except BaseException as exc:  # the function's own exception is its result
        text = traceback.format_exc()
        if isinstance(exc, MemoryError):
            _note_memory_limit(exc)
        try:
            payload = _outcome_bytes(("error", exc, text))
        except Exception:
            stand_in = RuntimeError(f"{type(exc).__qualname__}: {exc} (could not be pickled)")
            payload = _outcome_bytes(("error", stand_in, text))
        write_envelope(target, payload)
        return 0
    try:
        payload = _outcome_bytes(("ok", value))
    except Exception as exc:
        error = TypeError(f"the result (a {type(value).__name__}) cannot be pickled: {exc}")
        payload = _outcome_bytes(("error", error, traceback.format_exc()))
    write_envelope(target, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
