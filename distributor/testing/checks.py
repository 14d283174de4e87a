"""The live checks of the conformance kit, as plain functions (no pytest, no hypothesis).

Each check takes a `ConformanceTarget` and raises ``AssertionError`` with a sentence saying what
the plugin got wrong. `run_live_checks` runs them all and reports each outcome; the pytest suite
in `distributor.testing.conformance` and ``distributor check`` both use them.

What they certify, beyond "a command runs": each array step sees its own index and gets its own
exit info; arrays longer than the plugin's chunk size; a memory or runtime limit the queue
accepted is enforced (``Z``) or refused by the queue's validation — never ignored; a new
distributor on the same state answers for ids an earlier one issued (adoption); hostile names
and commands run literally; ``find_by_name``, ``get_running`` and the task's logs and usage
where the plugin claims them.

Tasks coordinate with the checks through files in `ConformanceTarget.scratch`, which must be
visible at the same path to the tasks (a shared filesystem on a real cluster); for a cluster
behind SSH, `ConformanceTarget.files` reaches that filesystem (and the task logs) remotely.
Every check terminates whatever it submitted that is still queued or running when it ends,
pass or fail.
Waiting is polling a condition with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import shlex
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from distributor.exceptions import (
    DistributorError,
    RemoteExitInfoNotAvailable,
    UnknownDistributorIdError,
)
from distributor.exit_info import RemoteExitInfo, TaskInstanceStatus, normalize_exit_info
from distributor.plugin import Plugin
from distributor.protocols import (
    ClusterDistributor,
    ClusterQueue,
    ClusterWorkerNode,
    SupportsLookupByName,
    SupportsRunningQuery,
    SupportsTaskOutcome,
)
from distributor.registry import check_plugin
from distributor.testing.hostile import HOSTILE_IDS, HOSTILE_NAMES, hostile_name, literal_command

__all__ = [
    "LIVE_CHECKS",
    "CheckResult",
    "ConformanceTarget",
    "run_live_checks",
    "wait_for_exit_info",
    "wait_for_file",
    "wait_until_gone",
    "wait_until_running",
]


@dataclass
class ConformanceTarget:
    """What the kit needs to exercise a plugin.

    Attributes:
        plugin: the plugin under test.
        make_distributor: builds a fresh distributor on the same state each time it is
            called (the kit calls ``start``/``stop``; two calls must give distributors that
            answer for each other's ids, as after a restart).
        make_queue: builds a queue that `resources` fits.
        resources: a modest request every check submits with (``{}`` if the queue needs none).
        timeout: seconds to wait for any one task to finish (a real scheduler is slower).
        poll_interval: seconds between two polls while waiting.
        scratch: a directory the tasks can write to at the same path (default: a new
            temporary directory, which is enough on a single host).
        chunk_size: how many tasks the distributor puts in one scheduler array, if it splits
            arrays (default: its ``array_chunk_size()`` if it has one); the kit submits an
            array of twice that plus one.
        limit_timeout: seconds to wait for a runtime limit to be enforced (schedulers check
            limits periodically: Slurm about every 30 s after a minimum of one minute).
        limit_hold: seconds the memory check's task holds its memory before exiting 0 (long
            enough for a scheduler that samples memory to notice).
        files: the filesystem of `scratch` and of the task logs when it is not this
            machine's (`distributor.batch.Files` of a remote transport); None: this one.
        python: the Python interpreter the tasks can run (default: this process's).
    """

    plugin: Plugin
    make_distributor: Callable[[], ClusterDistributor]
    make_queue: Callable[[], ClusterQueue]
    resources: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 120.0
    poll_interval: float = 0.1
    scratch: Path | None = None
    chunk_size: int | None = None
    limit_timeout: float = 300.0
    limit_hold: float = 60.0
    files: KitFiles | None = None
    python: str = sys.executable

    def scratch_dir(self) -> Path:
        """`scratch`, created on first use."""
        if self.scratch is None:
            if self.files is not None:
                raise ValueError("ConformanceTarget.files needs an explicit scratch path")
            self.scratch = Path(tempfile.mkdtemp(prefix="distributor-kit-"))
        if self.files is not None:
            self.files.mkdir(self.scratch, parents=True, exist_ok=True)
        else:
            self.scratch.mkdir(parents=True, exist_ok=True)
        return self.scratch

    def read_text(self, path: Path) -> str:
        """The text of `path` where the tasks write (`FileNotFoundError` if absent)."""
        if self.files is None:
            return path.read_text()
        return self.files.read(path).decode("utf-8", "replace")

    def exists(self, path: Path) -> bool:
        """Whether `path` exists where the tasks write."""
        return path.exists() if self.files is None else self.files.stat(path) is not None

    def touch(self, path: Path) -> None:
        """Create `path` where the tasks look."""
        if self.files is None:
            path.touch()
        else:
            self.files.touch(path)

    def mkdir(self, path: Path) -> None:
        """Create directory `path` where the tasks write."""
        if self.files is None:
            path.mkdir()
        else:
            self.files.mkdir(path)

    def listdir(self, path: Path) -> set[str]:
        """The names in directory `path` where the tasks write."""
        if self.files is None:
            return {entry.name for entry in path.iterdir()}
        return set(self.files.listdir(path))


class KitFiles(Protocol):
    """The file operations the kit needs on a remote filesystem (a subset of
    `distributor.batch.Files`, which satisfies it)."""

    def read(self, path: Path, offset: int = 0, size: int | None = None) -> bytes:
        """Bytes of a file."""
        ...

    def stat(self, path: Path) -> object | None:
        """None if `path` does not exist."""
        ...

    def touch(self, path: Path) -> None:
        """Create an empty file."""
        ...

    def mkdir(self, path: Path, *, parents: bool = False, exist_ok: bool = False) -> None:
        """Create a directory."""
        ...

    def listdir(self, path: Path) -> Mapping[str, object]:
        """Entries of a directory by name."""
        ...


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome; `error` is empty when it passed."""

    name: str
    passed: bool
    seconds: float
    error: str = ""


class _Session:
    """A started distributor that remembers what it submitted (see `started`)."""

    def __init__(self, target: ConformanceTarget, distributor: ClusterDistributor) -> None:
        self.target = target
        self.distributor = distributor
        self.ids: list[str] = []

    def submit(self, command: str, name: str, **resources: Any) -> str:
        did = self.distributor.submit_to_batch_distributor(
            command, name, {**self.target.resources, **resources}
        )
        assert isinstance(did, str) and did, f"submit returned {did!r}, not a non-empty str"
        self.ids.append(did)
        return did

    def array(self, command: str, name: str, length: int, **resources: Any) -> dict[int, str]:
        steps = self.distributor.submit_array_to_batch_distributor(
            command, name, {**self.target.resources, **resources}, length
        )
        self.ids.extend(steps.values())
        return steps

    def final(self, distributor_id: str, timeout: float | None = None) -> RemoteExitInfo:
        return wait_for_exit_info(
            self.distributor,
            distributor_id,
            self.target.timeout if timeout is None else timeout,
            self.target.poll_interval,
        )


@contextmanager
def started(target: ConformanceTarget) -> Iterator[_Session]:
    """A started distributor; on the way out, whatever it submitted that is still queued or
    running is terminated (a failing check leaves no job behind), then it is stopped."""
    distributor = target.make_distributor()
    distributor.start()
    session = _Session(target, distributor)
    try:
        yield session
    finally:
        try:
            with suppress(Exception):
                left = distributor.get_submitted_or_running(session.ids)
                if left:
                    distributor.terminate_task_instances(sorted(left))
        finally:
            distributor.stop()


def wait_for_exit_info(
    distributor: ClusterDistributor, distributor_id: str, timeout: float, interval: float = 0.1
) -> RemoteExitInfo:
    """Poll until `distributor_id` has finalized exit info; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = "never answered"
    while time.monotonic() < deadline:
        try:
            info = normalize_exit_info(distributor.get_remote_exit_info(distributor_id))
        except RemoteExitInfoNotAvailable as exc:
            last = str(exc)
        else:
            if info.finalized:
                return info
            last = f"non-final {info}"
        time.sleep(interval)
    raise AssertionError(f"no final exit info for {distributor_id!r} after {timeout}s ({last})")


def wait_until_gone(
    distributor: ClusterDistributor, ids: list[str], timeout: float, interval: float = 0.1
) -> None:
    """Poll until none of `ids` is reported submitted or running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not distributor.get_submitted_or_running(ids):
            return
        time.sleep(interval)
    left = sorted(distributor.get_submitted_or_running(ids))
    raise AssertionError(f"still submitted or running after {timeout}s: {left}")


def wait_until_running(
    distributor: SupportsRunningQuery, ids: list[str], timeout: float, interval: float = 0.1
) -> None:
    """Poll until every one of `ids` is reported running (`SupportsRunningQuery`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if distributor.get_running(ids) >= set(ids):
            return
        time.sleep(interval)
    left = sorted(set(ids) - distributor.get_running(ids))
    raise AssertionError(f"not running after {timeout}s: {left}")


def wait_for_file(
    path: Path, timeout: float, interval: float = 0.05, *, files: KitFiles | None = None
) -> str:
    """Poll until `path` exists and is not empty (on `files`, default here); return its text."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(FileNotFoundError):
            text = (
                path.read_text() if files is None else files.read(path).decode("utf-8", "replace")
            )
            if text:
                return text
        time.sleep(interval)
    raise AssertionError(f"{path} was not written within {timeout}s")


def _marker() -> str:
    return f"conformance-{uuid.uuid4().hex[:8]}"


def _q(path: Path) -> str:
    return shlex.quote(str(path))


# --- shape ---------------------------------------------------------------------------------


def check_plugin_shape(target: ConformanceTarget) -> None:
    """The plugin object and the objects its factories build have every contract member."""
    check_plugin(target.plugin)
    queue = target.make_queue()
    assert isinstance(queue, ClusterQueue), "queue lacks ClusterQueue members"
    distributor = target.make_distributor()
    assert isinstance(distributor, ClusterDistributor), (
        "distributor lacks ClusterDistributor members"
    )
    worker = target.plugin.worker_node()
    assert isinstance(worker, ClusterWorkerNode), "worker node lacks ClusterWorkerNode members"
    assert isinstance(queue.queue_name, str)
    assert isinstance(queue.queue_id, int)
    assert isinstance(queue.required_resources, list)


def check_worker_node_command(target: ConformanceTarget) -> None:
    """build_worker_node_command returns a shell-parsable invocation of the entry point."""
    distributor = target.make_distributor()
    command = distributor.build_worker_node_command(task_instance_id=7, array_id=3, batch_number=1)
    argv = shlex.split(command)
    assert argv, "build_worker_node_command returned an empty command"
    assert argv[0] == distributor.worker_node_entry_point, (
        f"command {command!r} does not start with worker_node_entry_point "
        f"{distributor.worker_node_entry_point!r}"
    )
    assert "7" in argv, f"task_instance_id 7 missing from {command!r}"


# --- exits -------------------------------------------------------------------------------


def check_submit_done(target: ConformanceTarget) -> None:
    """A command exiting 0 ends with exit info D."""
    with started(target) as session:
        info = session.final(session.submit("true", _marker()))
        assert info.error_state == TaskInstanceStatus.DONE, f"exit 0 reported as {info}"


def check_submit_exit_3(target: ConformanceTarget) -> None:
    """A command exiting 3 ends with exit info E whose message carries the code."""
    with started(target) as session:
        info = session.final(session.submit("exit 3", _marker()))
        assert info.error_state == TaskInstanceStatus.ERROR, f"exit 3 reported as {info}"
        assert "3" in info.error_message, f"exit code missing from message {info.error_message!r}"


# --- arrays ------------------------------------------------------------------------------


def _step_command(directory: Path) -> str:
    """Each step writes its own id into a file named after its own index, then exits with
    its index as its status (step 0 succeeds, step s fails with status s, up to 9)."""
    out = _q(directory)
    return (
        f'printf %s "$DISTRIBUTOR_ID" > {out}/step-"$DISTRIBUTOR_ARRAY_STEP_ID"; '
        "exit $(( DISTRIBUTOR_ARRAY_STEP_ID % 10 ))"
    )


def _check_steps(session: _Session, steps: dict[int, str], directory: Path, length: int) -> None:
    assert sorted(steps) == list(range(length)), (
        f"array steps {sorted(steps)[:20]} are not 0..{length - 1}"
    )
    assert len(set(steps.values())) == length, f"array ids are not unique: {steps}"
    for step, did in sorted(steps.items()):
        info = session.final(did)
        code = step % 10
        if code == 0:
            assert info.error_state == TaskInstanceStatus.DONE, (
                f"step {step} ({did}) exited 0 but is reported {info}"
            )
        else:
            assert info.error_state == TaskInstanceStatus.ERROR and str(code) in (
                info.error_message
            ), f"step {step} ({did}) exited {code} but is reported {info}: not its own exit info"
    written = session.target.listdir(directory)
    missing = sorted(s for s in range(length) if f"step-{s}" not in written)
    assert not missing, (
        f"steps {missing[:20]} never saw their own DISTRIBUTOR_ARRAY_STEP_ID "
        f"(files written: {sorted(written)[:20]})"
    )
    for step, did in steps.items():
        seen = session.target.read_text(directory / f"step-{step}")
        assert seen == did, f"step {step} saw DISTRIBUTOR_ID {seen!r}, but its id is {did!r}"


def check_array(target: ConformanceTarget) -> None:
    """An array of 3: steps 0..2 with unique ids; each step sees its own index and id, and
    gets its own exit info (step s exits with status s)."""
    directory = target.scratch_dir() / _marker()
    target.mkdir(directory)
    with started(target) as session:
        steps = session.array(_step_command(directory), _marker(), 3)
        _check_steps(session, steps, directory, 3)


def check_array_beyond_chunk(target: ConformanceTarget) -> None:
    """An array longer than the distributor's array chunk (twice it plus one steps): every
    step runs once with its own index, id and exit info."""
    distributor = target.make_distributor()
    chunk = target.chunk_size
    if chunk is None:
        size = getattr(distributor, "array_chunk_size", None)
        chunk = int(size()) if callable(size) else 2
    length = 2 * chunk + 1
    assert length <= 100, (
        f"chunk size {chunk} makes an array of {length}: give ConformanceTarget.chunk_size "
        "and build distributors with a small max_array_size"
    )
    directory = target.scratch_dir() / _marker()
    target.mkdir(directory)
    with started(target) as session:
        steps = session.array(_step_command(directory), _marker(), length)
        _check_steps(session, steps, directory, length)


# --- tracking ----------------------------------------------------------------------------


def check_submitted_or_running(target: ConformanceTarget) -> None:
    """A task is reported submitted/running while it runs, and not any more once it ended."""
    go = target.scratch_dir() / _marker()
    with started(target) as session:
        did = session.submit(f"while [ ! -e {_q(go)} ]; do sleep 0.1; done", _marker())
        distributor = session.distributor
        assert did in distributor.get_submitted_or_running([did]), "fresh task not reported"
        assert did in distributor.get_submitted_or_running(), "ids=None does not include task"
        target.touch(go)
        wait_until_gone(distributor, [did], target.timeout, target.poll_interval)
        info = session.final(did)
        assert info.error_state == TaskInstanceStatus.DONE, f"finished task: {info}"


def check_running(target: ConformanceTarget) -> None:
    """`get_running` (where claimed) reports a task that runs, not one that waits or ended."""
    with started(target) as session:
        distributor = session.distributor
        if not isinstance(distributor, SupportsRunningQuery):
            return
        began = target.scratch_dir() / _marker()
        go = target.scratch_dir() / _marker()
        did = session.submit(
            f"touch {_q(began)}; while [ ! -e {_q(go)} ]; do sleep 0.1; done", _marker()
        )
        wait_for_file_exists(began, target.timeout, files=target.files)
        wait_until_running(distributor, [did], target.timeout, target.poll_interval)
        target.touch(go)
        session.final(did)
        assert did not in distributor.get_running([did]), "an ended task is reported running"


def wait_for_file_exists(
    path: Path, timeout: float, interval: float = 0.05, *, files: KitFiles | None = None
) -> None:
    """Poll until `path` exists (on `files`, default here)."""
    deadline = time.monotonic() + timeout
    while not (path.exists() if files is None else files.stat(path) is not None):
        assert time.monotonic() < deadline, f"{path} was not created within {timeout}s"
        time.sleep(interval)


def check_terminate(target: ConformanceTarget) -> None:
    """A terminated running task leaves the queue and ends with exit info K; terminating it
    again is ignored."""
    began = target.scratch_dir() / _marker()
    with started(target) as session:
        did = session.submit(f"touch {_q(began)}; sleep 300", _marker())
        wait_for_file_exists(began, target.timeout, files=target.files)
        session.distributor.terminate_task_instances([did])
        wait_until_gone(session.distributor, [did], target.timeout, target.poll_interval)
        info = session.final(did)
        assert info.error_state == TaskInstanceStatus.KILLED_SELF, f"terminated task: {info}"
        session.distributor.terminate_task_instances([did])  # finished ids are ignored


def check_unknown_id(target: ConformanceTarget) -> None:
    """Unknown ids are not running, and asking their exit info raises a distributor error."""
    with started(target) as session:
        distributor = session.distributor
        for bogus in ("424242424", *HOSTILE_IDS):
            assert bogus not in distributor.get_submitted_or_running([bogus])
            try:
                distributor.get_remote_exit_info(bogus)
            except (UnknownDistributorIdError, RemoteExitInfoNotAvailable):
                continue
            except DistributorError as exc:  # another precise error is acceptable
                assert bogus in str(exc), f"error for unknown id does not name it: {exc}"
                continue
            raise AssertionError(f"get_remote_exit_info({bogus!r}) returned instead of raising")


def check_adoption(target: ConformanceTarget) -> None:
    """A new distributor on the same state answers for ids the first one issued: one still
    running (then finishing D) and one already ended (with its exit info)."""
    go = target.scratch_dir() / _marker()
    with started(target) as first:
        ended = first.submit("exit 4", _marker())
        running = first.submit(f"while [ ! -e {_q(go)} ]; do sleep 0.1; done", _marker())
        before = first.final(ended)
        with started(target) as second:
            second.ids.append(running)  # cleaned up by this session if the check fails
            assert running in second.distributor.get_submitted_or_running([running]), (
                "a new distributor on the same state does not know a running task"
            )
            after = normalize_exit_info(second.distributor.get_remote_exit_info(ended))
            assert (after.error_state, after.finalized) == (before.error_state, True), (
                f"the new distributor says {after} about a task the first saw end {before}"
            )
            target.touch(go)
            info = second.final(running)
            assert info.error_state == TaskInstanceStatus.DONE, f"adopted task: {info}"


def check_find_by_name(target: ConformanceTarget) -> None:
    """`find_by_name` (where claimed) finds every submission under its name, by step, also
    from a new distributor, and says nothing about a name never used."""
    with started(target) as session:
        if not isinstance(session.distributor, SupportsLookupByName):
            return
        single_name, array_name, never = (f"kit_{uuid.uuid4().hex[:10]}" for _ in range(3))
        single = session.submit("true", single_name)
        steps = session.array("true", array_name, 3)
        expected = {single_name: {0: single}, array_name: steps}
        found = session.distributor.find_by_name([single_name, array_name, never])
        assert found == expected, f"find_by_name found {found}, expected {expected}"
        with started(target) as second:
            assert isinstance(second.distributor, SupportsLookupByName)
            again = second.distributor.find_by_name([single_name, array_name, never])
            assert again == expected, f"a new distributor found {again}, expected {expected}"
        for did in [single, *steps.values()]:
            session.final(did)


def check_hostile_input(target: ConformanceTarget) -> None:
    """Names made of shell syntax and other schedulers' directives are only labels (every one
    of `HOSTILE_NAMES` is accepted and runs), and a command with quotes, newlines and
    ``$(...)`` runs exactly as written."""
    scratch = target.scratch_dir()
    pwned = scratch / f"pwned-{uuid.uuid4().hex[:8]}"
    out = scratch / _marker()
    command, expected = literal_command(out, pwned)
    name = hostile_name(pwned)
    with started(target) as session:
        info = session.final(session.submit(command, name))
        assert info.error_state == TaskInstanceStatus.DONE, f"hostile command: {info}"
        written = target.read_text(out)
        assert written == expected, (
            f"the command did not run literally: wrote {written!r}, not {expected!r}"
        )
        labelled = [session.submit("true", label) for label in HOSTILE_NAMES]
        labelled += session.array(f"true {shlex.quote(name)}", name, 2).values()
        for did in labelled:
            info = session.final(did)
            assert info.error_state == TaskInstanceStatus.DONE, f"hostile name ({did}): {info}"
    assert not target.exists(pwned), "a task name or command was executed as shell"


def check_task_outcome(target: ConformanceTarget) -> None:
    """Where claimed (`SupportsTaskOutcome`): a task's log holds its output, and its usage
    gives the numeric exit code, times, elapsed seconds and host; array steps have their own
    logs."""
    with started(target) as session:
        distributor = session.distributor
        if not isinstance(distributor, SupportsTaskOutcome):
            return
        did = session.submit("echo hello; echo oops >&2; exit 3", _marker())
        session.final(did)
        usage = distributor.task_usage(did)
        assert usage is not None, "task_usage of a finished task is None"
        assert usage.exit_code == 3 and usage.signal is None, f"exit 3 gave {usage}"
        assert usage.elapsed is not None and usage.elapsed >= 0, f"no elapsed time: {usage}"
        assert usage.started_at is not None and usage.ended_at is not None, usage
        assert usage.started_at <= usage.ended_at, f"ended before it started: {usage}"
        assert usage.host, f"no host: {usage}"
        stdout, stderr = distributor.log_paths(did)
        out = wait_for_file(stdout, target.timeout, files=target.files)
        assert "hello" in out, f"{stdout} holds {out!r}, not the task's output"
        err = (
            wait_for_file(stderr, target.timeout, files=target.files) if stderr is not None else out
        )
        assert "oops" in err, f"the task's stderr is in neither {stdout} nor {stderr}"
        steps = session.array('echo "step $DISTRIBUTOR_ARRAY_STEP_ID"', _marker(), 2)
        for step, step_id in steps.items():
            session.final(step_id)
            text = wait_for_file(
                distributor.log_paths(step_id)[0], target.timeout, files=target.files
            )
            assert f"step {step}" in text, f"the log of step {step} holds {text!r}"


# --- limits ------------------------------------------------------------------------------


def _refused(queue: ClusterQueue, request: Mapping[str, Any]) -> bool:
    valid, _ = queue.validate_resources(strict=True, **request)
    return not valid


def check_memory_limit(target: ConformanceTarget) -> None:
    """A task going far over a memory request the queue accepts is ended ``Z`` — or the
    queue refuses such a request at validation. Never ignored."""
    request = {**target.resources, "memory": "100M"}
    if _refused(target.make_queue(), request):
        return
    code = f"import time; x = bytearray(400 * 2**20); time.sleep({target.limit_hold:g})"
    hog = f"{shlex.quote(target.python)} -c {shlex.quote(code)}"
    with started(target) as session:
        did = session.submit(hog, _marker(), memory="100M")
        info = session.final(did, timeout=target.timeout + target.limit_hold)
        assert info.error_state == TaskInstanceStatus.RESOURCE_ERROR, (
            f"a task using 400 MiB under a 100 MiB request that the queue accepted ended "
            f"{info}: the memory limit was ignored"
        )


def check_runtime_limit(target: ConformanceTarget) -> None:
    """A task running past a runtime request the queue accepts is ended ``Z`` — or the queue
    refuses such a request at validation. Never ignored."""
    request = {**target.resources, "runtime": 5}
    if _refused(target.make_queue(), request):
        return
    with started(target) as session:
        did = session.submit("sleep 900", _marker(), runtime=5)
        info = session.final(did, timeout=target.limit_timeout)
        assert info.error_state == TaskInstanceStatus.RESOURCE_ERROR, (
            f"a task running past its 5 s runtime request ended {info}: the limit was ignored"
        )


LIVE_CHECKS: tuple[tuple[str, Callable[[ConformanceTarget], None]], ...] = (
    ("plugin shape", check_plugin_shape),
    ("worker node command", check_worker_node_command),
    ("exit 0 → D", check_submit_done),
    ("exit 3 → E", check_submit_exit_3),
    ("array steps: own index, id and exit info", check_array),
    ("array longer than the chunk size", check_array_beyond_chunk),
    ("submitted or running", check_submitted_or_running),
    ("get_running (if claimed)", check_running),
    ("terminate → K", check_terminate),
    ("unknown id", check_unknown_id),
    ("adoption by a new distributor", check_adoption),
    ("find_by_name (if claimed)", check_find_by_name),
    ("hostile name and command", check_hostile_input),
    ("task outcome: logs and usage (if claimed)", check_task_outcome),
    ("memory limit enforced or refused", check_memory_limit),
    ("runtime limit enforced or refused", check_runtime_limit),
)
"""Every live check, with a short name for reports."""


def run_live_checks(target: ConformanceTarget) -> list[CheckResult]:
    """Run every live check; an exception in one is recorded and the next one still runs."""
    results: list[CheckResult] = []
    for name, check in LIVE_CHECKS:
        began = time.monotonic()
        try:
            check(target)
        except Exception as exc:  # report, don't stop: this is a diagnostic run
            error = f"{type(exc).__name__}: {exc}"
            results.append(CheckResult(name, False, time.monotonic() - began, error))
        else:
            results.append(CheckResult(name, True, time.monotonic() - began))
    return results
