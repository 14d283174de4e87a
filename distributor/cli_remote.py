"""The command and a task's files on the cluster's side (a login node's through an SSH
transport): ``distributor results ID DIR`` and ``distributor peek ID FILE`` for distributors
that have `distributor.protocols.SupportsResults`, ``distributor logs`` of a remote log, and
the scratch space of ``distributor check`` on a remote filesystem."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distributor.exceptions import DistributorError
from distributor.protocols import SupportsResults

__all__ = ["print_remote_log", "register", "remote_check_space"]

_TAIL_BYTES = 1 << 22  # the most `--tail` reads back


class _Unsupported(DistributorError):
    """The cluster's distributor cannot copy task files."""


def register(
    sub: argparse._SubParsersAction[Any],
    cluster_option: Callable[[argparse.ArgumentParser, str], None],
) -> None:
    """Add the ``results`` and ``peek`` commands to the command's subparsers."""
    results = sub.add_parser("results", help="copy a task's output files and logs to DIR")
    results.add_argument("id", help="distributor id")
    results.add_argument("dir", type=Path, help="an existing local directory")
    cluster_option(results, "the cluster of the id")
    results.add_argument("--overwrite", action="store_true",
                         help="replace local files that are older or of another size")  # fmt: skip
    results.add_argument("--all", dest="changed_only", action="store_false",
                         help="with --overwrite: replace every local file")  # fmt: skip
    results.set_defaults(func=cmd_results)

    peek = sub.add_parser("peek", help="print part of a file of a task's directory")
    peek.add_argument("id", help="distributor id")
    peek.add_argument("file", help="a path relative to the task's directory (e.g. stdout.log)")
    cluster_option(peek, "the cluster of the id")
    peek.add_argument("--tail", type=int, metavar="N", help="only the last N bytes")
    peek.set_defaults(func=cmd_peek)


def _distributor(args: argparse.Namespace) -> SupportsResults:
    from distributor.cli import _cluster  # the command's own resolution of --cluster

    cluster = _cluster(args.cluster)
    distributor = cluster.distributor()
    if not isinstance(distributor, SupportsResults):
        raise _Unsupported(f"cluster {cluster.name!r} cannot copy task files (not a batch plugin)")
    return distributor


def cmd_results(args: argparse.Namespace, out: object) -> int:
    """Copy the task's results into DIR; print the paths copied, one a line."""
    copied = _distributor(args).get_results(
        args.id, args.dir, overwrite=args.overwrite, changed_only=args.changed_only
    )
    for name in copied:
        sys.stdout.write(f"{name}\n")
    return 0


def print_remote_log(
    distributor: SupportsResults,
    distributor_id: str,
    path: Path,
    *,
    tail_lines: int | None,
    follow: bool,
    active: Callable[[], bool],
) -> int:
    """``distributor logs`` for a task whose log is on a remote filesystem: the log (or its
    last `tail_lines` lines) through `SupportsResults.peek`; with `follow`, what is appended
    while `active()` says the task runs. Status 1 if there is no log."""
    import io
    import time

    def chunk(offset: int) -> bytes:
        buffer = io.BytesIO()
        distributor.peek(distributor_id, path.name, buffer, offset)
        return buffer.getvalue()

    try:
        if tail_lines is not None:
            data = chunk(-_TAIL_BYTES)
            lines = data.decode("utf-8", "replace").splitlines()[-tail_lines:] if tail_lines else []
            sys.stdout.write("".join(f"{line}\n" for line in lines))
            offset = len(chunk(0)) if follow else 0
        else:
            data = chunk(0)
            sys.stdout.buffer.write(data)
            offset = len(data)
    except FileNotFoundError:
        if not follow:
            print(f"distributor logs: no log at {path} (the task may not have started)",
                  file=sys.stderr)  # fmt: skip
            return 1
        offset = 0
    sys.stdout.flush()
    while follow:
        still = active()
        try:
            grown = chunk(offset)
        except FileNotFoundError:
            grown = b""
        sys.stdout.buffer.write(grown)
        sys.stdout.flush()
        if not grown and not still:
            break
        offset += len(grown)
        time.sleep(1.0)  # each look is a round trip to the login node
    return 0


def cmd_peek(args: argparse.Namespace, out: object) -> int:
    """Write the file (or its last ``--tail`` bytes) to stdout, as bytes."""
    if args.tail is not None and args.tail < 0:
        raise _Unsupported(f"--tail {args.tail}: must not be negative")
    offset = 0 if args.tail is None else -args.tail
    size = 0 if args.tail == 0 else None
    _distributor(args).peek(args.id, args.file, sys.stdout.buffer, offset=offset, size=size)
    sys.stdout.buffer.flush()
    return 0


def remote_check_space(stack: contextlib.ExitStack, options: dict[str, Any]) -> dict[str, Any]:
    """For ``distributor check`` on a cluster behind SSH: one transport for every distributor
    the checks make (put into `options`), a scratch directory in the remote home (removed when
    `stack` closes) holding the submit root (unless one is configured) and the tasks' shared
    files, and the Python beside the remote ``distributor-worker``; the `ConformanceTarget`
    fields for them. Empty when `options` name no remote transport."""
    import secrets

    from distributor.batch import files_for, open_transport
    from distributor.batch.transport_option import remote_worker

    transport = open_transport(options.get("transport"))
    files = files_for(transport)
    if not files.remote:
        return {}
    options["transport"] = transport
    scratch = files.home() / ".distributor" / "checks" / f"check-{secrets.token_hex(4)}"
    files.mkdir(scratch, parents=True)
    stack.callback(files.rmtree, scratch)
    options.setdefault("submit_root", str(scratch / "root"))
    python = Path(remote_worker(files)).with_name("python")
    found = files.stat(python) is not None
    return {
        "files": files,
        "scratch": scratch / "shared",
        "python": str(python) if found else "python3",
    }
