"""A fake "Example" scheduler: the four commands the template plugin runs, on this machine.

A plugin author replaces the Example client's commands with their scheduler's and this fake
with recordings or a real scheduler. Installed by the tests as ``example-submit``,
``example-status``, ``example-cancel`` and ``example-jobs`` (`install`); state lives in
``$EXAMPLE_STATE``::

    example-submit [--name NAME] [--array N] SCRIPT   -> "Submitted job 12"
    example-status ID...      -> "12 RUNNING -", "12.3 DONE 0", "13 KILLED -" (one per task)
    example-cancel ID...      -> ends the jobs (J) or tasks (J.T); unknown ids are ignored
    example-jobs              -> "12 NAME" for every job the scheduler remembers

Tasks run ``/bin/sh SCRIPT`` in their own session with ``EXAMPLE_JOB_ID`` and, for arrays,
``EXAMPLE_TASK_ID`` (0-based). Like HTCondor without cgroups, it enforces no limits.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
from pathlib import Path


def _state() -> Path:
    state = Path(os.environ["EXAMPLE_STATE"])
    state.mkdir(parents=True, exist_ok=True)
    return state


def _next_job(state: Path) -> int:
    with open(state / "lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        counter = state / "next"
        job = int(counter.read_text()) if counter.exists() else 1
        counter.write_text(str(job + 1))
    return job


def submit(args: list[str]) -> int:
    name, length = "job", None
    while args and args[0].startswith("--"):
        flag, value = args[0].split("=", 1) if "=" in args[0] else (args[0], args[1])
        args = args[1:] if "=" in args[0] else args[2:]
        if flag == "--name":
            name = value
        elif flag == "--array":
            length = int(value)
        else:
            print(f"example-submit: unknown option {flag}", file=sys.stderr)
            return 2
    if len(args) != 1 or not Path(args[0]).is_file():
        print(f"example-submit: no such script: {args}", file=sys.stderr)
        return 1
    state = _state()
    job = _next_job(state)
    tasks = [str(job)] if length is None else [f"{job}.{t}" for t in range(length)]
    (state / f"{job}.json").write_text(json.dumps({"name": name, "tasks": tasks}))
    for task in tasks:
        env = {**os.environ, "EXAMPLE_JOB_ID": str(job)}
        if length is not None:
            env["EXAMPLE_TASK_ID"] = task.split(".")[1]
        runner = subprocess.Popen(
            [sys.executable, __file__, "_run", task, args[0]],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        (state / f"{task}.pid").write_text(str(runner.pid))
    print(f"Submitted job {job}")
    return 0


def run(task: str, script: str) -> int:
    """The task's runner: runs the script and records its status."""
    state = _state()
    with open(state / f"{task}.log", "wb") as log:
        status = subprocess.call(["/bin/sh", script], stdout=log, stderr=subprocess.STDOUT)
    (state / f"{task}.exit").write_text(str(status))
    return 0


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def _tasks(state: Path, ident: str) -> list[str]:
    job = ident.split(".")[0]
    try:
        tasks = json.loads((state / f"{job}.json").read_text())["tasks"]
    except (OSError, ValueError, KeyError):
        return []
    if "." in ident:
        return [ident] if ident in tasks else []
    return list(tasks)


def status(args: list[str]) -> int:
    state = _state()
    for ident in args:
        for task in _tasks(state, ident):
            if (state / f"{task}.cancelled").exists():
                print(f"{task} KILLED -")
            elif (state / f"{task}.exit").exists():
                print(f"{task} DONE {(state / f'{task}.exit').read_text().strip()}")
            elif _alive(int((state / f"{task}.pid").read_text())):
                print(f"{task} RUNNING -")
            else:
                print(f"{task} LOST -")
    return 0


def cancel(args: list[str]) -> int:
    state = _state()
    for ident in args:
        for task in _tasks(state, ident):
            if (state / f"{task}.exit").exists():
                continue
            (state / f"{task}.cancelled").touch()
            with contextlib.suppress(OSError, ValueError):
                os.killpg(int((state / f"{task}.pid").read_text()), signal.SIGKILL)
    return 0


def jobs(args: list[str]) -> int:
    state = _state()
    for path in sorted(state.glob("*.json"), key=lambda p: int(p.stem)):
        print(f"{path.stem} {json.loads(path.read_text())['name']}")
    return 0


def main() -> int:
    """``fake_example.py COMMAND ARGS...`` (or called by the command's own name)."""
    handlers = {"example-submit": submit, "example-status": status,
                "example-cancel": cancel, "example-jobs": jobs}  # fmt: skip
    args = sys.argv[1:]
    if args[:1] == ["_run"]:
        return run(args[1], args[2])
    if args and args[0] in handlers:
        return handlers[args[0]](args[1:])
    return handlers[Path(sys.argv[0]).name](args)


COMMANDS = ("example-submit", "example-status", "example-cancel", "example-jobs")


def install(bin_dir: Path) -> list[Path]:
    """Write the four commands into `bin_dir` (shims running this file); return them."""
    from distributor.testing import install_fake_commands  # the fake itself stays light

    return install_fake_commands(bin_dir, Path(__file__), COMMANDS)


def kill_all(state: Path) -> None:
    """End every task the fake still runs (a test's clean-up)."""
    for pid_file in state.glob("*.pid"):
        with contextlib.suppress(OSError, ValueError):
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
