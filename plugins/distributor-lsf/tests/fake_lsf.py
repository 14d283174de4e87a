#!/usr/bin/env python3
"""Fake IBM Spectrum LSF 10.1 commands for the lsf plugin's tests: bsub/bjobs/bkill/bhist/bqueues/
bparams.

One multi-call program: ``tests/bin/<command>`` are symlinks to this file and the name it is
called by selects the command. Each command's function says which documented behaviour it
reproduces; the output formats are written from IBM's documentation and published examples
(see the plugin's README), not captured from a live cluster. No LSF daemon is involved: bsub
starts one detached "sbatchd" process (``fake_lsf_sbatchd.py``) per job or array element, which
waits for a job slot, runs the spooled job script in its own session, enforces the job's run
and memory limits, carries out kill requests, and records the outcome.

State lives in ``$FAKE_LSF_STATE``: ``jobs/<id>/<index>.json`` (index 0 for a job that is not an
array element; written only by its sbatchd after bsub created it), ``jobs/<id>/<index>.kill``
(a kill request from bkill), ``slots/<n>`` (flock'ed by running jobs), ``counter``.

Settings (environment variables; the ones that govern a job are read by bsub and kept with it):

=========================== ======= ==================================================
FAKE_LSF_MINUTE             60      seconds per minute of ``-W``/``RUNLIMIT`` (tests shrink it)
FAKE_LSF_TERMINATE_INTERVAL 10      JOB_TERMINATE_INTERVAL: seconds between SIGINT, SIGTERM, SIGKILL
FAKE_LSF_RUNLIMIT_GRACE     600     seconds between the run limit's SIGUSR2 and its kill
FAKE_LSF_SLOTS              4       jobs running at once
FAKE_LSF_DISPATCH_DELAY     0       least seconds a job stays PEND
FAKE_LSF_CLEAN_PERIOD       3600    CLEAN_PERIOD: seconds bjobs still shows a finished job
FAKE_LSF_HISTORY            on      ``off``: bhist finds no job (event log unavailable)
FAKE_LSF_ADMIN              (unset) ``1``: bkill acts as an LSF administrator (TERM_ADMIN)
FAKE_LSF_MAX_ARRAY_SIZE     1000    MAX_JOB_ARRAY_SIZE (bsub, bparams)
FAKE_LSF_ACCEPT_JOBS        (inf)   submissions accepted; later ones are refused as by an esub
LSB_JOB_MEMLIMIT            y       ``n``: ``-M`` is only the OS per-process RSS limit, which
                                    Linux ignores (an lsf.conf parameter, read by bsub here)
=========================== ======= ==================================================
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import math
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

HOST = "fakehost"
QUEUES: dict[str, dict[str, Any]] = {
    "normal": {
        "description": "For normal low priority jobs. This is the default queue.",
        "DEFAULT": {"RUNLIMIT": "60.0 min"},
        "MAXIMUM": {"RUNLIMIT": "720.0 min", "MEMLIMIT": "4 G", "TASKLIMIT": "1     1     4"},
    },
    "short": {
        "description": "Short jobs.",
        "DEFAULT": {"RUNLIMIT": "5.0 min"},
        "MAXIMUM": {"RUNLIMIT": "10.0 min", "MEMLIMIT": "1 G", "TASKLIMIT": "2"},
    },
    "long": {"description": "Long jobs, no limits.", "DEFAULT": {}, "MAXIMUM": {}},
}
DEFAULT_QUEUE = "normal"
UNITS = {"K": 1, "M": 1024, "G": 1024**2, "T": 1024**3}  # in KB, LSF's default unit
REASONS = {
    "TERM_OWNER": "job killed by owner",
    "TERM_ADMIN": "job killed by root or LSF administrator",
    "TERM_FORCE_OWNER": "job killed by owner without time for cleanup",
    "TERM_FORCE_ADMIN": "job killed by root or LSF administrator without time for cleanup",
    "TERM_RUNLIMIT": "job killed after reaching LSF run time limit",
    "TERM_MEMLIMIT": "job killed after reaching LSF memory usage limit",
}
JSONish = dict[str, Any]


def setting(name: str, default: float) -> float:
    return float(os.environ.get(f"FAKE_LSF_{name}", default))


def state_dir() -> Path:
    path = os.environ.get("FAKE_LSF_STATE")
    if not path:
        fail("LSF_ENVDIR not defined: FAKE_LSF_STATE is not set")
    return Path(path)


def fail(message: str, status: int = 255) -> NoReturn:
    print(message, file=sys.stderr)
    sys.exit(status)


def stamp(when: float) -> str:
    return time.strftime("%a %b %e %H:%M:%S", time.localtime(when))


def write_json(path: Path, data: JSONish) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def all_jobs(root: Path) -> Iterator[JSONish]:
    for path in sorted(
        (root / "jobs").glob("*/[0-9]*.json"), key=lambda p: (int(p.parent.name), p.stem)
    ):
        with contextlib.suppress(OSError, ValueError):
            yield json.loads(path.read_text(encoding="utf-8"))


def display_id(job: JSONish) -> str:
    return f"{job['id']}[{job['index']}]" if job["index"] else str(job["id"])


def select(root: Path, tokens: list[str]) -> tuple[list[JSONish], list[str]]:
    """Jobs named by ``123`` (every element of an array) or ``123[4]``; unknown tokens."""
    jobs = list(all_jobs(root))
    found: list[JSONish] = []
    missing: list[str] = []
    for token in tokens:
        match = re.fullmatch(r"(\d+)(?:\[(\d+)\])?", token)
        hits = [
            job
            for job in jobs
            if match
            and job["id"] == int(match.group(1))
            and (match.group(2) is None or job["index"] == int(match.group(2)))
        ]
        found += hits
        if not hits:
            missing.append(token)
    return found, missing


# --- bsub ------------------------------------------------------------------------------------


def parse_limit_kb(text: str) -> int:
    match = re.fullmatch(r"(\d+)([KMGT]?)B?", text, re.IGNORECASE)
    if match is None:
        fail(f"{text}: Bad argument for memory limit. Job not submitted.")
    return int(match.group(1)) * UNITS[(match.group(2) or "K").upper()]


def queue_minutes(queue: str, section: str) -> float | None:
    text = QUEUES[queue][section].get("RUNLIMIT")
    return float(text.split()[0]) if text else None


def expand_indices(spec: str) -> list[int]:
    indices: list[int] = []
    for part in spec.split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part)
        if match is None:
            fail("Bad job name. Job not submitted.")
        start = int(match.group(1))
        end = int(match.group(2) or start)
        indices += range(start, end + 1, int(match.group(3) or 1))
    return indices


def bsub(args: list[str]) -> None:
    """``bsub < script``: every line of the script that begins with ``#BSUB`` is read as
    options ("bsub options can also be specified in the standard input if the line begins
    with #BSUB"; command-line options win). Prints ``Job <id> is submitted to queue <q>.``
    (``to default queue <q>`` without ``-q``). ``-J "name[1-n]%cap"`` makes an array whose
    elements get LSB_JOBINDEX 1..n. Refuses an unknown queue (``<q>: No such queue. Job not
    submitted.``), an array larger than MAX_JOB_ARRAY_SIZE, limits above the queue's maximum
    (``Cannot exceed queue's hard limit(s). Job not submitted.``) and, after
    FAKE_LSF_ACCEPT_JOBS submissions, everything (``Request aborted by esub. Job not
    submitted.``). ``-M`` takes LSF units (KB by default)."""
    if args:
        fail("fake bsub: only 'bsub < script' is supported (options in #BSUB lines)")
    script = sys.stdin.read()
    options: dict[str, str] = {}
    resources: list[str] = []
    for line in script.splitlines()[1:]:
        if line.startswith("#BSUB"):
            words = shlex.split(line[len("#BSUB") :])
            if len(words) != 2 or not words[0].startswith("-"):
                fail(f"{line}: Bad #BSUB line. Job not submitted.")
            if words[0] == "-R":
                resources.append(words[1])
            options[words[0]] = words[1]
    known = {"-J", "-o", "-e", "-q", "-n", "-R", "-M", "-W", "-gpu", "-P", "-app"}
    for flag in options:
        if flag not in known:
            fail(f"bsub: illegal option -- {flag.lstrip('-')}. Job not submitted.")
    queue = options.get("-q", DEFAULT_QUEUE)
    if queue not in QUEUES:
        fail(f"{queue}: No such queue. Job not submitted.")
    limits = QUEUES[queue]["MAXIMUM"]
    name_match = re.fullmatch(
        r"([^\[\]]*)(?:\[([0-9,:\-]+)\](?:%(\d+))?)?", options.get("-J", "job")
    )
    if name_match is None:
        fail("Bad job name. Job not submitted.")
    indices = expand_indices(name_match.group(2)) if name_match.group(2) else [0]
    if len(indices) > setting("MAX_ARRAY_SIZE", 1000):
        fail("Job array index too large. Job not submitted.")
    memlimit = parse_limit_kb(options["-M"]) if "-M" in options else None
    minutes: float | None = None
    if "-W" in options:
        hours, _, mins = options["-W"].rpartition(":")
        minutes = int(hours or 0) * 60 + int(mins)
    cores = int(options.get("-n", "1"))
    max_minutes = queue_minutes(queue, "MAXIMUM")
    max_kb = parse_limit_kb("".join(limits["MEMLIMIT"].split())) if "MEMLIMIT" in limits else None
    max_tasks = int(limits["TASKLIMIT"].split()[-1]) if "TASKLIMIT" in limits else None
    if (
        (minutes is not None and max_minutes is not None and minutes > max_minutes)
        or (memlimit is not None and max_kb is not None and memlimit > max_kb)
        or (max_tasks is not None and cores > max_tasks)
    ):
        fail("Cannot exceed queue's hard limit(s). Job not submitted.")
    if minutes is None:
        minutes = queue_minutes(queue, "DEFAULT") or max_minutes
    # LSB_JOB_MEMLIMIT=n leaves -M to setrlimit(RLIMIT_RSS), which Linux ignores
    enforce_memory = os.environ.get("LSB_JOB_MEMLIMIT", "y").lower() != "n"
    root = state_dir()
    (root / "jobs").mkdir(parents=True, exist_ok=True)
    with open(root / "counter", "a+", encoding="utf-8") as counter:
        fcntl.flock(counter, fcntl.LOCK_EX)
        counter.seek(0)
        job_id = int(counter.read() or "100") + 1
        if job_id - 100 > setting("ACCEPT_JOBS", math.inf):
            fail("Request aborted by esub. Job not submitted.")
        counter.seek(0)
        counter.truncate()
        counter.write(str(job_id))
    job_dir = root / "jobs" / str(job_id)
    job_dir.mkdir()
    (job_dir / "script.sh").write_text(script, encoding="utf-8")
    write_json(job_dir / "env.json", dict(os.environ))
    now = time.time()
    for index in indices:
        element = str(index) if index else ""

        def path(template: str | None, index_text: str = element) -> str | None:
            if template is None:
                return None
            return template.replace("%J", str(job_id)).replace("%I", index_text or "0")

        job: JSONish = {
            "id": job_id,
            "index": index,
            "name": name_match.group(1) + (f"[{index}]" if index else ""),
            "queue": queue,
            "user": getpass.getuser(),
            "stat": "PEND",
            "pend_reason": "New job is waiting for scheduling",
            "exit_code": None,
            "signal": None,
            "reason": "",
            "max_mem_kb": None,
            "submit": now,
            "start": None,
            "finish": None,
            "cwd": os.getcwd(),
            "out": path(options.get("-o")),
            "err": path(options.get("-e")),
            "memlimit_kb": memlimit if enforce_memory else None,
            "runlimit": None if minutes is None else minutes * setting("MINUTE", 60),
            "terminate_interval": setting("TERMINATE_INTERVAL", 10),
            "runlimit_grace": setting("RUNLIMIT_GRACE", 600),
            "slots": int(setting("SLOTS", 4)),
            "cap": int(name_match.group(3)) if name_match.group(3) else None,
            "dispatch_at": now + setting("DISPATCH_DELAY", 0),
            "events": [
                [now, f"Submitted from host <{HOST}>, to Queue <{queue}>, CWD <{os.getcwd()}>;"]
            ],
        }
        write_json(job_dir / f"{index}.json", job)
        subprocess.Popen(
            [
                sys.executable,
                str(Path(os.path.realpath(__file__)).with_name("fake_lsf_sbatchd.py")),
                str(root),
                str(job_id),
                str(index),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    where = f"queue <{queue}>" if "-q" in options else f"default queue <{queue}>"
    print(f"Job <{job_id}> is submitted to {where}.")


# --- bjobs -----------------------------------------------------------------------------------

FIELDS: dict[str, Callable[[JSONish], str]] = {
    "jobid": lambda job: str(job["id"]),
    "jobindex": lambda job: str(job["index"]),
    "stat": lambda job: job["stat"],
    "exit_code": lambda job: "" if job["exit_code"] is None else str(job["exit_code"]),
    "exit_reason": lambda job: REASONS.get(job["reason"], ""),
    "kill_reason": lambda job: "",
    "max_mem": lambda job: "" if job["max_mem_kb"] is None else memory_text(job["max_mem_kb"]),
    "pend_reason": lambda job: job["pend_reason"] if job["stat"] == "PEND" else "",
    "run_time": lambda job: seconds_text(run_seconds(job), 0),
    "cpu_used": lambda job: seconds_text(job.get("cpu") or 0.0, 1),
    "exec_host": lambda job: HOST if job["start"] is not None else "",
    "job_name": lambda job: job["name"],
    "queue": lambda job: job["queue"],
    "user": lambda job: job["user"],
}


def run_seconds(job: JSONish) -> float:
    """Seconds the job has run (0 before it starts)."""
    if job["start"] is None:
        return 0.0
    return float((job["finish"] or time.time()) - job["start"])


def seconds_text(value: float, decimals: int) -> str:
    """``RUN_TIME``/``CPU_USED`` as bjobs prints them: ``47 second(s)``, ``0.2 second(s)``
    (one decimal place for CPU), or ``hh:mm:ss`` with LSB_HMS_TIME_FORMAT=Y, CPU rounded up
    to the next second."""
    if os.environ.get("LSB_HMS_TIME_FORMAT", "N").upper() == "Y":
        whole = math.ceil(value) if decimals else int(value)
        return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"
    return f"{value:.{decimals}f} second(s)" if decimals else f"{int(value)} second(s)"


def memory_text(kb: int) -> str:
    return (
        f"{max(1, math.ceil(kb / 1024))} Mbytes" if kb < 1024**2 else f"{kb / 1024**2:.1f} Gbytes"
    )


def bjobs(args: list[str]) -> None:
    """``bjobs [-a] -o "field ..." -json [ids]``: ``{"COMMAND":"bjobs","JOBS":n,"RECORDS":[...]}``
    with every value a string, one record per job or array element (JOBID without the index
    unless LSB_BJOBS_DISPLAY_ENH, JOBINDEX 0 outside arrays, JOB_NAME ``name[index]`` for an
    element, RUN_TIME and CPU_USED in ``second(s)`` or, with LSB_HMS_TIME_FORMAT=Y,
    ``hh:mm:ss``, EXEC_HOST the host once the job started); finished jobs are shown for
    CLEAN_PERIOD seconds (without ids, only with -a); an unknown id gives the record
    ``{"JOBID":"123","ERROR":"Job <123> is not found"}``; the exit status is 255 if no job is
    found, or, with LSB_BJOBS_CONSISTENT_EXIT_CODE=Y (an lsf.conf parameter, read from the
    environment here), if any id is not found, the found ones still printed. Without ids: the
    jobs of the user running bjobs ("By default, displays information about your own pending,
    running, and suspended jobs"), and when there is none, ``No unfinished job found`` (``No job
    found`` with -a) on standard error instead of any output, exit status 0 (255 with
    LSB_BJOBS_CONSISTENT_EXIT_CODE=Y)."""
    show_all, fields, as_json, ids = False, ["jobid", "stat"], False, []
    words = iter(args)
    for word in words:
        if word == "-a":
            show_all = True
        elif word == "-json":
            as_json = True
        elif word == "-o":
            fields = next(words, "").lower().split()
        elif word.startswith("-"):
            fail(f"bjobs: illegal option -- {word.lstrip('-')}")
        else:
            ids.append(word)
    if not as_json:
        fail("fake bjobs: only the -o ... -json output is implemented")
    for name in fields:
        if name not in FIELDS:
            fail(f"{name}: Illegal field name")
    clean = setting("CLEAN_PERIOD", 3600)
    now = time.time()

    def visible(job: JSONish) -> bool:
        return job["finish"] is None or now - job["finish"] < clean

    if ids:
        found, missing = select(state_dir(), ids)
        jobs = [job for job in found if visible(job)]
        gone = {str(job["id"]) for job in found if not visible(job)} - {
            str(job["id"]) for job in jobs
        }
        missing += sorted(gone)
    else:
        jobs = [
            job
            for job in all_jobs(state_dir())
            if visible(job)
            and (show_all or job["finish"] is None)
            and job["user"] == getpass.getuser()
        ]
        if not jobs:
            print("No job found" if show_all else "No unfinished job found", file=sys.stderr)
            sys.exit(255 if os.environ.get("LSB_BJOBS_CONSISTENT_EXIT_CODE") == "Y" else 0)
        missing = []
    records: list[dict[str, str]] = [
        {name.upper(): FIELDS[name](job) for name in fields} for job in jobs
    ]
    records += [{"JOBID": token, "ERROR": f"Job <{token}> is not found"} for token in missing]
    print(
        json.dumps(
            {"COMMAND": "bjobs", "JOBS": len(records), "RECORDS": records},
            indent=2,
            separators=(",", ":"),
        )
    )
    if ids and (not jobs or (missing and os.environ.get("LSB_BJOBS_CONSISTENT_EXIT_CODE") == "Y")):
        sys.exit(255)


# --- bkill -----------------------------------------------------------------------------------


def bkill(args: list[str]) -> None:
    """``bkill [-r] id ...`` (``123`` is every element of an array, ``0`` every job of the
    user): prints ``Job <123> is being terminated`` and has the job's sbatchd send SIGINT,
    SIGTERM and SIGKILL JOB_TERMINATE_INTERVAL apart (a pending job simply ends); the reason is
    TERM_OWNER, or TERM_ADMIN for an administrator. ``-r`` kills at once and ends the job
    without time for cleanup (TERM_FORCE_OWNER / TERM_FORCE_ADMIN), even one a plain bkill is
    already terminating. ``Job <123>: Job has already finished`` and ``Job <123>: No matching
    job found`` (``No unfinished job found`` for ``0``) go to stderr with exit status 255."""
    force = args[:1] == ["-r"]
    args = args[1:] if force else args
    if not args or any(word.startswith("-") for word in args):
        fail("fake bkill: only 'bkill [-r] id ...' is supported")
    root = state_dir()
    who = ("admin" if os.environ.get("FAKE_LSF_ADMIN") == "1" else "owner") + (
        "-force" if force else ""
    )
    errors = 0
    for job_id in args:
        missing: list[str] = []
        if job_id == "0":
            found = [job for job in all_jobs(root) if job["finish"] is None]
            if not found:
                print("No unfinished job found", file=sys.stderr)
                errors += 1
        else:
            found, missing = select(root, [job_id])
        running = [job for job in found if job["finish"] is None]
        for job in running:
            kill = root / "jobs" / str(job["id"]) / f"{job['index']}.kill"
            if force or not kill.exists():
                kill.write_text(who, encoding="utf-8")
        if running:
            print(f"Job <{job_id}> is being terminated")
        elif found:
            print(f"Job <{job_id}>: Job has already finished", file=sys.stderr)
            errors += 1
        if missing:
            print(f"Job <{job_id}>: No matching job found", file=sys.stderr)
            errors += 1
    sys.exit(255 if errors else 0)


# --- bhist -----------------------------------------------------------------------------------


def wrap(line: str) -> list[str]:
    """LSF's long format: 79 columns, continuation lines indented by 21 spaces."""
    lines = [line[:79]]
    rest = line[79:]
    while rest:
        lines.append(" " * 21 + rest[:58])
        rest = rest[58:]
    return lines


def bhist(args: list[str]) -> None:
    """``bhist -a -l [ids]``: per job a block ``Job <id[i]>, Job Name <...>, User <...>, ...``
    followed by time-stamped events (``Submitted``, ``Dispatched``, ``Starting``, ``Exited
    with exit code N.``/``Exited by signal N.``/``Done successfully.``, ``Completed <exit>;
    TERM_...: ....``), MEMORY USAGE and the time summary, lines wrapped at 79 columns, blocks
    separated by dashes; ``No matching job found`` (exit 255) when none is known."""
    ids = [word for word in args if not word.startswith("-")]
    if os.environ.get("FAKE_LSF_HISTORY", "on") == "off":
        fail("No matching job found")
    jobs = select(state_dir(), ids)[0] if ids else list(all_jobs(state_dir()))
    if not jobs:
        fail("No matching job found")
    blocks = []
    for job in jobs:
        lines = wrap(
            f"Job <{display_id(job)}>, Job Name <{job['name']}>, User <{job['user']}>, "
            f"Project <default>, Command <{job['name']}>"
        )
        for when, text in job["events"]:
            lines += wrap(f"{stamp(when)}: {text}")
        if job["max_mem_kb"] is not None:
            mem = memory_text(job["max_mem_kb"])
            lines += ["", "MEMORY USAGE:", f"MAX MEM: {mem};  AVG MEM: {mem}"]
        end = job["finish"] or time.time()
        pend = int((job["start"] or end) - job["submit"])
        run = int(end - job["start"]) if job["start"] else 0
        lines += [
            "",
            f"Summary of time in seconds spent in various states by  {stamp(end)}",
            "  PEND     PSUSP    RUN      USUSP    SSUSP    UNKWN    TOTAL",
            f"  {pend:<9d}0        {run:<9d}0        0        0        {pend + run}",
        ]
        blocks.append("\n".join(lines))
    print(("\n" + "-" * 78 + "\n\n").join(blocks))


# --- bparams ---------------------------------------------------------------------------------


def bparams(args: list[str]) -> None:
    r"""``bparams -a``: "all the configurable parameters set in the lsb.params file", one
    ``NAME = value`` line each after a ``lsb.params configuration at <time>`` heading
    (MAX_JOB_ARRAY_SIZE as a MathWorks LSF integration script reads it:
    ``MAX_JOB_ARRAY_SIZE\s*=\s*(\d+)``)."""
    if args != ["-a"]:
        fail("fake bparams: only -a is implemented")
    values = {
        "DEFAULT_QUEUE": DEFAULT_QUEUE,
        "MBD_SLEEP_TIME": "10",
        "SBD_SLEEP_TIME": "7",
        "JOB_ACCEPT_INTERVAL": "0",
        "CLEAN_PERIOD": f"{setting('CLEAN_PERIOD', 3600):g}",
        "JOB_TERMINATE_INTERVAL": f"{setting('TERMINATE_INTERVAL', 10):g}",
        "MAX_JOB_ARRAY_SIZE": f"{setting('MAX_ARRAY_SIZE', 1000):g}",
    }
    print(f"lsb.params configuration at {stamp(time.time())}")
    print("\n".join(f"    {name} = {value}" for name, value in values.items()))


# --- bqueues ---------------------------------------------------------------------------------


def bqueues(args: list[str]) -> None:
    """``bqueues -l [queue ...]``: per queue ``QUEUE: name``, its description, the
    PARAMETERS/STATISTICS table, ``DEFAULT LIMITS:`` and ``MAXIMUM LIMITS:`` with limit names
    over column-aligned values (``RUNLIMIT`` as ``720.0 min``, ``MEMLIMIT`` as ``4 G``,
    ``TASKLIMIT`` as ``[min [default]] max``), SCHEDULING PARAMETERS, USERS and HOSTS;
    ``<q>: No such queue`` (exit 255) for an unknown name."""
    names = [word for word in args if not word.startswith("-")] or list(QUEUES)
    if "-l" not in args:
        fail("fake bqueues: only -l is implemented")
    out = []
    for name in names:
        if name not in QUEUES:
            fail(f"{name}: No such queue")
        queue = QUEUES[name]
        out += [
            f"QUEUE: {name}",
            f"  -- {queue['description']}",
            "",
            "PARAMETERS/STATISTICS",
            "PRIO NICE STATUS          MAX JL/U JL/P JL/H NJOBS  PEND   RUN SSUSP USUSP  RSV",
            " 30   20  Open:Active       -    -    -    -     0     0     0     0     0    0",
            "Interval for a host to accept two jobs is 0 seconds",
            "",
        ]
        for section in ("DEFAULT", "MAXIMUM"):
            limits = queue[section]
            if not limits:
                continue
            out.append(f"{section} LIMITS:")
            runmem = [key for key in ("RUNLIMIT", "MEMLIMIT") if key in limits]
            if runmem:
                out.append(" " + "".join(f"{key:<25}" for key in runmem).rstrip())
                out.append(" " + "".join(f"{limits[key]:<25}" for key in runmem).rstrip())
                out.append("")
            if "TASKLIMIT" in limits:
                out += [" TASKLIMIT", f" {limits['TASKLIMIT']}", ""]
        out += [
            "SCHEDULING PARAMETERS",
            "           r15s   r1m  r15m   ut      pg    io   ls    it    tmp    swp    mem",
            " loadSched   -     -     -     -       -     -    -     -     -      -      -",
            " loadStop    -     -     -     -       -     -    -     -     -      -      -",
            "",
            "USERS: all",
            "HOSTS:  all",
            "-" * 78,
            "",
        ]
    print("\n".join(out))


def main() -> None:
    """Run the command named by the name this program was called by."""
    commands = {
        "bsub": bsub,
        "bjobs": bjobs,
        "bkill": bkill,
        "bhist": bhist,
        "bqueues": bqueues,
        "bparams": bparams,
    }
    name = Path(sys.argv[0]).name
    if name not in commands:
        fail(f"fake_lsf: call me as one of {', '.join(commands)}, not {name}")
    commands[name](sys.argv[1:])


if __name__ == "__main__":
    main()
