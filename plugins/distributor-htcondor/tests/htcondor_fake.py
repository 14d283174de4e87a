"""A fake HTCondor pool: ``condor_submit``, ``condor_q``, ``condor_history`` and ``condor_rm``.

No HTCondor daemon can run on the CI machines, so the plugin's tests put wrappers named after
the four commands on PATH (`distributor_htcondor.testing.command_wrappers`); each runs this file
with the command's name. State lives in ``$FAKE_CONDOR_STATE``: one JSON job ad per job in
``queue/`` while it is in the queue and in ``history/`` once it left, a cluster counter, and
``config.json``. Jobs really run: ``condor_submit`` starts a detached "starter" per job that
runs the executable with the submit description's environment, output and error files.

Documented behaviour reproduced (HTCondor manual: condor_submit, condor_q, condor_history,
condor_rm, "Job Status Codes", "Hold Reason Codes"; tool sources for the printed messages) and
checked against the outputs of HTCondor 23.9.6 and 25.14.1 recorded in a real pool:

* ``condor_submit FILE`` reads ``key = value`` commands, ``+Attr``/``My.Attr = ClassAd value``,
  ``environment = "A=1 B=2"`` and ``queue [N]``, expands ``$(Cluster)``/``$(ClusterId)`` and
  ``$(Process)``/``$(ProcId)`` (0-based), prints ``Submitting job(s)`` with one dot per job and
  ``N job(s) submitted to cluster C.``; unknown commands give condor_submit's ``WARNING: the
  line '...' was unused by condor_submit. Is it a typo?``; errors start with ``ERROR:`` and
  exit 1.
* ``condor_q -json -attributes A,B [C | C.P ...]`` and ``condor_history -json -attributes A,B
  -match N -constraint EXPR`` print a JSON array of job ClassAds (unevaluated expressions as
  ``/Expr(...)/`` strings, as the ClassAd JSON unparser writes them), newest first for history.
  When no job matches, condor_q prints nothing at all and condor_history an empty array
  (``[`` and ``]`` on two lines). The history constraint understood is a disjunction of
  ``ClusterId == C`` and ``(ClusterId == C && member(ProcId, {P, ...}))``.
* ``condor_q -constraint EXPR -af A B`` (``-autoformat``): the queued jobs for which EXPR is
  true, one line per job with the attributes' values separated by single spaces, or tabs with
  ``-af:t`` (strings unquoted, missing attributes ``undefined``); every word after ``-af`` up
  to the next option is an attribute name (``condor_q -af A 6`` asks for an attribute ``6``).
  The constraint
  understood is a disjunction (``||``, with parentheses) of ``Attr =?= "string"`` terms, read
  with the escaping of old ClassAd syntax that condor_q's constraint parser uses: a backslash
  is special only before a double quote (``\\"`` is a quote inside the string). ``=?=`` is
  case-sensitive and false for a missing attribute. Anything else is refused with an error.
* ``JobStatus`` 1 Idle → 2 Running → 4 Completed with ``ExitCode`` or ``ExitBySignal``/
  ``ExitSignal``; 5 Held with ``HoldReason``/``HoldReasonCode``/``HoldReasonSubCode``; 3 Removed
  with ``RemoveReason = "via condor_rm (by user U)"``; ``LastJobStatus`` is the status before
  the current one. Removing a held job moves its ``HoldReason*`` attributes to
  ``LastHoldReason*`` (``LastHoldReason``, ``LastHoldReasonCode``, ``LastHoldReasonSubCode``).
  Completed and removed jobs leave the queue and are written to the history (unless
  ``config.history`` is false, like a pool whose ``HISTORY`` is undefined: condor_history then
  fails).
* Limits. ``allowed_execute_duration`` is kept in the job ad (``AllowedExecuteDuration``) but
  not enforced: HTCondor 23.9.6 enforces it only for jobs that transfer files, and this
  plugin's jobs use the shared filesystem (a 3 s limit let a 20 s job complete with
  ``ExitCode 0``); 25.x holds such jobs with code 47, which tests reproduce with ``fake-hold``.
  Memory over ``request_memory`` (MiB, resident set of the job's process group) is handled
  per ``config.memory_enforcement``: ``hold`` (default, cgroup OOM: SIGKILL and hold code 34
  subcode 102 ``Error from slot1@HOST: Job has gone over memory limit of N megabytes. Peak
  usage: M megabytes.``), ``policy`` (the submit description's ``periodic_hold`` of the form
  ``MemoryUsage > RequestMemory``: hold code 3 with ``periodic_hold_reason``/``_subcode``),
  ``kill`` (SIGKILL without a hold: the job completes with ``ExitBySignal``) or ``none`` (a
  pool without cgroups, like the recorded one).
* Accounting, as ``CreateJobAd`` and the shadow write it (and as recorded): a new ad has
  ``CompletionDate`` 0 and ``RemoteWallClockTime``, ``RemoteUserCpu``, ``RemoteSysCpu`` 0.0; a
  run sets ``JobStartDate`` (the first one only), ``JobCurrentStartDate`` and ``RemoteHost``
  (``slot1@HOST``, HOST being ``config.host``, default ``fakehost``); when the run ends
  (completion, hold, removal) ``LastRemoteWallClockTime`` is its whole seconds, added to
  ``RemoteWallClockTime``, ``RemoteUserCpu``/``RemoteSysCpu`` are the job's CPU seconds and
  ``RemoteHost`` becomes ``LastRemoteHost``; a completed job gets ``CompletionDate``.
* ``condor_rm C.P | C | -all`` prints ``Job C.P marked for removal`` / ``All jobs in cluster C
  have been marked for removal``, or on stderr, after an empty line, ``Job C.P not found`` /
  ``Couldn't find/remove all jobs in cluster C`` with exit status 1 (and, with nothing in the
  queue, ``condor_rm:0:There are no jobs in the queue``). A running job gets SIGTERM, then
  SIGKILL.

Test-only extras (not HTCondor): ``fake-hold C.P CODE SUBCODE REASON`` holds a job as a daemon
would; ``config.start_delay`` keeps jobs idle for that many seconds; ``config.failures`` maps a
command name to how many of its next calls fail as if the schedd were unreachable. A starter's
own errors go to ``starters.log`` in the state directory (a starter that dies leaves its job
Idle or Running for ever, so tests check that the log stays empty).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import resource
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

Ad = dict[str, Any]

STARTER_LOG = "starters.log"
"""Where the starters' own errors go, in the state directory (empty while the fake is sound)."""

_MEMORY_USAGE = "/Expr(( ( ResidentSetSize + 1023 ) / 1024 ))/"
_KNOWN_COMMANDS = {
    "universe": None,
    "executable": "Cmd",
    "transfer_executable": None,
    "initialdir": "Iwd",
    "output": "Out",
    "error": "Err",
    "environment": "Environment",
    "batch_name": "JobBatchName",
    "notification": None,
    "job_max_vacate_time": "JobMaxVacateTime",
    "getenv": None,
    "request_cpus": "RequestCpus",
    "request_memory": "RequestMemory",
    "request_gpus": "RequestGPUs",
    "allowed_execute_duration": "AllowedExecuteDuration",
    "allowed_job_duration": "AllowedJobDuration",
    "periodic_hold": "PeriodicHold",
    "periodic_hold_reason": "PeriodicHoldReason",
    "periodic_hold_subcode": "PeriodicHoldSubCode",
    "accounting_group": "AcctGroup",
    "concurrency_limits": "ConcurrencyLimits",
}
_INTEGER_ATTRS = {
    "RequestCpus",
    "RequestMemory",
    "RequestGPUs",
    "AllowedExecuteDuration",
    "AllowedJobDuration",
    "JobMaxVacateTime",
    "PeriodicHoldSubCode",
}
_UNREACHABLE = {
    "crashed": {
        "condor_q": "\n-- Failed to fetch ads from: <127.0.0.1:9618?addrs=127.0.0.1-9618&alias="
        "fakehost&noUDP&sock=schedd_1_a> : fakehost\nSECMAN:2007:Failed to end classad message.\n",
        "condor_submit": "\nERROR: Failed to connect to local queue manager\nSECMAN:2011:"
        "Connection closed during command authorization. Probably due to an unknown command.\n",
        "condor_rm": "SECMAN:2007:Failed to end classad message.\nNo result found for job 1.0\n",
    },
    "stopped": {
        "condor_q": "Error: Can't find address for schedd fakehost\n\nExtra Info: You probably "
        "saw this error because the condor_schedd is not running on the machine you are trying "
        "to query. If the condor_schedd is not running, the Condor system will not be able to "
        "find an address and port to connect to and satisfy this request. Please make sure "
        "the Condor daemons are running and try again.\n",
        "condor_submit": "\nERROR: Can't find address of local schedd\n",
        "condor_rm": "condor_rm: Can't find address for schedd fakehost\n",
    },
}
"""How each command says the schedd is unreachable, as recorded: right after it crashed, and
while it is stopped (``condor_off``, or before ``condor_master`` restarted it)."""


class Pool:
    """The state directory of the fake pool."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "queue").mkdir(parents=True, exist_ok=True)
        (root / "history").mkdir(parents=True, exist_ok=True)

    @property
    def config(self) -> dict[str, Any]:
        """``config.json`` (``{}`` when absent)."""
        try:
            data = json.loads((self.root / "config.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the pool's lock (every read-modify-write of job ads takes it)."""
        with (self.root / "lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _write(self, path: Path, ad: Ad) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(ad, indent=2), encoding="utf-8")
        os.replace(tmp, path)

    def read(self, job: str) -> Ad | None:
        """The queued job's ad, or None when it is not in the queue."""
        try:
            data = json.loads((self.root / "queue" / f"{job}.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return data if isinstance(data, dict) else None

    def write(self, ad: Ad) -> None:
        """Store a queued job's ad."""
        self._write(self.root / "queue" / f"{ad['ClusterId']}.{ad['ProcId']}.json", ad)

    def queued(self) -> list[Ad]:
        """Every ad in the queue, by job id."""
        ads = []
        for path in sorted(self.root.joinpath("queue").glob("*.json")):
            with contextlib.suppress(FileNotFoundError, ValueError):
                ads.append(json.loads(path.read_text(encoding="utf-8")))
        return sorted(ads, key=lambda ad: (ad["ClusterId"], ad["ProcId"]))

    def history(self) -> list[Ad]:
        """Every ad in the history, newest first."""
        ads = [
            json.loads(path.read_text(encoding="utf-8"))
            for path in self.root.joinpath("history").glob("*.json")
        ]
        return sorted(ads, key=lambda ad: (ad.get("EnteredCurrentStatus", 0), ad["ClusterId"]))[
            ::-1
        ]

    def leave_queue(self, ad: Ad) -> None:
        """The job leaves the queue; its final ad goes to the history (if there is one)."""
        job = f"{ad['ClusterId']}.{ad['ProcId']}"
        ad.pop("FakeStarterPid", None)
        if self.config.get("history", True):
            self._write(self.root / "history" / f"{job}.json", ad)
        (self.root / "queue" / f"{job}.json").unlink(missing_ok=True)

    def unreachable(self, command: str) -> str:
        """What `command` prints when the schedd is unreachable (``config.outage``: ``stopped``,
        the default, or ``crashed``)."""
        return _UNREACHABLE[str(self.config.get("outage", "stopped"))][command]

    def next_cluster(self) -> int:
        """Allocate a cluster id."""
        counter = self.root / "next_cluster"
        value = int(counter.read_text()) if counter.exists() else 1
        counter.write_text(str(value + 1))
        return value

    def fail(self, command: str) -> bool:
        """Whether this call of `command` is configured to fail as if the schedd were down.

        The count is decremented under the pool's lock and ``config.json`` is replaced
        atomically: starters read the configuration at any moment, and a torn file once
        killed one (its job then stayed Idle or Running forever).
        """
        with self.locked():
            config = self.config
            left = int(config.get("failures", {}).get(command, 0))
            if left <= 0:
                return False
            config["failures"][command] = left - 1
            self._write(self.root / "config.json", config)
        return True


# --- condor_submit -------------------------------------------------------------------------


def _classad_value(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return f"/Expr({text})/"


def _parse_description(text: str) -> tuple[dict[str, str], dict[str, Any], int, list[str]]:
    """Commands, custom attributes, the queue count, and warnings."""
    commands: dict[str, str] = {}
    custom: dict[str, Any] = {}
    count = 0
    warnings = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        queue = re.fullmatch(r"queue(?:\s+(\d+))?", line, re.IGNORECASE)
        if queue:
            count = int(queue.group(1) or 1)
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"Parse error in submit file: {line!r}")
        key, value = key.strip(), value.strip()
        if key.startswith("+") or key.lower().startswith("my."):
            custom[key.lstrip("+").removeprefix("My.").removeprefix("my.")] = _classad_value(value)
        elif key.lower() in _KNOWN_COMMANDS:
            commands[key.lower()] = value
        else:
            warnings.append(
                f"WARNING: the line '{line}' was unused by condor_submit. Is it a typo?"
            )
    return commands, custom, count, warnings


def _expand(value: str, cluster: int, proc: int) -> str:
    for name, number in (("Cluster", cluster), ("ClusterId", cluster)):
        value = value.replace(f"$({name})", str(number))
    for name in ("Process", "ProcId"):
        value = value.replace(f"$({name})", str(proc))
    return value


def _job_ad(
    pool: Pool, commands: dict[str, str], custom: dict[str, Any], cluster: int, proc: int
) -> Ad:
    now = int(time.time())
    ad: Ad = {
        "ClusterId": cluster,
        "ProcId": proc,
        "JobStatus": 1,
        "QDate": now,
        "EnteredCurrentStatus": now,
        "Owner": pool.config.get("user", "tester"),
        "JobUniverse": 5,
        "MemoryUsage": _MEMORY_USAGE,
        "ResidentSetSize": 0,
        "CompletionDate": 0,
        "RemoteWallClockTime": 0.0,
        "RemoteUserCpu": 0.0,
        "RemoteSysCpu": 0.0,
        "RequestMemory": "/Expr(ifthenelse(MemoryUsage =!= undefined,MemoryUsage,"
        "( ImageSize + 1023 ) / 1024))/",
    }
    for command, value in commands.items():
        attribute = _KNOWN_COMMANDS[command]
        if attribute is None:
            continue
        expanded = _expand(value, cluster, proc)
        if attribute in _INTEGER_ATTRS:
            ad[attribute] = int(expanded)
        elif attribute in ("PeriodicHold",):
            ad[attribute] = f"/Expr({expanded})/"
        elif attribute == "PeriodicHoldReason":
            ad[attribute] = _classad_value(expanded)
        elif attribute == "Environment":
            ad[attribute] = expanded.strip('"')
        else:
            ad[attribute] = expanded
    ad.update(custom)
    return ad


def condor_submit(pool: Pool, args: list[str]) -> int:
    """``condor_submit FILE``: queue ``queue N`` jobs of cluster C and start them.

    Reproduces condor_submit's summary (``Submitting job(s)`` + a dot per job, ``N job(s)
    submitted to cluster C.``), its unused-line warning and its ``ERROR:`` lines with exit 1.
    """
    files = _operands(args, {"-name", "-pool"})
    if pool.fail("condor_submit"):
        sys.stderr.write(pool.unreachable("condor_submit"))
        return 1
    refusal = pool.config.get("submit_error")
    if refusal:
        sys.stderr.write(f"\n{refusal}\n")
        return 1
    if len(files) != 1:
        sys.stderr.write("ERROR: this fake reads exactly one submit description file\n")
        return 1
    try:
        commands, custom, count, warnings = _parse_description(Path(files[0]).read_text())
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"\nERROR: {exc}\n")
        return 1
    for warning in warnings:
        sys.stderr.write(warning + "\n")
    if count == 0:
        sys.stderr.write(
            f'\nERROR: "{files[0]}" doesn\'t contain any "queue" commands -- no jobs queued\n'
        )
        return 1
    executable = commands.get("executable", "")
    transfer = commands.get("transfer_executable", "true").lower() not in ("false", "no")
    if not executable or (transfer and not os.access(executable, os.X_OK)):
        # without transfer_executable the pool accepts it: the starter fails (hold 6/2)
        sys.stderr.write(f"\nERROR: Executable file {executable} does not exist\n")
        return 1
    with pool.locked():
        cluster = pool.next_cluster()
        for proc in range(count):
            pool.write(_job_ad(pool, commands, custom, cluster, proc))
    with (pool.root / STARTER_LOG).open("ab") as log:
        for proc in range(count):
            subprocess.Popen(
                [sys.executable, __file__, "fake-starter", f"{cluster}.{proc}"],
                env={**os.environ},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
    sys.stdout.write("Submitting job(s)" + "." * count + "\n")
    sys.stdout.write(f"{count} job(s) submitted to cluster {cluster}.\n")
    return 0


# --- the starter ---------------------------------------------------------------------------


def _group_rss_kib(pgid: int) -> int:
    """Resident set of every process in process group `pgid`, in KiB."""
    total = 0
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if len(fields) > 21 and int(fields[2]) == pgid:
            total += int(fields[21]) * page_kib
    return total


def _stop(pgid: int, soft: bool) -> None:
    """Kill a process group: SIGTERM and a second's grace first when `soft`."""
    if soft:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _end_run(ad: Ad, cpu: tuple[float, float] | None = None, now: int | None = None) -> None:
    """What the shadow writes when a run ends: the run's whole seconds (``LastRemoteWallClockTime``,
    added to ``RemoteWallClockTime``), the job's user and system CPU seconds (unchanged when
    unknown), and ``RemoteHost`` moved to ``LastRemoteHost``."""
    if "RemoteHost" not in ad:
        return
    end = int(time.time()) if now is None else now
    run = float(max(0, end - int(ad.get("JobCurrentStartDate") or end)))
    ad["LastRemoteWallClockTime"] = run
    ad["RemoteWallClockTime"] = float(ad.get("RemoteWallClockTime") or 0.0) + run
    if cpu is not None:
        ad["RemoteUserCpu"], ad["RemoteSysCpu"] = round(cpu[0], 3), round(cpu[1], 3)
    ad["LastRemoteHost"] = ad.pop("RemoteHost")


def _children_cpu() -> tuple[float, float]:
    """User and system CPU seconds of the starter's waited-for children: its one job."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime, usage.ru_stime


def _hold(
    pool: Pool,
    job: str,
    code: int,
    subcode: int,
    reason: str,
    peak_kib: int,
    cpu: tuple[float, float] | None = None,
    returncode: int | None = None,
) -> None:
    with pool.locked():
        ad = pool.read(job)
        if ad is None:
            return
        now = int(time.time())
        _end_run(ad, cpu, now)
        if returncode is not None:  # recorded: a duration hold keeps ExitBySignal, ExitSignal
            _exit_attributes(ad, returncode)
        ad.update(
            LastJobStatus=ad["JobStatus"],
            JobStatus=5,
            HoldReason=reason,
            HoldReasonCode=code,
            HoldReasonSubCode=subcode,
            EnteredCurrentStatus=now,
            ResidentSetSize=peak_kib,
        )
        ad.pop("FakeStarterPid", None)
        pool.write(ad)


def _clock(seconds: int) -> str:
    """A duration as hold reasons write it: ``MM:SS`` (recorded ``00:03``, ``01:00``), with
    hours in front when there are any."""
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def _exit_attributes(ad: Ad, returncode: int) -> None:
    """``ExitBySignal`` and ``ExitCode`` or ``ExitSignal`` from a Popen return code."""
    ad["ExitBySignal"] = returncode < 0
    if returncode < 0:
        ad["ExitSignal"] = -returncode
    else:
        ad["ExitCode"] = returncode


def _over_memory(ad: Ad, peak_kib: int, mode: str) -> bool:
    request = ad.get("RequestMemory")
    if mode == "none" or not isinstance(request, int):
        return False
    if mode == "policy" and "MemoryUsage > RequestMemory" not in str(ad.get("PeriodicHold")):
        return False
    return peak_kib > request * 1024


def _environment(ad: Ad) -> dict[str, str]:
    env = {}
    for word in shlex.split(str(ad.get("Environment", ""))):
        name, _, value = word.partition("=")
        env[name] = value
    return env


def fake_starter(pool: Pool, job: str) -> int:
    """Run one job to its end, enforcing its limits (the schedd, shadow and starter in one).

    Reproduces the ``JobStatus`` life cycle, ``ExitCode``/``ExitBySignal``/``ExitSignal``,
    ``ResidentSetSize`` (KiB), the hold codes and reasons of memory (34/102, or 3 with the
    ``periodic_hold`` reason and subcode), and SIGTERM then SIGKILL for a removal;
    ``allowed_execute_duration`` is not enforced, as on HTCondor 23.9.6 without file transfer.
    """
    delay = float(pool.config.get("start_delay", 0))
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        ad = pool.read(job)
        if ad is None or ad["JobStatus"] != 1:
            return 0
        time.sleep(0.05)
    host = pool.config.get("host", "fakehost")
    with pool.locked():
        ad = pool.read(job)
        if ad is None or ad["JobStatus"] != 1:
            return 0
        started = time.time()
        ad.update(
            LastJobStatus=1,
            JobStatus=2,
            JobCurrentStartDate=int(started),
            JobStartDate=ad.get("JobStartDate") or int(started),
            EnteredCurrentStatus=int(started),
            NumJobStarts=1,
            RemoteHost=f"slot1@{host}",
            FakeStarterPid=os.getpid(),
        )
        pool.write(ad)
    try:
        with (
            open(ad.get("Out", os.devnull), "ab") as out,
            open(ad.get("Err", os.devnull), "ab") as err,
        ):
            process = subprocess.Popen(
                [ad["Cmd"]],
                cwd=ad.get("Iwd") or None,
                env=_environment(ad),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
    except OSError as exc:
        _hold(
            pool,
            job,
            6,
            exc.errno or 0,
            f"Error from slot1@{host}: Failed to execute '{ad['Cmd']}': "
            f"(errno={exc.errno}: '{exc.strerror}')",
            0,
        )
        return 0
    mode = str(pool.config.get("memory_enforcement", "hold"))
    peak = 0
    while process.poll() is None:
        time.sleep(0.05)
        peak = max(peak, _group_rss_kib(process.pid))
        current = pool.read(job)
        if current is None or current["JobStatus"] == 3:
            _stop(process.pid, soft=True)
            returncode = process.wait()
            with pool.locked():
                final = pool.read(job) or current or ad
                final.update(ResidentSetSize=peak)
                _end_run(final, _children_cpu())
                _exit_attributes(final, returncode)  # recorded: kept beside JobStatus 3
                pool.leave_queue(final)
            return 0
        duration = ad.get("AllowedJobDuration")
        if isinstance(duration, int) and time.time() - started > duration:
            _stop(process.pid, soft=True)
            returncode = process.wait()
            reason = f"The job exceeded allowed job duration of {_clock(duration)}"
            _hold(pool, job, 46, 0, reason, peak, _children_cpu(), returncode)
            return 0
        if _over_memory(ad, peak, mode):
            request = ad["RequestMemory"]
            _stop(process.pid, soft=mode == "policy")
            process.wait()
            if mode == "policy":
                reason = str(
                    ad.get("PeriodicHoldReason")
                    or "The job attribute PeriodicHold "
                    f"expression '{ad['PeriodicHold']}' evaluated to TRUE"
                )
                subcode = int(ad.get("PeriodicHoldSubCode", 0))
                _hold(pool, job, 3, subcode, reason, peak, _children_cpu())
                return 0
            if mode == "hold":
                reason = (
                    f"Error from slot1@{host}: Job has gone over memory limit of {request} "
                    f"megabytes. Peak usage: {-(-peak // 1024)} megabytes."
                )
                _hold(pool, job, 34, 102, reason, peak, _children_cpu())
                return 0
            break  # "kill": the job ends by the signal, as after a kernel OOM kill
    returncode = process.wait()
    with pool.locked():
        final = pool.read(job) or ad
        now = int(time.time())
        _end_run(final, _children_cpu(), now)
        final.update(
            LastJobStatus=final["JobStatus"],
            JobStatus=4,
            CompletionDate=now,
            EnteredCurrentStatus=now,
            ResidentSetSize=peak,
        )
        _exit_attributes(final, returncode)
        pool.leave_queue(final)
    return 0


# --- condor_q and condor_history -----------------------------------------------------------


def _operands(args: list[str], with_value: set[str]) -> list[str]:
    """Arguments that are not options (options in `with_value` take one value)."""
    out = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in with_value:
            skip = True
        elif not arg.startswith("-"):
            out.append(arg)
    return out


def _option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else None


def _print_ads(ads: list[Ad], attributes: str | None, *, empty: str = "") -> None:
    if not ads:
        sys.stdout.write(empty)  # condor_q prints nothing, condor_history "[" and "]"
        return
    wanted = attributes.split(",") if attributes else None
    shown = [{k: v for k, v in ad.items() if wanted is None or k in wanted} for ad in ads]
    sys.stdout.write("[\n" + "\n,\n".join(json.dumps(ad, indent=2) for ad in shown) + "\n]\n")


def _lookup(ad: Ad, name: str) -> Any:
    """An attribute's value (ClassAd attribute names are case-insensitive); None if absent."""
    for key, value in ad.items():
        if key.lower() == name.lower():
            return value
    return None


def _old_string(text: str, pos: int) -> tuple[str, int]:
    """The string literal whose opening quote precedes `pos`, read as old ClassAd syntax does
    (``tokenizeStringOld``): a backslash before a double quote that is followed by more text
    (not a newline) makes the quote part of the string; no other escapes. Returns the value
    and the position after the closing quote.
    """
    parts = []
    while True:
        end = text.find('"', pos)
        if end < 0:
            raise ValueError("unterminated string literal")
        chunk = text[pos:end]
        if chunk.endswith("\\") and end + 1 < len(text) and text[end + 1] != "\n":
            parts.append(chunk[:-1] + '"')
            pos = end + 1
            continue
        parts.append(chunk)
        return "".join(parts), end + 1


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _disjunction(text: str) -> list[tuple[str, str]]:
    """The ``(attribute, string)`` terms of a constraint ``A =?= "x" || (B =?= "y") ...``.

    Raises:
        ValueError: the constraint has any other form.
    """
    terms: list[tuple[str, str]] = []
    pos, depth, expect_term = 0, 0, True

    def skip(at: int) -> int:
        while at < len(text) and text[at].isspace():
            at += 1
        return at

    while True:
        pos = skip(pos)
        if expect_term:
            if text.startswith("(", pos):
                depth, pos = depth + 1, pos + 1
                continue
            name = _NAME.match(text, pos)
            if name is None:
                raise ValueError(f"expected an attribute name at offset {pos}")
            pos = skip(name.end())
            if not text.startswith("=?=", pos):
                raise ValueError(f"expected =?= at offset {pos}")
            pos = skip(pos + 3)
            if not text.startswith('"', pos):
                raise ValueError(f"expected a string literal at offset {pos}")
            value, pos = _old_string(text, pos + 1)
            terms.append((name.group(), value))
            expect_term = False
        elif text.startswith(")", pos) and depth > 0:
            depth, pos = depth - 1, pos + 1
        elif text.startswith("||", pos):
            pos, expect_term = pos + 2, True
        elif pos == len(text) and depth == 0:
            return terms
        else:
            raise ValueError(f"unexpected text at offset {pos}")


def _af_value(value: Any) -> str:
    """A value as ``-af`` prints it: strings unquoted, booleans lower-case, absent undefined."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith("/Expr(") and value.endswith(")/"):
        return value[6:-2]
    return str(value)


_WITH_VALUE = {"-attributes", "-name", "-pool", "-constraint"}


def condor_q(pool: Pool, args: list[str]) -> int:
    """``condor_q [-json -attributes A,B | -constraint EXPR | -af A B ...] [C | C.P ...]``: the
    queue's matching jobs.

    Reproduces the manual's restrictions (OR'ed cluster and cluster.proc ids; none: all jobs),
    ANDed with ``-constraint``; the ``-attributes`` projection, the ClassAd JSON layout and the
    empty output for no match; ``-af`` lines; an unreachable schedd prints ``-- Failed to fetch
    ads from: ...`` and exits 1.
    """
    if pool.fail("condor_q"):
        sys.stderr.write(pool.unreachable("condor_q"))
        return 1
    restrictions: list[str] = []
    options: dict[str, str] = {}
    autoformat: list[str] | None = None
    separator = " "
    collecting = False
    words = iter(args)
    for arg in words:
        if arg in _WITH_VALUE:
            options[arg] = next(words, "")
            collecting = False
        elif arg.split(":")[0] in ("-af", "-autoformat"):
            autoformat, collecting = [], True
            separator = "\t" if "t" in arg.partition(":")[2] else " "
        elif arg.startswith("-"):
            options[arg] = ""
            collecting = False
        elif collecting and autoformat is not None:
            autoformat.append(arg)  # as condor_q does: every word after -af is an attribute
        else:
            restrictions.append(arg)
    terms: list[tuple[str, str]] | None = None
    if "-constraint" in options:
        try:
            terms = _disjunction(options["-constraint"])
        except ValueError as exc:
            sys.stderr.write(f"Error: this fake cannot evaluate the constraint ({exc})\n")
            return 1
    ads = [
        ad
        for ad in pool.queued()
        if (
            not restrictions
            or str(ad["ClusterId"]) in restrictions
            or f"{ad['ClusterId']}.{ad['ProcId']}" in restrictions
        )
        and (terms is None or any(_lookup(ad, name) == value for name, value in terms))
    ]
    if autoformat is not None:
        for ad in ads:
            line = separator.join(_af_value(_lookup(ad, name)) for name in autoformat)
            sys.stdout.write(line + "\n")
        return 0
    if "-json" not in options:
        sys.stderr.write("this fake prints -json and -af only\n")
        return 1
    _print_ads(ads, options.get("-attributes"))
    return 0


_TERM = re.compile(r"\(?ClusterId == (\d+)(?: && member\(ProcId, \{([\d, ]*)\}\))?\)?")


def condor_history(pool: Pool, args: list[str]) -> int:
    """``condor_history -json -attributes A,B -match N -constraint EXPR``: finished jobs.

    Reproduces the newest-first order, ``-match`` as a limit and the ClassAd JSON layout; with
    no history (``config.history`` false, like an undefined ``HISTORY``) it fails.
    """
    if not pool.config.get("history", True):
        sys.stderr.write("Error: No history file is defined\n")
        return 1
    constraint = _option(args, "-constraint") or ""
    wanted: dict[int, set[int] | None] = {}
    for term in constraint.split(" || "):
        match = _TERM.fullmatch(term.strip())
        if match is None:
            sys.stderr.write(f"Error: this fake cannot evaluate constraint term {term!r}\n")
            return 1
        procs = match.group(2)
        wanted[int(match.group(1))] = (
            None if procs is None else {int(p) for p in procs.split(",") if p.strip()}
        )
    ads = []
    for ad in pool.history():
        procs = wanted.get(ad["ClusterId"], set())
        if procs is None or ad["ProcId"] in procs:
            ads.append(ad)
    limit = _option(args, "-match") or _option(args, "-limit")
    shown = ads[: int(limit)] if limit else ads
    _print_ads(shown, _option(args, "-attributes"), empty="[\n]\n")
    return 0


# --- condor_rm and holds -------------------------------------------------------------------


def _remove(pool: Pool, ad: Ad, user: str) -> None:
    """Mark one queued job removed; one without a running process leaves the queue now. A held
    job's ``HoldReason*`` attributes become ``LastHoldReason*``."""
    if ad["JobStatus"] == 5:
        for name in ("HoldReason", "HoldReasonCode", "HoldReasonSubCode"):
            if name in ad:
                ad[f"Last{name}"] = ad.pop(name)
    ad.update(
        LastJobStatus=ad["JobStatus"],
        JobStatus=3,
        RemoveReason=f"via condor_rm (by user {user})",
        EnteredCurrentStatus=int(time.time()),
    )
    if "FakeStarterPid" in ad:
        pool.write(ad)  # the starter stops the job and moves it to the history
    else:
        pool.leave_queue(ad)


def condor_rm(pool: Pool, args: list[str]) -> int:
    """``condor_rm C.P | C | -all``: mark jobs removed (``RemoveReason = "via condor_rm (by
    user U)"``); running ones are stopped by their starter.

    Reproduces condor_rm's messages (``Job C.P marked for removal``, ``All jobs in cluster C
    have been marked for removal``; on stderr, after an empty line, ``Job C.P not found``,
    ``Couldn't find/remove all jobs in cluster C``) and exit status 1 when any id was not found.
    """
    if pool.fail("condor_rm"):
        sys.stderr.write(pool.unreachable("condor_rm"))
        return 1
    user = str(pool.config.get("user", "tester"))
    status = 0
    errors: list[str] = []
    with pool.locked():
        queued = [ad for ad in pool.queued() if ad["JobStatus"] != 3]
        empty = not pool.queued()
        if "-all" in args:
            for ad in queued:
                _remove(pool, ad, user)
            sys.stdout.write(f"All jobs of user {user} have been marked for removal\n")
            return 0
        for token in _operands(args, {"-name", "-pool"}):
            if "." in token:
                matching = [ad for ad in queued if f"{ad['ClusterId']}.{ad['ProcId']}" == token]
            else:
                matching = [ad for ad in queued if str(ad["ClusterId"]) == token]
            for ad in matching:
                _remove(pool, ad, user)
            if "." in token:
                if matching:
                    sys.stdout.write(f"Job {token} marked for removal\n")
                else:
                    errors.append(f"Job {token} not found")
                    status = 1
            elif matching:
                sys.stdout.write(f"All jobs in cluster {token} have been marked for removal\n")
            else:
                errors.append(f"Couldn't find/remove all jobs in cluster {token}")
                status = 1
            queued = [ad for ad in queued if ad not in matching]
    if errors and empty:
        errors.insert(1, "condor_rm:0:There are no jobs in the queue")  # as 23.9.6 says
    if errors:
        sys.stderr.write("\n" + "\n".join(errors) + "\n")
    return status


def fake_hold(pool: Pool, args: list[str]) -> int:
    """Test-only: hold a job as a daemon would (``fake-hold C.P CODE SUBCODE REASON``)."""
    job, code, subcode, reason = args
    with pool.locked():
        ad = pool.read(job)
        pid = ad.get("FakeStarterPid") if ad else None
    if isinstance(pid, int):
        groups = _job_groups(pid)  # before the starter goes and its job is reparented
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        for process_group in groups:
            _stop(process_group, soft=False)
    _hold(pool, job, int(code), int(subcode), reason, 0)
    return 0


def _job_groups(starter: int) -> list[int]:
    """Process groups of the children of `starter` (the job it ran)."""
    groups = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = (entry / "stat").read_text()
            fields = text[text.rfind(")") + 2 :].split()
            if int(fields[1]) == starter:
                groups.add(int(fields[2]))
    return sorted(groups)


COMMANDS = {
    "condor_submit": condor_submit,
    "condor_q": condor_q,
    "condor_history": condor_history,
    "condor_rm": condor_rm,
    "fake-hold": fake_hold,
}


def main(argv: list[str]) -> int:
    """Dispatch on the command name (argv[1] for the starter, else the program's name)."""
    state = os.environ.get("FAKE_CONDOR_STATE")
    if not state:
        sys.stderr.write("FAKE_CONDOR_STATE is not set\n")
        return 2
    pool = Pool(Path(state))
    if len(argv) > 2 and argv[1] == "fake-starter":
        return fake_starter(pool, argv[2])
    name = Path(argv[0]).name
    if name not in COMMANDS:
        name, argv = argv[1], argv[1:]
    return COMMANDS[name](pool, argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
