"""A fake PBS server (PBS Pro / OpenPBS or Torque) for the distributor-pbs tests.

One script, run as ``pbs_fake.py COMMAND ARGS...`` by the ``qsub``, ``qstat`` and ``qdel`` shims
that `distributor_pbs.testing.fake_environment` writes; the commands keep their state in the
directory named by ``PBS_FAKE_STATE`` and really run the submitted job scripts in the background
(one detached "MoM" process per qsub), so exit codes, signals, limit kills and deletions are
produced by real processes. The flavour comes from ``PBS_FAKE_FLAVOUR`` or the
state directory's ``config.json`` (see `DEFAULTS` for every setting).

Documented behaviour it reproduces (sources in the plugin README):

* qsub prints ``<seq>.<server>``, or ``<seq>[].<server>`` for an array; ``#PBS`` directives are
  read up to the first command line, command-line options win. PBS Pro arrays are ``-J a-b``
  with b > a (else ``qsub: illegal -J value``) and must be rerunnable (else ``qsub: cannot submit
  non-rerunable Array Job``); Torque arrays are ``-t a-b``. Each flavour refuses the other's
  option. Subjobs are ``<seq>[<i>].<server>`` and see ``PBS_ARRAY_INDEX`` (Pro) or
  ``PBS_ARRAYID`` (Torque); ``PBS_JOBID`` is the subjob's id. Jobs start in ``$HOME``.
* States: Q, R, E, then F (Pro, kept while ``job_history_enable``) or C (Torque, kept
  ``keep_completed`` seconds); array parents B (Pro). A queue with ``started = False`` keeps its
  jobs queued; a Pro job asking more ncpus than a node has stays queued with the comment
  ``Can never run: Insufficient amount of resource: ncpus (R: n A: m T: m)``.
* ``Exit_status``: the script's exit code; 256+N when the top process died of signal N (the
  MoM's ``WTERMSIG + 0x100``). Limit kills (walltime: SIGTERM, then SIGKILL after
  ``kill_delay``; memory: SIGKILL) report the documented codes (Pro -29/-27, Torque -11/-10), or
  with ``limit_codes = "signal"`` the raw signal status older servers report. PBS Pro's history
  substate is 91 after qdel, 93 after a limit kill, 92 otherwise; a job deleted while queued
  has no ``Exit_status``. qdel of a running job sends SIGTERM, then SIGKILL after ``kill_delay``;
  ``qdel -W force`` (Pro) / ``qdel -p`` (Torque) sends SIGKILL at once.
* ``qstat -f -F json [-x] [-t] [IDS]`` (Pro; ``json_defects`` adds a bare ``005`` to
  Variable_List as openpbs/openpbs#1255 describes), ``qstat -x [-t] [IDS]`` (Torque XML),
  ``qstat -Q -f``, ``qstat -B -f``, ``qstat --version``. Without ids, every job of the server,
  oldest first. Without ``-t`` an array is one entry: PBS Pro's parent (``B`` while it runs),
  Torque's summary (``R``/``Q``/``C`` from its subjobs); ``-t`` adds the subjobs (Pro) or lists
  them instead (Torque), Torque naming subjob ``i`` of ``x`` ``x-i``. PBS Pro shows finished
  jobs only with ``-x`` (else ``qstat: <id> Job has finished, use -x or -H …``, exit 35).
  Unknown ids: ``qstat: Unknown Job Id <id>`` (Pro) / ``qstat: Unknown Job Id Error <id>``
  (Torque) on stderr, exit 153, other jobs still printed.
* Accounting: ``resources_used.walltime`` and ``resources_used.cput`` (``HH:MM:SS``; the CPU
  time of the job's processes), ``exec_host`` (``host/0``; for N > 1 cpus ``host/0*N`` on PBS
  Pro, ``host/0-(N-1)`` on Torque; the host is ``exec_host`` of the configuration, default
  this machine's name), PBS Pro's ``stime``, ``mtime`` and ``obittime`` as ctime stamps and
  ``history_timestamp`` (epoch seconds) of a finished job, Torque's ``start_time``, ``mtime``
  and ``comp_time`` in epoch seconds.
* qdel messages for ended jobs: ``qdel: Job <id> has finished`` (Pro), ``qdel: Request invalid
  for state of job MSG=invalid state for job - COMPLETE <id>`` (Torque).

Messages the sources do not give verbatim (an unknown queue, queue limits exceeded, an option
of the other flavour) follow the same style and are marked "fake wording" below.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

DEFAULTS: dict[str, Any] = {
    "flavour": "pro",
    "server": "fakepbs",
    "queues": None,  # None: one queue, "workq" (Pro) or "batch" (Torque), with the limits below
    "queue_limits": {
        "resources_max.walltime": "24:00:00",
        "resources_max.mem": "8gb",
        "resources_max.ncpus": "8",
        "resources_default.walltime": "01:00:00",
    },
    "node_ncpus": 8,
    "history": True,  # PBS Pro job_history_enable
    "keep_completed": 300,  # Torque keep_completed, seconds
    "limit_codes": "documented",  # or "signal"
    "json_defects": False,
    "max_array_size": 10000,
    "start_delay": 0.05,
    "kill_delay": 2.0,
    "lifetime": 600.0,  # a MoM kills what it still runs after this long
    "exec_host": None,  # the host in exec_host; None: this machine's name
}
_VERSIONS = {"pro": "pbs_version = 19.1.3", "torque": "Version: 6.1.3\nCommit: fake"}
_LIMIT_CODES = {"pro": {"walltime": -29, "mem": -27}, "torque": {"walltime": -11, "mem": -10}}
_UNKNOWN = 153  # PBSE_UNKJOBID 15001 & 0xff
_HISTORY = 35  # PBSE_HISTJOBID 15139 & 0xff: a finished job asked about without -x
_SIZE = re.compile(r"([0-9]+)([kmgtp]?)b?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40, "p": 2**50}


class Fail(Exception):
    """A command fails with this stderr text and exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


# --- state ----------------------------------------------------------------------------------


def state_dir() -> Path:
    """The state directory (``PBS_FAKE_STATE``)."""
    path = os.environ.get("PBS_FAKE_STATE")
    if not path:
        raise Fail("pbs_fake: PBS_FAKE_STATE is not set", 2)
    directory = Path(path)
    (directory / "jobs").mkdir(parents=True, exist_ok=True)
    return directory


def config() -> dict[str, Any]:
    """`DEFAULTS` updated by ``config.json`` and ``PBS_FAKE_FLAVOUR``."""
    merged = dict(DEFAULTS)
    path = state_dir() / "config.json"
    if path.exists():
        merged.update(json.loads(path.read_text()))
    merged["flavour"] = os.environ.get("PBS_FAKE_FLAVOUR", merged["flavour"])
    if merged["queues"] is None:
        name = "workq" if merged["flavour"] == "pro" else "batch"
        merged["queues"] = {name: dict(merged["queue_limits"])}
    return merged


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Hold the state directory's lock (every read-modify-write of job files does)."""
    with (state_dir() / "lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _job_path(key: str) -> Path:
    return state_dir() / "jobs" / f"{key}.json"


def load(key: str) -> dict[str, Any] | None:
    """The job record stored under `key` (``12`` or ``12-3`` for subjob 3), or None."""
    try:
        data: dict[str, Any] = json.loads(_job_path(key).read_text())
    except FileNotFoundError:
        return None
    return data


def save(job: dict[str, Any]) -> None:
    """Store a job record atomically; its ``mtime`` (last modification) is now."""
    job["mtime"] = time.time()
    path = _job_path(job["key"])
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(job))
    os.replace(tmp, path)


def update(key: str, **changes: Any) -> dict[str, Any] | None:
    """Apply `changes` to a stored job under the lock; return the new record."""
    with locked():
        job = load(key)
        if job is not None:
            job.update(changes)
            save(job)
        return job


def parse_size(text: str) -> int:
    """Bytes of a PBS size such as ``100mb``."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise Fail(f"qsub: Illegal attribute or resource value Resource_List.mem={text}")
    return int(match[1]) * _SIZE_UNITS[match[2].lower()]


def parse_time(text: str) -> int:
    """Seconds of ``[[HH:]MM:]SS``."""
    seconds = 0
    for part in text.split(":"):
        if not part.isdigit():
            raise Fail(f"qsub: Illegal attribute or resource value Resource_List.walltime={text}")
        seconds = seconds * 60 + int(part)
    return seconds


def clock(seconds: float) -> str:
    """``HH:MM:SS``."""
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


# --- qsub -----------------------------------------------------------------------------------


def _directive_words(script: str) -> list[str]:
    words: list[str] = []
    for line in script.splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#PBS"):
            words += shlex.split(stripped[4:])
        elif stripped and not stripped.startswith("#"):
            break
    return words


def _options(words: list[str], flavour: str) -> dict[str, list[str]]:
    array_flag, other = ("-J", "-t") if flavour == "pro" else ("-t", "-J")
    known = {"-N", "-o", "-e", "-q", "-l", "-r", "-S", "-A", "-j", array_flag}
    options: dict[str, list[str]] = {}
    iterator = iter(words)
    for word in iterator:
        if word == other or word not in known:  # fake wording, getopt style
            raise Fail(f"qsub: invalid option -- '{word.lstrip('-')}'\nusage: qsub [options]", 2)
        value = next(iterator, None)
        if value is None:
            raise Fail(f"qsub: option requires an argument -- '{word.lstrip('-')}'", 2)
        options.setdefault(word, []).append(value)
    return options


def _resources(options: dict[str, list[str]], flavour: str) -> dict[str, int | None]:
    found: dict[str, int | None] = {"ncpus": 1, "mem": None, "walltime": None, "ngpus": 0}
    for value in options.get("-l", []):
        for item in value.split(","):
            key, _, text = item.partition("=")
            if key == "select" and flavour == "pro":
                for part in text.split(":")[1:]:
                    name, _, amount = part.partition("=")
                    if name in ("ncpus", "ngpus"):
                        found[name] = int(amount)
                    elif name == "mem":
                        found["mem"] = parse_size(amount)
            elif key == "nodes" and flavour == "torque":
                for part in text.split(":")[1:]:
                    name, _, amount = part.partition("=")
                    if name in ("ppn", "gpus"):
                        found["ncpus" if name == "ppn" else "ngpus"] = int(amount)
            elif key == "mem":
                found["mem"] = parse_size(text)
            elif key == "walltime":
                found["walltime"] = parse_time(text)
            elif key == "ncpus":
                found["ncpus"] = int(text)
            else:  # fake wording
                raise Fail(f"qsub: Unknown resource Resource_List.{key}")
    return found


def _array_range(options: dict[str, list[str]], flavour: str) -> list[int] | None:
    flag = "-J" if flavour == "pro" else "-t"
    if flag not in options:
        return None
    text = options[flag][-1].split("%")[0]
    match = re.fullmatch(r"([0-9]+)-([0-9]+)", text)
    if flavour == "pro" and (match is None or int(match[2]) <= int(match[1]) or "%" in text):
        raise Fail("qsub: illegal -J value")
    if match is None or int(match[2]) < int(match[1]):  # fake wording
        raise Fail(f"qsub: submit error (Bad Job Array Request MSG=illegal -t value {text})")
    return list(range(int(match[1]), int(match[2]) + 1))


def _check_limits(cfg: dict[str, Any], queue: str, wants: dict[str, int | None]) -> None:
    limits = cfg["queues"].get(queue)
    flavour = cfg["flavour"]
    if limits is None:  # fake wording
        raise Fail(
            "qsub: Unknown queue"
            if flavour == "pro"
            else "qsub: submit error (Unknown queue MSG=cannot locate queue)"
        )
    for key, parse in (("walltime", parse_time), ("mem", parse_size), ("ncpus", int)):
        limit = limits.get(f"resources_max.{key}")
        wanted = wants.get(key)
        if limit is not None and wanted is not None and wanted > parse(limit):
            raise Fail(  # fake wording (PBSE_EXCQRESC's text is documented)
                "qsub: Job exceeds queue resource limits"
                if flavour == "pro"
                else "qsub: submit error (Job exceeds queue resource limits "
                f"MSG=cannot satisfy queue max {key} requirement)"
            )


def qsub(args: list[str]) -> str:
    """Submit a job script; return what qsub prints."""
    cfg = config()
    flavour = cfg["flavour"]
    if not args or args[-1].startswith("-"):
        raise Fail("usage: qsub [options] script", 2)
    script_path = Path(args[-1]).resolve()
    try:
        script = script_path.read_text()
    except OSError as exc:
        raise Fail(f"qsub: script file:: {exc.strerror}") from exc
    options = _options(_directive_words(script), flavour)
    for key, values in _options(args[:-1], flavour).items():
        options[key] = values
    wants = _resources(options, flavour)
    default_queue = next(iter(cfg["queues"]))
    queue = options.get("-q", [default_queue])[-1]
    _check_limits(cfg, queue, wants)
    indices = _array_range(options, flavour)
    rerunable = options.get("-r", ["y"])[-1] == "y"
    if indices is not None:
        if flavour == "pro" and not rerunable:
            raise Fail("qsub: cannot submit non-rerunable Array Job")
        if len(indices) > int(cfg["max_array_size"]):  # fake wording
            raise Fail("qsub: Array job exceeds server or queue size limit")
    with locked():
        counter = state_dir() / "seq"
        seq = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(seq))
        base = {
            "seq": seq,
            "name": options.get("-N", [script_path.name])[-1],
            "queue": queue,
            "script": str(script_path),
            "shell": options.get("-S", ["/bin/sh"])[-1],
            "stdout": options.get("-o", [f"{os.getcwd()}/{script_path.name}.o{seq}"])[-1],
            "stderr": options.get("-e", [f"{os.getcwd()}/{script_path.name}.e{seq}"])[-1],
            "resources": wants,
            "rerunable": rerunable,
            "account": options.get("-A", [""])[-1],
            "workdir": os.getcwd(),
            "submit_args": " ".join(args),
            "ctime": time.time(),
            "state": "Q",
            "substate": 10,
            "comment": "",
            "exit_status": None,
            "deleted": False,
        }
        server = cfg["server"]
        if indices is None:
            job_id = f"{seq}.{server}"
            save({**base, "key": str(seq), "id": job_id, "index": None, "array": False})
        else:
            job_id = f"{seq}[].{server}"
            save(
                {
                    **base,
                    "key": str(seq),
                    "id": job_id,
                    "index": None,
                    "array": True,
                    "indices": indices,
                }
            )
            for index in indices:
                save(
                    {
                        **base,
                        "key": f"{seq}-{index}",
                        "id": f"{seq}[{index}].{server}",
                        "index": index,
                        "array": False,
                        "parent": job_id,
                    }
                )
    subprocess.Popen(
        [sys.executable, __file__, "mom", str(seq)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return job_id + "\n"


# --- the MoM: runs one submission's jobs ----------------------------------------------------


def _session_rss() -> dict[int, int]:
    """Resident bytes per session id, from /proc."""
    page = os.sysconf("SC_PAGE_SIZE")
    totals: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        session, rss = int(fields[3]), int(fields[21]) * page
        totals[session] = totals.get(session, 0) + rss
    return totals


def _job_environment(job: dict[str, Any], cfg: dict[str, Any]) -> dict[str, str]:
    home = os.environ.get("HOME", "/")
    env = {
        "HOME": home,
        "LOGNAME": os.environ.get("LOGNAME", "user"),
        "USER": os.environ.get("USER", "user"),
        "SHELL": job["shell"],
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "PBS_JOBID": job["id"],
        "PBS_JOBNAME": job["name"],
        "PBS_QUEUE": job["queue"],
        "PBS_ENVIRONMENT": "PBS_BATCH",
        "PBS_O_WORKDIR": job["workdir"],
        "PBS_O_HOST": socket.gethostname(),
        "PBS_O_HOME": home,
        "PBS_O_SHELL": os.environ.get("SHELL", "/bin/sh"),
        "PBS_O_QUEUE": job["queue"],
    }
    if job["index"] is not None:
        if cfg["flavour"] == "pro":
            env["PBS_ARRAY_INDEX"] = str(job["index"])
            env["PBS_ARRAY_ID"] = job["parent"]
        else:
            env["PBS_ARRAYID"] = str(job["index"])
            env["PBS_JOBNAME"] = f"{job['name']}-{job['index']}"
    return env


def _output_path(template: str, job: dict[str, Any], flavour: str) -> str:
    if job["index"] is None:
        return template
    if flavour == "pro":
        return template.replace("^array_index^", str(job["index"]))
    return f"{template}-{job['index']}"


def _open_output(path: str) -> Any:
    """The job's output file; /dev/null if it cannot be written (PBS would keep it aside)."""
    try:
        return open(path, "ab")  # handed to the child, closed after the spawn
    except OSError:
        return open(os.devnull, "ab")


class _Running:
    """One job the MoM runs."""

    def __init__(self, job: dict[str, Any], cfg: dict[str, Any]) -> None:
        self.key = job["key"]
        self.job = job
        flavour = cfg["flavour"]
        self.stderr_path = _output_path(job["stderr"], job, flavour)
        out, err = (
            _open_output(_output_path(job["stdout"], job, flavour)),
            _open_output(self.stderr_path),
        )
        self.process = subprocess.Popen(
            [job["shell"], job["script"]],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=os.environ.get("HOME", "/"),
            env=_job_environment(job, cfg),
            start_new_session=True,
        )
        out.close()
        err.close()
        self.started = time.monotonic()
        self.peak = 0
        self.kill_reason: str | None = None
        self.term_sent: float | None = None
        self.deleted = False

    def signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, number)

    def terminate(self, now: float) -> None:
        if self.term_sent is None:
            self.term_sent = now
            self.signal(signal.SIGTERM)

    def note(self, text: str) -> None:
        with contextlib.suppress(OSError), open(self.stderr_path, "a") as handle:
            handle.write(text + "\n")


def _start(key: str, cfg: dict[str, Any]) -> _Running | None:
    """Start a queued job unless it was deleted or can never run; None if not started."""
    with locked():
        job = load(key)
        if job is None or job["state"] != "Q":
            return None
        queue = cfg["queues"].get(job["queue"], {})
        if queue.get("started", "True") == "False":
            return None
        wanted = job["resources"]["ncpus"] or 1
        if wanted > int(cfg["node_ncpus"]):
            if cfg["flavour"] == "pro" and not job["comment"]:
                nodes = cfg["node_ncpus"]
                job["comment"] = (
                    "Can never run: Insufficient amount of resource: ncpus "
                    f"(R: {wanted} A: {nodes} T: {nodes})"
                )
                save(job)
            return None
        running = _Running(job, cfg)
        job.update(
            state="R",
            substate=42,
            stime=time.time(),
            pid=running.process.pid,
            comment=f"Job run at {time.ctime()} on (localhost:ncpus={wanted})",
        )
        save(job)
        running.job = job
        return running


def _finish(running: _Running, returncode: int, cpu: float, cfg: dict[str, Any]) -> None:
    flavour = cfg["flavour"]
    status = returncode if returncode >= 0 else 256 - returncode
    if running.kill_reason is not None and cfg["limit_codes"] == "documented":
        status = _LIMIT_CODES[flavour][running.kill_reason]
    substate = 91 if running.deleted else 93 if running.kill_reason else 92
    used = {"walltime": time.monotonic() - running.started, "mem": running.peak, "cput": cpu}
    update(running.key, state="E", substate=50, exit_status=status, used=used, obittime=time.time())
    time.sleep(0.05)  # E is transitional
    update(
        running.key,
        state="F" if flavour == "pro" else "C",
        substate=substate,
        comp_time=time.time(),
        comment=f"{running.job['comment']} and finished",
    )


def _finish_parent(seq: int, cfg: dict[str, Any]) -> None:
    with locked():
        parent = load(str(seq))
        if parent is None or not parent["array"]:
            return
        statuses = [(load(f"{seq}-{i}") or {}).get("exit_status") for i in parent["indices"]]
        parent.update(
            state="F" if cfg["flavour"] == "pro" else "C",
            substate=92,
            exit_status=0 if all(s in (0, None) for s in statuses) else 1,
            comp_time=time.time(),
        )
        save(parent)


def mom(seq: int) -> None:
    """Run the jobs of submission `seq` until each has ended; enforce walltime and memory."""
    cfg = config()
    began = time.monotonic()
    time.sleep(float(cfg["start_delay"]))
    parent = load(str(seq))
    if parent is None:
        return
    keys = [f"{seq}-{i}" for i in parent["indices"]] if parent["array"] else [str(seq)]
    waiting = list(keys)
    running: dict[str, _Running] = {}
    rss: dict[int, int] = {}
    scanned = 0.0
    if parent["array"] and cfg["flavour"] == "pro":  # Torque has no B; see _torque_summary
        update(str(seq), state="B", substate=70)
    while waiting or running:
        now = time.monotonic()
        for key in list(waiting):
            job = load(key)
            if job is None or job["state"] != "Q":
                waiting.remove(key)
                continue
            started = _start(key, cfg)
            if started is not None:
                running[key] = started
                waiting.remove(key)
        # /proc is scanned often only while a memory limit needs enforcing
        limited = any(run.job["resources"]["mem"] for run in running.values())
        if running and (limited or now - scanned >= 1.0):
            rss, scanned = _session_rss(), now
        for key, run in list(running.items()):
            pid, wait_status, usage = os.wait4(run.process.pid, os.WNOHANG)
            if pid:
                run.process.returncode = os.waitstatus_to_exitcode(wait_status)
                _finish(run, run.process.returncode, usage.ru_utime + usage.ru_stime, cfg)
                del running[key]
                continue
            run.peak = max(run.peak, rss.get(run.process.pid, 0))
            stored = load(key) or {}
            walltime = run.job["resources"]["walltime"]
            memory = run.job["resources"]["mem"]
            elapsed = now - run.started
            if stored.get("deleted") and not run.deleted:
                run.deleted = True
                run.terminate(now)
            if stored.get("deleted") == "force":
                run.signal(signal.SIGKILL)
            if walltime and elapsed > walltime and run.kill_reason is None:
                run.kill_reason = "walltime"
                run.note(
                    f"=>> PBS: job killed: walltime {round(elapsed)} exceeded limit {walltime}"
                )
                run.terminate(now)
            if memory and run.peak > memory and run.kill_reason is None:
                run.kill_reason = "mem"
                run.note(
                    f"=>> PBS: job killed: mem {run.peak // 1024}kb exceeded limit "
                    f"{memory // 1024}kb"
                )
                run.signal(signal.SIGKILL)
            if run.term_sent is not None and now - run.term_sent > float(cfg["kill_delay"]):
                run.signal(signal.SIGKILL)
            if now - began > float(cfg["lifetime"]):
                run.signal(signal.SIGKILL)
        if waiting and now - began > float(cfg["lifetime"]):
            break
        time.sleep(0.05)
    _finish_parent(seq, cfg)


# --- qstat ----------------------------------------------------------------------------------


def _visible(job: dict[str, Any], cfg: dict[str, Any], history: bool) -> bool:
    """Finished jobs are visible while history (Pro, asked for with ``-x``) or keep_completed
    (Torque) keeps them."""
    if job["state"] not in ("F", "C"):
        return True
    if cfg["flavour"] == "pro":
        return history and bool(cfg["history"])
    return bool(time.time() - job.get("comp_time", 0) <= float(cfg["keep_completed"]))


def _shown(job: dict[str, Any], flavour: str, expand: bool) -> bool:
    """Without ``-t`` an array is one entry (Pro: the parent, ``B`` while it runs; Torque: its
    summary); with ``-t`` Pro adds the subjobs and Torque lists the subjobs instead."""
    if job["index"] is not None:
        return expand
    return not (job["array"] and expand and flavour != "pro")


def _all_jobs() -> list[dict[str, Any]]:
    """Every stored record (arrays: parent, then subjobs), lowest sequence number first."""
    jobs = []
    for path in (state_dir() / "jobs").glob("*.json"):
        with contextlib.suppress(FileNotFoundError, ValueError):
            jobs.append(json.loads(path.read_text()))
    return sorted(jobs, key=lambda job: (job["seq"], -1 if job["index"] is None else job["index"]))


def _job_options(args: list[str], flavour: str) -> tuple[set[str], list[str]]:
    """qstat's job-status options (``-f``, ``-x``, ``-t``; Pro's ``-F json``) and job ids.

    Raises:
        Fail: another option (fake wording, getopt style).
    """
    options: set[str] = set()
    tokens = []
    words = iter(args)
    for word in words:
        if word == "-F" and flavour == "pro":
            form = next(words, "")
            if form != "json":  # fake wording
                raise Fail(f"qstat: pbs_fake renders only -F json, not {form!r}", 2)
            options.add("-F json")
        elif word in ("-f", "-x", "-t"):
            options.add(word)
        elif word.startswith("-"):  # fake wording
            raise Fail(f"qstat: invalid option -- '{word.lstrip('-')}'", 2)
        else:
            tokens.append(word)
    return options, tokens


def _lookup(token: str, cfg: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The records a qstat/qdel id names (an array: parent then subjobs); None if unknown."""
    match = re.fullmatch(r"([0-9]+)(?:\[([0-9]*)\])?(?:\.(.+))?", token)
    if match is None or match[3] not in (None, cfg["server"]):
        return None
    seq, index = match[1], match[2]
    parent = load(seq)
    if parent is None:
        return None
    if index is None:
        return [parent] if not parent["array"] else None
    if index == "":
        if not parent["array"]:
            return None
        return [parent] + [j for i in parent["indices"] if (j := load(f"{seq}-{i}"))]
    job = load(f"{seq}-{index}")
    return [job] if job is not None else None


def _pro_attributes(job: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    server, res, queue = cfg["server"], job["resources"], job["queue"]
    select = f"1:ncpus={res['ncpus']}" + (f":mem={res['mem'] // 2**20}mb" if res["mem"] else "")
    resources: dict[str, Any] = {"ncpus": res["ncpus"], "nodect": 1, "place": "pack"}
    resources["select"] = select
    if res["walltime"]:
        resources["walltime"] = clock(res["walltime"])
    if res["mem"]:
        resources["mem"] = f"{res['mem'] // 2**20}mb"
    host = socket.gethostname()
    attrs: dict[str, Any] = {
        "Job_Name": job["name"],
        "Job_Owner": f"{os.environ.get('USER', 'user')}@{host}",
    }
    if "used" in job or job["state"] == "R":
        used = job.get("used", {"walltime": time.time() - job.get("stime", time.time()), "mem": 0})
        attrs["resources_used"] = {
            "cpupercent": 0,
            "cput": clock(used.get("cput", 0)),
            "mem": f"{used['mem'] // 1024}kb",
            "ncpus": res["ncpus"],
            "vmem": f"{used['mem'] // 1024}kb",
            "walltime": clock(used["walltime"]),
        }
    attrs.update(
        {
            "job_state": job["state"],
            "queue": job["queue"],
            "server": server,
            "Checkpoint": "u",
            "ctime": time.ctime(job["ctime"]),
            "Error_Path": f"{host}:{job['stderr']}",
            "Hold_Types": "n",
            "Join_Path": "n",
            "Keep_Files": "n",
            "Mail_Points": "a",
            "mtime": time.ctime(job.get("mtime", job["ctime"])),
            "Output_Path": f"{host}:{job['stdout']}",
            "Priority": 0,
            "qtime": time.ctime(job["ctime"]),
            "Rerunable": str(job["rerunable"]),
            "Resource_List": resources,
            "substate": job["substate"],
            "Variable_List": {"PBS_O_HOME": os.environ.get("HOME", "/"), "PBS_O_QUEUE": queue},
            "comment": job["comment"],
            "Submit_arguments": job["submit_args"],
            "project": "_pbs_project_default",
        }
    )
    if cfg["json_defects"]:
        attrs["Variable_List"]["DISTRIBUTOR_FAKE_NUMBER"] = "005"
    if "stime" in job:
        attrs["stime"] = time.ctime(job["stime"])
        cpus = f"*{res['ncpus']}" if (res["ncpus"] or 1) > 1 else ""
        attrs["exec_host"] = f"{cfg['exec_host'] or host}/0{cpus}"
        attrs["session_id"] = job.get("pid", 0)
    if "obittime" in job:
        attrs["obittime"] = time.ctime(job["obittime"])
    if job["state"] == "F" and "comp_time" in job:
        attrs["history_timestamp"] = int(job["comp_time"])
    if job["exit_status"] is not None:
        attrs["Exit_status"] = job["exit_status"]
    if job["array"]:
        attrs["array"] = "True"
        attrs["array_indices_submitted"] = f"{job['indices'][0]}-{job['indices'][-1]}"
    if job["index"] is not None:
        attrs["array_id"] = job["parent"]
        attrs["array_index"] = job["index"]
    return attrs


def _pro_json(jobs: list[dict[str, Any]], cfg: dict[str, Any]) -> str:
    document: dict[str, Any] = {
        "timestamp": int(time.time()),
        "pbs_version": _VERSIONS["pro"].split(" = ")[1],
        "pbs_server": cfg["server"],
    }
    if jobs:
        document["Jobs"] = {job["id"]: _pro_attributes(job, cfg) for job in jobs}
    text = json.dumps(document, indent=4, separators=(",", ":"))
    return text.replace('"DISTRIBUTOR_FAKE_NUMBER":"005"', '"DISTRIBUTOR_FAKE_NUMBER":005') + "\n"


def _xml_element(tag: str, value: Any) -> str:
    if isinstance(value, dict):
        inner = "".join(_xml_element(key, item) for key, item in value.items())
        return f"<{tag}>{inner}</{tag}>"
    return f"<{tag}>{escape(str(value))}</{tag}>"


def _torque_summary(parent: dict[str, Any]) -> str:
    """The state Torque's array summary shows: R while a subjob runs, else Q while one is
    queued, else C."""
    states = {(load(f"{parent['seq']}-{i}") or {}).get("state") for i in parent["indices"]}
    return "R" if states & {"R", "E"} else "Q" if "Q" in states else "C"


def _torque_xml(jobs: list[dict[str, Any]], cfg: dict[str, Any]) -> str:
    host = socket.gethostname()
    parts = []
    for job in jobs:
        res = job["resources"]
        # Torque names subjob i of array "x" "x-i" (the array's summary keeps "x")
        name = job["name"] if job["index"] is None else f"{job['name']}-{job['index']}"
        attrs: dict[str, Any] = {"Job_Id": job["id"], "Job_Name": name}
        attrs["Job_Owner"] = f"{os.environ.get('USER', 'user')}@{host}"
        if "used" in job:
            attrs["resources_used"] = {
                "cput": clock(job["used"].get("cput", 0)),
                "mem": f"{job['used']['mem'] // 1024}kb",
                "vmem": f"{job['used']['mem'] // 1024}kb",
                "walltime": clock(job["used"]["walltime"]),
            }
        attrs["job_state"] = _torque_summary(job) if job["array"] else job["state"]
        attrs["queue"] = job["queue"]
        attrs["server"] = cfg["server"]
        attrs["ctime"] = int(job["ctime"])
        attrs["Error_Path"] = f"{host}:{job['stderr']}"
        attrs["Output_Path"] = f"{host}:{job['stdout']}"
        attrs["Rerunable"] = str(job["rerunable"])
        limits: dict[str, Any] = {"nodect": 1, "nodes": f"1:ppn={res['ncpus']}"}
        if res["mem"]:
            limits["mem"] = f"{res['mem'] // 2**20}mb"
        if res["walltime"]:
            limits["walltime"] = clock(res["walltime"])
        attrs["Resource_List"] = limits
        attrs["Variable_List"] = f"PBS_O_QUEUE={job['queue']},PBS_O_HOME={os.environ.get('HOME')}"
        attrs["mtime"] = int(job.get("mtime", job["ctime"]))
        if "stime" in job:
            attrs["start_time"] = int(job["stime"])
            cpus = f"-{res['ncpus'] - 1}" if (res["ncpus"] or 1) > 1 else ""
            attrs["exec_host"] = f"{cfg['exec_host'] or host}/0{cpus}"
        if job["exit_status"] is not None:
            attrs["exit_status"] = job["exit_status"]
        if "comp_time" in job:
            attrs["comp_time"] = int(job["comp_time"])
        if job["index"] is not None:
            attrs["job_array_id"] = job["index"]
        attrs["submit_args"] = job["submit_args"]
        parts.append(_xml_element("Job", attrs))
    return '<?xml version="1.0"?>\n<Data>' + "".join(parts) + "</Data>\n"


def _attribute_block(kind: str, name: str, attributes: dict[str, Any]) -> str:
    lines = [f"{kind}: {name}"] + [f"    {key} = {value}" for key, value in attributes.items()]
    return "\n".join(lines) + "\n\n"


def qstat(args: list[str]) -> tuple[str, str, int]:
    """Answer qstat; returns (stdout, stderr, exit status)."""
    cfg = config()
    flavour = cfg["flavour"]
    if args == ["--version"]:
        return _VERSIONS[flavour] + "\n", "", 0
    if args[:2] == ["-Q", "-f"]:
        names = args[2:] or list(cfg["queues"])
        out = ""
        for name in names:
            if name not in cfg["queues"]:
                return out, f"qstat: Unknown queue {name}\n", 170
            base = {"queue_type": "Execution", "total_jobs": 0, "enabled": "True"}
            out += _attribute_block(
                "Queue", name, {**base, "started": "True", **cfg["queues"][name]}
            )
        return out, "", 0
    if args == ["-B", "-f"]:
        size_key = "max_array_size" if flavour == "pro" else "max_job_array_size"
        attributes = {"server_state": "Active", size_key: cfg["max_array_size"]}
        return _attribute_block("Server", cfg["server"], attributes), "", 0
    options, tokens = _job_options(args, flavour)
    pro = flavour == "pro"
    if (pro and not {"-f", "-F json"} <= options) or (not pro and "-x" not in options):
        # fake wording: this fake renders only the long JSON (Pro) and XML (Torque) forms
        return "", "qstat: pbs_fake renders only -f -F json (Pro) or -x (Torque)\n", 2
    history = "-x" in options or not pro  # Torque's -x is XML; its C jobs show regardless
    expand = "-t" in options
    found: list[dict[str, Any]] = []
    errors = []
    status = 0
    if not tokens:  # every job the server holds, in the order they were submitted
        found = [job for job in _all_jobs() if _visible(job, cfg, history)]
        found = [job for job in found if _shown(job, flavour, expand)]
    for token in tokens:
        jobs = _lookup(token, cfg) or []
        visible = [job for job in jobs if _visible(job, cfg, history)]
        if not visible and any(_visible(job, cfg, True) for job in jobs):
            errors.append(
                f"qstat: {token} Job has finished, use -x or -H to obtain historical job "
                "information"
            )
            status = status or _HISTORY
        elif not visible:
            errors.append(f"qstat: Unknown Job Id {'' if pro else 'Error '}{token}")
            status = _UNKNOWN
        found += [job for job in visible if _shown(job, flavour, expand)]
    out = _pro_json(found, cfg) if pro else _torque_xml(found, cfg)
    return out, "".join(line + "\n" for line in errors), status


# --- qdel -----------------------------------------------------------------------------------


def qdel(args: list[str]) -> tuple[str, int]:
    """Delete jobs; returns (stderr, exit status). ``-W force`` (Pro) / ``-p`` (Torque) deletes
    at once: the MoM kills a running job with SIGKILL, without the SIGTERM grace."""
    cfg = config()
    pro = cfg["flavour"] == "pro"
    forced = ["-W", "force"] if pro else ["-p"]
    force = args[: len(forced)] == forced
    args = args[len(forced) :] if force else args
    if any(arg.startswith("-") for arg in args):  # fake wording
        return f"qdel: invalid option {next(a for a in args if a.startswith('-'))}\n", 2
    errors: list[str] = []
    status = 0
    for token in args:
        with locked():
            jobs = _lookup(token, cfg)
            if not jobs:
                errors.append(f"qdel: Unknown Job Id {'' if pro else 'Error '}{token}")
                status = _UNKNOWN
                continue
            targets = [job for job in jobs if not job["array"]]
            live = [job for job in targets if job["state"] not in ("F", "C")]
            if not live:
                errors.append(
                    f"qdel: Job {token} has finished"
                    if pro
                    else "qdel: Request invalid for state of job MSG=invalid state for job - "
                    f"COMPLETE {token}"
                )
                status = _HISTORY if pro else 170
                continue
            for job in live:
                if job["state"] == "Q":
                    job.update(state="F" if pro else "C", substate=91, comp_time=time.time())
                job["deleted"] = "force" if force else True
                save(job)
    return "".join(line + "\n" for line in errors), status


def main() -> None:
    """Dispatch on the first argument: ``qsub``, ``qstat``, ``qdel`` or ``mom SEQ``."""
    program, *args = sys.argv[1:] or [""]
    try:
        if program == "mom":
            mom(int(args[0]))
        elif program == "qsub":
            sys.stdout.write(qsub(args))
        elif program == "qstat":
            out, err, status = qstat(args)
            sys.stdout.write(out)
            sys.stderr.write(err)
            sys.exit(status)
        elif program == "qdel":
            err, status = qdel(args)
            sys.stderr.write(err)
            sys.exit(status)
        else:
            raise Fail(f"pbs_fake: unknown program {program!r}", 2)
    except Fail as exc:
        sys.stderr.write(f"{exc}\n")
        sys.exit(exc.status)


if __name__ == "__main__":
    main()
