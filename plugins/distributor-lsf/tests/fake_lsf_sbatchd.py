#!/usr/bin/env python3
"""The per-job "sbatchd" of the fake LSF commands (see ``fake_lsf.py``): runs one job.

``fake_lsf.py``'s bsub starts ``fake_lsf_sbatchd.py STATE JOB_ID INDEX`` detached, once per job
or array element. It reads ``jobs/<id>/<index>.json`` (which only it writes from then on),
waits for a job slot, runs the spooled script, enforces the job's limits, carries out kill
requests (``jobs/<id>/<index>.kill``, written by bkill) and records the outcome and the
events bhist prints.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HOST = "fakehost"
REASONS = {
    "TERM_OWNER": "job killed by owner",
    "TERM_ADMIN": "job killed by root or LSF administrator",
    "TERM_FORCE_OWNER": "job killed by owner without time for cleanup",
    "TERM_FORCE_ADMIN": "job killed by root or LSF administrator without time for cleanup",
    "TERM_RUNLIMIT": "job killed after reaching LSF run time limit",
    "TERM_MEMLIMIT": "job killed after reaching LSF memory usage limit",
}
"""The termination reasons the fake produces, with IBM's descriptions."""
JSONish = dict[str, Any]
SAMPLE_INTERVAL = 0.1
"""Seconds between samples of a job's memory (LSF's PIM samples every few seconds)."""


def write_json(path: Path, data: JSONish) -> None:
    """Replace `path` atomically with `data` as JSON."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def session_processes(sid: int) -> dict[int, int]:
    """pid → RSS bytes of every process of session `sid`."""
    found: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:
                found[int(entry)] = int(fields[21]) * page
    return found


def signal_session(sid: int, sig: int) -> None:
    for pid in session_processes(sid):
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


def sbatchd(root: Path, job_id: str, index: str) -> None:
    """Run one job or array element: PEND until a slot is free (and FAKE_LSF_DISPATCH_DELAY
    has passed, and fewer than the array's ``%cap`` elements run), then RUN the job script
    with LSB_JOBID and LSB_JOBINDEX (0 outside arrays) in the submission environment and
    directory; enforce ``-M`` on the job's total memory (LSB_JOB_MEMLIMIT=y: SIGINT, SIGTERM,
    SIGKILL, JOB_TERMINATE_INTERVAL apart → TERM_MEMLIMIT) and ``-W`` (SIGUSR2; a job still
    running after the grace, ten minutes, "is killed" as by bkill: SIGINT, SIGTERM, SIGKILL,
    JOB_TERMINATE_INTERVAL apart → TERM_RUNLIMIT); carry out bkill (SIGINT, SIGTERM, SIGKILL
    → TERM_OWNER, or TERM_ADMIN; ``bkill -r``: SIGKILL at once → TERM_FORCE_*); end DONE
    for exit 0, else EXIT with the exit code (128+N for a job script killed by signal N, whose
    bhist event says ``Exited by signal N``). With LSB_JOB_MEMLIMIT=n at submission, ``-M``
    is not enforced."""
    job_dir = root / "jobs" / job_id
    record_path = job_dir / f"{index}.json"
    job: JSONish = json.loads(record_path.read_text(encoding="utf-8"))
    kill_file = job_dir / f"{index}.kill"
    slot = capped = None  # descriptors of the held job slot and %cap slot
    while slot is None:
        if not root.is_dir():
            return
        if kill_file.exists():
            finish(record_path, job, None, None, kill_reason(kill_file, job), 0.0)
            return
        if time.time() >= job["dispatch_at"]:
            if job["cap"] is not None and capped is None and not earlier_pending(job_dir, job):
                capped = take_slot(job_dir / "cap", job["cap"])
            if job["cap"] is None or capped is not None:
                slot = take_slot(root / "slots", int(job["slots"]))
            if slot is None and job["pend_reason"] != "Not enough job slot(s)":
                job["pend_reason"] = "Not enough job slot(s)"
                write_json(record_path, job)
        time.sleep(0.05)
    env = json.loads((job_dir / "env.json").read_text(encoding="utf-8"))
    env.update(
        LSB_JOBID=job_id,
        LSB_JOBINDEX=index,
        LSB_JOBNAME=job["name"],
        LSB_QUEUE=job["queue"],
        LSB_HOSTS=HOST,
    )
    out = open(job["out"] or os.devnull, "ab")  # noqa: SIM115 - handed to the child
    err = open(job["err"], "ab") if job["err"] else out  # noqa: SIM115
    child = subprocess.Popen(
        ["/bin/sh", str(job_dir / "script.sh")],
        cwd=job["cwd"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=err,
        start_new_session=True,
    )
    now = time.time()
    job.update(stat="RUN", start=now, pend_reason="")
    job["events"] += [
        [
            now,
            f"Dispatched 1 Task(s) on Host(s) <{HOST}>, Allocated 1 Slot(s) on Host(s) <{HOST}>;",
        ],
        [now, f"Starting (Pid {child.pid});"],
        [
            now,
            f"Running with execution home <{Path.home()}>, Execution CWD <{job['cwd']}>, "
            f"Execution Pid <{child.pid}>;",
        ],
    ]
    write_json(record_path, job)
    reason = killing = ""  # why the job is being ended; the bkill request carried out
    steps: list[tuple[float, signal.Signals]] = []  # due (time, signal) of a termination
    peak = memory = 0
    sampled = 0.0
    while True:
        waited, status, usage = os.wait4(child.pid, os.WNOHANG)
        if waited == child.pid:
            break
        now = time.time()
        if not root.is_dir():
            signal_session(child.pid, signal.SIGKILL)
            continue
        if now - sampled >= SAMPLE_INTERVAL:
            sampled, memory = now, sum(session_processes(child.pid).values())
            peak = max(peak, memory)
            if peak // 1024 - (job["max_mem_kb"] or 0) >= 1024:  # record growth by 1 MiB steps
                job["max_mem_kb"] = peak // 1024
                write_json(record_path, job)
        interval = float(job["terminate_interval"])
        sequence = [
            (now + k * interval, sig)
            for k, sig in enumerate((signal.SIGINT, signal.SIGTERM, signal.SIGKILL))
        ]
        request = kill_request(kill_file)
        if request and request != killing and (not reason or request.endswith("-force")):
            killing, reason = request, kill_reason(kill_file, job, request)
            steps = [(now, signal.SIGKILL)] if request.endswith("-force") else sequence
        elif not reason and job["memlimit_kb"] and memory > job["memlimit_kb"] * 1024:
            reason, steps = "TERM_MEMLIMIT", sequence
        elif not reason and job["runlimit"] and now - job["start"] > job["runlimit"]:
            # bsub -W: "the job is sent a SIGUSR2 signal, and is killed if it does not
            # terminate within ten minutes" (killed: "see bkill", i.e. the TERMINATE action)
            reason = "TERM_RUNLIMIT"
            grace = float(job["runlimit_grace"])
            steps = [(now, signal.SIGUSR2)] + [(at + grace, sig) for at, sig in sequence]
        while steps and steps[0][0] <= now:
            signal_session(child.pid, steps.pop(0)[1])
        time.sleep(0.05)
    signal_session(child.pid, signal.SIGKILL)  # LSF cleans up what the job left behind
    if not root.is_dir():
        return
    out.close()
    if err is not out:
        err.close()
    cpu = usage.ru_utime + usage.ru_stime
    if peak:
        job["max_mem_kb"] = peak // 1024
    if os.WIFSIGNALED(status):
        finish(record_path, job, None, os.WTERMSIG(status), reason, cpu)
    else:
        finish(record_path, job, os.WEXITSTATUS(status), None, reason, cpu)


def earlier_pending(job_dir: Path, job: JSONish) -> bool:
    """Whether an element with a lower index is still pending (LSF dispatches in order)."""
    for index in range(1, int(job["index"])):
        with contextlib.suppress(OSError, ValueError):
            if (
                json.loads((job_dir / f"{index}.json").read_text(encoding="utf-8"))["stat"]
                == "PEND"
            ):
                return True
    return False


def take_slot(directory: Path, slots: int) -> int | None:
    """Lock one of `slots` slot files in `directory`; the descriptor, or None if all are held."""
    directory.mkdir(exist_ok=True)
    for number in range(slots):
        handle = os.open(directory / str(number), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(handle)
            continue
        return handle  # held (open) until this process exits
    return None


def kill_request(kill_file: Path) -> str:
    """What bkill asked (``owner``, ``admin``, ``owner-force``...), or "" for nothing."""
    try:
        return kill_file.read_text(encoding="utf-8").strip() or "owner"
    except FileNotFoundError:
        return ""


def kill_reason(kill_file: Path, job: JSONish, who: str | None = None) -> str:
    """Record bkill's request in the job's events; its TERM_ reason. `who`: the request if
    already read (`kill_request`)."""
    who = kill_request(kill_file) if who is None else who
    job["events"].append(
        [
            kill_file.stat().st_mtime,
            f"Signal <KILL> requested by user or administrator <{job['user']}>;",
        ]
    )
    force = "FORCE_" if who.endswith("-force") else ""
    return f"TERM_{force}ADMIN" if who.startswith("admin") else f"TERM_{force}OWNER"


def finish(
    record_path: Path, job: JSONish, code: int | None, sig: int | None, reason: str, cpu: float
) -> None:
    now = time.time()
    done = code == 0 and not reason
    job.update(
        stat="DONE" if done else "EXIT",
        exit_code=None if code is None and sig is None else (code if sig is None else 128 + sig),
        signal=sig,
        reason=reason,
        finish=now,
        pend_reason="",
        cpu=cpu,
    )
    used = f"The CPU time used is {cpu:.1f} seconds."
    if done:
        job["events"].append([now, f"Done successfully. {used}"])
    elif sig is not None:
        job["events"].append([now, f"Exited by signal {sig}. {used}"])
    elif code is not None:
        job["events"].append([now, f"Exited with exit code {code}. {used}"])
    if done:
        job["events"].append([now, "Completed <done>."])
    elif reason:
        job["events"].append([now, f"Completed <exit>; {reason}: {REASONS[reason]}."])
    else:
        job["events"].append([now, "Completed <exit>."])
    write_json(record_path, job)


if __name__ == "__main__":
    sbatchd(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
