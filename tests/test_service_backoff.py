"""Retries wait: a delay with exponential backoff, a cap and jitter, kept in the journal."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor.exit_info import TaskInstanceStatus
from distributor.service import (
    Cluster,
    ConfigError,
    Service,
    ServiceConfig,
    TaskSpec,
    TaskSpecError,
    TaskStatus,
)
from distributor.service.retry import RetrySchedule
from distributor.testing.faults import FakeLookupDistributor

S = TaskInstanceStatus

BASES = st.one_of(st.just(0.0), st.floats(1e-3, 3600.0))  # 0, or at least a millisecond
MULTIPLIERS = st.floats(1.0, 10.0, allow_nan=False)
CAPS = st.floats(0.001, 86400.0, allow_nan=False)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _service(path: Path, fake: FakeLookupDistributor, clock: Clock, **config: Any) -> Service:
    settings: dict[str, Any] = {"retry_delay": 10.0, "retry_jitter": 0.0}
    settings.update(config)
    return Service(path, Cluster(fake), config=ServiceConfig(**settings), clock=clock)


def _fail_the_running_job(svc: Service, fake: FakeLookupDistributor) -> None:
    svc.step()
    (distributor_id,) = fake.active_ids()
    fake.finish(distributor_id, S.ERROR, "exit 1")
    svc.step()


# -- the schedule ---------------------------------------------------------------------------


@given(base=BASES, multiplier=MULTIPLIERS, cap=CAPS, retries=st.integers(1, 120))
def test_delays_grow_by_the_multiplier_until_the_cap(
    base: float, multiplier: float, cap: float, retries: int
) -> None:
    """Without jitter: the first retry waits the base delay, each next one the multiplier times
    the last, never more than the cap (or the base, if that is longer), never less than before."""
    schedule = RetrySchedule(base, multiplier, cap)
    delays = [schedule.delay(n) for n in range(1, retries + 1)]
    assert delays[0] == base
    limit = max(cap, base) if base > 0 else 0.0
    for before, after in itertools.pairwise(delays):
        assert before <= after <= limit
        assert math.isclose(after, min(limit, before * multiplier), rel_tol=1e-9)


@given(
    base=BASES,
    multiplier=MULTIPLIERS,
    cap=CAPS,
    retry=st.integers(1, 1000),
    jitter=st.floats(0.0, 1.0),
    draw=st.floats(0.0, 1.0, exclude_max=True),
)
def test_jitter_only_shortens_a_delay_by_at_most_its_fraction(
    base: float, multiplier: float, cap: float, retry: int, jitter: float, draw: float
) -> None:
    """A jittered delay lies between (1 - jitter) times the plain one and the plain one."""
    plain = RetrySchedule(base, multiplier, cap).delay(retry)
    jittered = RetrySchedule(base, multiplier, cap, jitter).delay(retry, draw)
    assert plain * (1 - jitter) - 1e-9 <= jittered <= plain
    assert math.isfinite(jittered)


def test_a_zero_delay_retries_at_once() -> None:
    """A base of 0 means no waiting, whatever the multiplier."""
    assert RetrySchedule(0.0, 2.0, 600.0).delay(50) == 0.0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"retry_delay": -1}, "retry_delay"),
        ({"retry_backoff": 0.5}, "retry_backoff"),
        ({"retry_jitter": 2}, "retry_jitter"),
        ({"retry_delay_max": 0}, "retry_delay_max"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_bad_retry_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    """Retry settings out of range name themselves."""
    with pytest.raises(ConfigError, match=message):
        ServiceConfig(**settings)


@pytest.mark.parametrize(
    ("value", "seconds"), [(0, 0.0), ("0", 0.0), (2.5, 2.5), ("30s", 30.0), ("2m", 120.0)]
)
def test_a_task_retry_delay_is_seconds_or_a_duration(value: object, seconds: float) -> None:
    """retry_delay takes seconds or a duration string and is kept in seconds."""
    assert TaskSpec(name="t", command="x", retry_delay=value).retry_delay == seconds  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [-1, "soon", True, float("nan"), "9999h"])
def test_a_bad_retry_delay_is_refused(value: object) -> None:
    """A negative, non-finite, over-a-week or unparsable delay names the task and the key."""
    with pytest.raises(TaskSpecError, match="retry_delay"):
        TaskSpec(name="t", command="x", retry_delay=value)  # type: ignore[arg-type]


# -- in the service -------------------------------------------------------------------------


def test_a_failed_attempt_is_retried_only_after_its_delay(tmp_path: Path) -> None:
    """The retry waits in Q, unsubmitted, until the delay has passed; then it is submitted."""
    fake, clock = FakeLookupDistributor("fake"), Clock()
    with _service(tmp_path / "j.db", fake, clock) as svc:
        svc.add(TaskSpec(name="t", command="x", max_attempts=3))
        _fail_the_running_job(svc, fake)
        info = svc.task("t")
        assert (info.attempts, info.instance_status) == (2, S.QUEUED)
        assert info.next_attempt_at == clock.now + 10
        assert "in 10 s" in info.message
        clock.now += 9.9
        svc.step()
        assert fake.active_ids() == [], "submitted before its delay"
        clock.now += 0.1
        svc.step()
        assert len(fake.active_ids()) == 1
        assert svc.task("t").instance_status == S.LAUNCHED


def test_each_further_retry_waits_longer_up_to_the_cap(tmp_path: Path) -> None:
    """10 s, 20 s, 40 s, then the cap of 50 s: the waits recorded for successive retries."""
    fake, clock = FakeLookupDistributor("fake"), Clock()
    waits = []
    with _service(tmp_path / "j.db", fake, clock, retry_delay_max=50.0) as svc:
        svc.add(TaskSpec(name="t", command="x", max_attempts=5))
        for _ in range(4):
            _fail_the_running_job(svc, fake)
            due = svc.task("t").next_attempt_at
            assert due is not None
            waits.append(due - clock.now)
            clock.now = due
        assert waits == [10, 20, 40, 50]


def test_a_task_own_delay_wins_over_the_service_one(tmp_path: Path) -> None:
    """TaskSpec.retry_delay replaces ServiceConfig.retry_delay for that task; 0 is at once."""
    fake, clock = FakeLookupDistributor("fake"), Clock()
    with _service(tmp_path / "j.db", fake, clock) as svc:
        svc.add(TaskSpec(name="t", command="x", max_attempts=2, retry_delay=0))
        _fail_the_running_job(svc, fake)
        svc.step()
        assert len(fake.active_ids()) == 1, "a zero delay retries in the next cycle"
        assert svc.task("t").next_attempt_at is None


def test_the_service_max_attempts_fills_in_for_tasks_that_set_none(tmp_path: Path) -> None:
    """ServiceConfig.max_attempts applies to a TaskSpec without max_attempts, and is recorded
    with its definition: adding the same spec again is a no-op."""
    fake, clock = FakeLookupDistributor("fake"), Clock()
    with _service(tmp_path / "j.db", fake, clock, max_attempts=1) as svc:
        svc.add(TaskSpec(name="t", command="x"))
        assert svc.add(TaskSpec(name="t", command="x")) == []
        _fail_the_running_job(svc, fake)
        info = svc.task("t")
    assert (info.status, info.attempts, info.max_attempts) == (TaskStatus.FAILED, 1, 1)


def test_a_restarted_controller_neither_retries_early_nor_forgets(tmp_path: Path) -> None:
    """The moment a retry may go is in the journal: a new controller waits for it, then
    submits it."""
    fake, clock = FakeLookupDistributor("fake"), Clock()
    with _service(tmp_path / "j.db", fake, clock, retry_delay=30.0) as svc:
        svc.add(TaskSpec(name="t", command="x", max_attempts=2))
        _fail_the_running_job(svc, fake)
        due = svc.task("t").next_attempt_at
    assert due == clock.now + 30
    clock.now += 10
    with _service(tmp_path / "j.db", fake, clock, retry_delay=0.0) as svc:
        svc.step()
        assert fake.active_ids() == [], "a new controller must not retry early"
        clock.now = due
        svc.step()
        assert len(fake.active_ids()) == 1, "nor forget the retry"


def test_cancelling_a_waiting_retry_ends_the_task(tmp_path: Path) -> None:
    """A retry waiting out its delay is cancelled like any queued attempt and never submitted."""
    fake, clock = FakeLookupDistributor("fake"), Clock()
    with _service(tmp_path / "j.db", fake, clock) as svc:
        svc.add(TaskSpec(name="t", command="x", max_attempts=2))
        _fail_the_running_job(svc, fake)
        assert svc.cancel("t") == 1
        clock.now += 100
        svc.step()
        assert fake.active_ids() == []
        assert svc.task("t").status == TaskStatus.CANCELLED
