"""Resource parsing, units, limits and the validate/coerce helpers."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from distributor import (
    QueueLimits,
    ResourceError,
    coerce_request,
    format_bytes,
    format_seconds,
    parse_memory,
    parse_request,
    parse_runtime,
    validate_request,
)
from distributor.testing.strategies import memory_values, resource_requests, runtime_values

GIB = 1024**3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4G", 4 * GIB),
        ("4GB", 4 * GIB),
        ("4GiB", 4 * GIB),
        ("4gib", 4 * GIB),
        ("512M", 512 * 1024**2),
        ("1.5T", int(1.5 * 1024**4)),
        ("100K", 102400),
        ("2048B", 2048),
        (4, 4 * GIB),
        (0.5, GIB // 2),
        ("4", 4 * GIB),
        (" 8 G ", 8 * GIB),
    ],
)
def test_memory_units(text: object, expected: int) -> None:
    """Memory spellings normalise to bytes; suffixes are binary; bare numbers are GiB."""
    assert parse_memory(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (90, 90),
        ("90", 90),
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1:30:00", 5400),
        ("30:00", 1800),
        ("2-00:00:00", 172800),
        ("1-12", 129600),
        (1.2, 2),
    ],
)
def test_runtime_units(text: object, expected: int) -> None:
    """Runtime spellings normalise to whole seconds (rounded up)."""
    assert parse_runtime(text) == expected


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("memory", "-1G"),
        ("memory", 0),
        ("memory", float("nan")),
        ("memory", "lots"),
        ("memory", True),
        ("memory", [4]),
        ("memory", "1e30T"),
        ("runtime", -5),
        ("runtime", "soon"),
        ("runtime", float("inf")),
        ("runtime", "0s"),
        ("cores", 0),
        ("cores", 1.5),
        ("cores", "two"),
        ("gpus", -1),
        ("queue", " q"),
        ("queue", ""),
    ],
)
def test_bad_values_raise_naming_the_value(key: str, value: object) -> None:
    """Malformed, negative, NaN, zero-core values raise ResourceError naming key and value."""
    with pytest.raises(ResourceError) as caught:
        parse_request({key: value})
    assert caught.value.key == key
    assert key in str(caught.value)
    assert repr(value) in str(caught.value)


def test_unknown_key_suggests_close_match() -> None:
    """An unknown key is an error that lists known keys and suggests the closest."""
    with pytest.raises(ResourceError, match=r"did you mean 'memory'"):
        parse_request({"memroy": "4G"})


def test_declared_pass_through_is_shape_checked() -> None:
    """Declared namespaced keys pass through when their value has the declared shape."""
    declared = {"slurm.account": r"[A-Za-z0-9_.-]+"}
    assert parse_request({"slurm.account": "proj_1"}, declared).extra == {"slurm.account": "proj_1"}
    with pytest.raises(ResourceError, match=r"slurm.account"):
        parse_request({"slurm.account": "a; rm -rf /"}, declared)
    with pytest.raises(ResourceError, match=r"unknown resource key"):
        parse_request({"slurm.account": "x"})


LIMITS = QueueLimits(max_memory_bytes=512 * GIB, max_runtime_seconds=86400, max_cores=16)


def test_strict_validation_names_key_value_limit_and_unit() -> None:
    """Strict validation rejects an over-limit request with a precise message."""
    ok, message = validate_request({"memory": "900G"}, LIMITS, "all.q", strict=True)
    assert not ok
    assert message == "memory='900GiB' exceeds queue 'all.q' limit of 512 GiB"


def test_lenient_validation_accepts_and_says_what_clamps() -> None:
    """Non-strict validation accepts over-limit values and says they will be clamped."""
    ok, message = validate_request({"cores": 64}, LIMITS, "all.q")
    assert ok
    assert "cores=64" in message
    assert "16 cores" in message


def test_malformed_request_is_invalid_either_way() -> None:
    """A malformed request is invalid whether or not strict."""
    assert validate_request({"cores": 0}, LIMITS, "q")[0] is False


def test_coerce_clamps_and_logs_each_change() -> None:
    """Coercion clamps into limits and logs one structured warning per changed value."""
    with capture_logs() as logs:
        out = coerce_request({"memory": "1T", "runtime": "2d", "cores": 2}, LIMITS, "all.q")
    assert out == {"memory": "512GiB", "runtime": 86400, "cores": 2}
    changed = [
        (e["key"], e["requested"], e["coerced"]) for e in logs if e["event"] == "resource_coerced"
    ]
    assert changed == [("memory", 1024**4, 512 * GIB), ("runtime", 172800, 86400)]


def test_coerce_fills_defaults() -> None:
    """Missing values take the queue's defaults."""
    limits = QueueLimits(default_memory_bytes=GIB, default_runtime_seconds=600)
    assert coerce_request({}, limits, "q") == {"memory": "1GiB", "runtime": 600, "cores": 1}


@given(memory_values())
def test_memory_round_trips_through_format(value: object) -> None:
    """format_bytes renders exactly: parsing its output gives the same bytes."""
    amount = parse_memory(value)
    assert parse_memory(format_bytes(amount)) == amount


@given(st.integers(min_value=1, max_value=10**9))
def test_seconds_round_trip_through_clock_format(seconds: int) -> None:
    """format_seconds output parses back to the same number of seconds."""
    assert parse_runtime(format_seconds(seconds)) == seconds


@given(runtime_values())
def test_runtime_is_positive_whole_seconds(value: object) -> None:
    """Every accepted runtime is a positive int."""
    seconds = parse_runtime(value)
    assert isinstance(seconds, int)
    assert seconds >= 1


@given(st.floats(min_value=1e-3, max_value=1e6, allow_nan=False))
def test_float_gib_rounds_up_to_whole_bytes(gib: float) -> None:
    """A float number of GiB becomes the next whole byte."""
    assert parse_memory(gib) == math.ceil(gib * GIB)


@given(resource_requests())
def test_coerced_request_validates_strictly_and_is_stable(request: dict[str, object]) -> None:
    """coerce → strict-valid, and coercing again is a no-op."""
    coerced = coerce_request(request, LIMITS, "q")
    assert validate_request(coerced, LIMITS, "q", strict=True) == (True, "")
    assert coerce_request(coerced, LIMITS, "q") == coerced


@given(st.text(max_size=12))
def test_garbage_memory_never_escapes_as_another_error(text: str) -> None:
    """Arbitrary text either parses or raises ResourceError, never anything else."""
    with contextlib.suppress(ResourceError):
        assert parse_memory(text) > 0


@given(st.text(max_size=12))
def test_garbage_runtime_never_escapes_as_another_error(text: str) -> None:
    """Arbitrary text either parses or raises ResourceError, never anything else."""
    with contextlib.suppress(ResourceError):
        assert parse_runtime(text) > 0
