"""Typed resource requests: parsing, units, queue limits and the validate/coerce helpers.

Units (one rule everywhere, as HPC schedulers use them):

* ``memory`` → bytes. Suffixes ``K M G T P`` with optional ``B``/``iB`` are all **binary**
  (``4G`` = ``4GB`` = ``4GiB`` = 4·2³⁰ bytes, as in Slurm, Grid Engine and PBS); ``B`` is bytes.
  A bare number (``4``, ``1.5``, ``"4"``) means **GiB**, as in Jobmon.
* ``runtime`` → seconds. A bare number means seconds; ``90s``, ``15m``, ``2h``, ``1d``, and
  sequences such as ``1h30m``; clock forms ``MM:SS``, ``H:MM:SS`` and ``D-HH[:MM[:SS]]`` (Slurm).
* ``cores`` → a positive int; ``gpus`` → a non-negative int; ``queue`` → a non-empty name.

Plugins declare namespaced pass-through keys (``slurm.account``) with the shape their values
must have; any other key is an error. `validate_request` and `coerce_request` make a queue's
``validate_resources``/``coerce_resources`` a few lines.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from distributor.exceptions import ResourceError
from distributor.logs import get_logger

__all__ = [
    "KNOWN_RESOURCES",
    "QueueLimits",
    "ResourceRequest",
    "coerce_request",
    "format_bytes",
    "format_seconds",
    "parse_cores",
    "parse_gpus",
    "parse_memory",
    "parse_request",
    "parse_runtime",
    "validate_request",
]

log = get_logger(__name__)

KNOWN_RESOURCES: frozenset[str] = frozenset({"memory", "runtime", "cores", "gpus", "queue"})
"""Resource keys every plugin understands; plugins may declare namespaced extras."""

_GIB = 1024**3
_MEMORY_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": _GIB, "T": 1024**4, "P": 1024**5}
_MEMORY_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([KMGTP]?)(I?B)?\s*$", re.I)
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([smhdw])", re.I)
_CLOCK_RE = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")
_MAX_BYTES = 2**63 - 1
_MAX_SECONDS = 100 * 365 * 86400


def _finite_number(key: str, value: object) -> float | None:
    """Return value as a float if it is a real number (not bool), else None."""
    if isinstance(value, bool):
        raise ResourceError(key, value, "a boolean is not a quantity")
    if isinstance(value, int | float):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            raise ResourceError(key, value, "must be a finite number")
        return number
    return None


def parse_memory(value: object) -> int:
    """Parse a memory quantity into bytes.

    Args:
        value: a number of GiB, or a string such as ``"512M"``, ``"4GiB"``, ``"1.5T"``.

    Returns:
        Bytes, rounded up to a whole byte; at least 1.

    Raises:
        ResourceError: unparsable, negative, zero, non-finite or absurdly large values.
    """
    number = _finite_number("memory", value)
    if number is not None:
        amount = number * _GIB
    elif isinstance(value, str):
        match = _MEMORY_RE.match(value)
        if not match:
            raise ResourceError(
                "memory",
                value,
                "not a memory quantity; use e.g. 512M, 4G, 4GiB, 1.5T or a number of GiB",
            )
        digits, unit, suffix = match.groups()
        if not unit and not suffix:
            unit = "G"  # a bare number in a string is GiB too
        amount = float(digits) * _MEMORY_UNITS[unit.upper()]
    else:
        raise ResourceError(
            "memory", value, f"expected a number or a string, not {type(value).__name__}"
        )
    if amount <= 0:
        raise ResourceError("memory", value, "must be greater than zero")
    if amount > _MAX_BYTES:
        raise ResourceError("memory", value, "is larger than any machine (over 8 EiB)")
    return math.ceil(amount)


def parse_runtime(value: object) -> int:
    """Parse a wall-clock duration into seconds.

    Args:
        value: seconds as a number, or a string such as ``"90s"``, ``"15m"``, ``"1h30m"``,
            ``"1:30:00"`` or ``"2-00:00:00"``.

    Returns:
        Whole seconds, rounded up; at least 1.

    Raises:
        ResourceError: unparsable, negative, zero, non-finite or over-a-century values.
    """
    number = _finite_number("runtime", value)
    if number is None:
        if not isinstance(value, str):
            raise ResourceError(
                "runtime", value, f"expected a number or a string, not {type(value).__name__}"
            )
        number = _parse_duration_text(value)
    if number <= 0:
        raise ResourceError("runtime", value, "must be greater than zero")
    if number > _MAX_SECONDS:
        raise ResourceError("runtime", value, "is longer than a century")
    return math.ceil(number)


def _parse_duration_text(value: str) -> float:
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(number):
            return number
        raise ResourceError("runtime", value, "must be a finite number")
    clock = _CLOCK_RE.match(text)
    if clock and (":" in text or "-" in text):
        days, first, second, third = clock.groups()
        fields = [int(part) for part in (first, second, third) if part is not None]
        if days is not None:
            # D-HH, D-HH:MM, D-HH:MM:SS
            hours, minutes, seconds = ([*fields, 0, 0])[:3]
            return int(days) * 86400 + hours * 3600 + minutes * 60 + seconds
        if len(fields) == 2:
            return fields[0] * 60 + fields[1]
        return fields[0] * 3600 + fields[1] * 60 + fields[2]
    compact = text.replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if parts and "".join(num + unit for num, unit in parts) == compact:
        return sum(float(num) * _DURATION_UNITS[unit.lower()] for num, unit in parts)
    raise ResourceError(
        "runtime", value, "not a duration; use seconds, 90s, 15m, 2h, 1h30m, 1:30:00 or 2-00:00:00"
    )


def _parse_count(key: str, value: object, minimum: int) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    number = _finite_number(key, value)
    if number is None or number != int(number):
        raise ResourceError(key, value, "must be a whole number")
    if number < minimum:
        raise ResourceError(key, value, f"must be at least {minimum}")
    return int(number)


def parse_cores(value: object) -> int:
    """Parse a core count (a whole number ≥ 1). Raises ResourceError otherwise."""
    return _parse_count("cores", value, 1)


def parse_gpus(value: object) -> int:
    """Parse a GPU count (a whole number ≥ 0). Raises ResourceError otherwise."""
    return _parse_count("gpus", value, 0)


def format_bytes(amount: int) -> str:
    """Render bytes exactly in the largest binary unit that divides them (``4GiB``, ``1536MiB``)."""
    for unit, size in (
        ("PiB", 1024**5),
        ("TiB", 1024**4),
        ("GiB", _GIB),
        ("MiB", 1024**2),
        ("KiB", 1024),
    ):
        if amount % size == 0:
            return f"{amount // size}{unit}"
    return f"{amount}B"


def _human_bytes(amount: int) -> str:
    """Render bytes for a message: ``512 GiB``, ``1.5 GiB``."""
    for unit, size in (("TiB", 1024**4), ("GiB", _GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if amount >= size:
            return f"{amount / size:.4g} {unit}"
    return f"{amount} B"


def format_seconds(seconds: int) -> str:
    """Render seconds as Slurm-style ``[D-]HH:MM:SS``."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{clock}" if days else clock


@dataclass(frozen=True, slots=True)
class ResourceRequest:
    """A parsed, unit-normalised resource request. None means "not requested"."""

    memory_bytes: int | None = None
    runtime_seconds: int | None = None
    cores: int | None = None
    gpus: int | None = None
    queue: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    """Declared pass-through keys (``slurm.account``) with their validated values."""

    def to_dict(self) -> dict[str, Any]:
        """Return the canonical request mapping; `parse_request` of it gives back this request.

        Memory is an exact binary-unit string (``"4GiB"``), runtime whole seconds.
        """
        out: dict[str, Any] = {}
        if self.memory_bytes is not None:
            out["memory"] = format_bytes(self.memory_bytes)
        if self.runtime_seconds is not None:
            out["runtime"] = self.runtime_seconds
        if self.cores is not None:
            out["cores"] = self.cores
        if self.gpus is not None:
            out["gpus"] = self.gpus
        if self.queue is not None:
            out["queue"] = self.queue
        out.update(self.extra)
        return out


def parse_request(
    resources: Mapping[str, object], declared: Mapping[str, str] | None = None
) -> ResourceRequest:
    """Parse a raw request mapping into a `ResourceRequest`.

    Args:
        resources: keys from `KNOWN_RESOURCES` plus declared pass-through keys; None values are
            treated as absent.
        declared: pass-through key → regular expression its (string) value must fully match.

    Raises:
        ResourceError: an unknown key (with close matches suggested) or a malformed value.
    """
    declared = declared or {}
    values: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for key, value in resources.items():
        if value is None:
            continue
        if key == "memory":
            values["memory_bytes"] = parse_memory(value)
        elif key == "runtime":
            values["runtime_seconds"] = parse_runtime(value)
        elif key == "cores":
            values["cores"] = parse_cores(value)
        elif key == "gpus":
            values["gpus"] = parse_gpus(value)
        elif key == "queue":
            if not isinstance(value, str) or not value.strip() or value != value.strip():
                raise ResourceError(
                    "queue", value, "must be a non-empty name without surrounding spaces"
                )
            values["queue"] = value
        elif key in declared:
            text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
            if not isinstance(text, str) or not re.fullmatch(declared[key], text):
                raise ResourceError(key, value, f"must match {declared[key]!r}")
            extra[key] = text
        else:
            known = sorted(KNOWN_RESOURCES | set(declared))
            import difflib  # here: only a bad key needs it

            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ResourceError(
                str(key), value, f"unknown resource key (known: {', '.join(known)}){hint}"
            )
    return ResourceRequest(**values, extra=extra)


@dataclass(frozen=True, slots=True)
class QueueLimits:
    """The most a queue grants, and what it assumes when a request is silent. None = no limit."""

    max_memory_bytes: int | None = None
    max_runtime_seconds: int | None = None
    max_cores: int | None = None
    max_gpus: int | None = None
    default_memory_bytes: int | None = None
    default_runtime_seconds: int | None = None
    default_cores: int | None = 1

    def violations(self, request: ResourceRequest, queue_name: str) -> list[str]:
        """Return one message per value that exceeds a limit (empty when the request fits)."""
        problems: list[str] = []
        if _over(request.memory_bytes, self.max_memory_bytes):
            problems.append(
                f"memory={format_bytes(request.memory_bytes or 0)!r} exceeds queue {queue_name!r} "
                f"limit of {_human_bytes(self.max_memory_bytes or 0)}"
            )
        if _over(request.runtime_seconds, self.max_runtime_seconds):
            problems.append(
                f"runtime={request.runtime_seconds}s exceeds queue {queue_name!r} limit of "
                f"{self.max_runtime_seconds}s ({format_seconds(self.max_runtime_seconds or 0)})"
            )
        if _over(request.cores, self.max_cores):
            problems.append(
                f"cores={request.cores} exceeds queue {queue_name!r} limit of "
                f"{self.max_cores} cores"
            )
        if _over(request.gpus, self.max_gpus):
            problems.append(
                f"gpus={request.gpus} exceeds queue {queue_name!r} limit of {self.max_gpus} gpus"
            )
        return problems

    def clamp(self, request: ResourceRequest) -> ResourceRequest:
        """Return the request with defaults filled in and every value clamped into the limits."""
        return replace(
            request,
            memory_bytes=_clamp(
                request.memory_bytes, self.default_memory_bytes, self.max_memory_bytes
            ),
            runtime_seconds=_clamp(
                request.runtime_seconds, self.default_runtime_seconds, self.max_runtime_seconds
            ),
            cores=_clamp(request.cores, self.default_cores, self.max_cores),
            gpus=_clamp(request.gpus, None, self.max_gpus),
        )


def _over(value: int | None, limit: int | None) -> bool:
    return value is not None and limit is not None and value > limit


def _clamp(value: int | None, default: int | None, limit: int | None) -> int | None:
    chosen = value if value is not None else default
    if chosen is not None and limit is not None:
        chosen = min(chosen, limit)
    return chosen


def validate_request(
    resources: Mapping[str, object],
    limits: QueueLimits,
    queue_name: str,
    *,
    strict: bool = False,
    declared: Mapping[str, str] | None = None,
) -> tuple[bool, str]:
    """Implement ``ClusterQueue.validate_resources``.

    Returns:
        ``(True, "")`` when the request fits; ``(False, message)`` when it is malformed, has
        unknown keys, or (strict) exceeds a limit — the message names key, value, limit and unit.
        Non-strict, values over a limit are valid (coercion will clamp them) and the message says
        what will change.
    """
    try:
        request = parse_request(resources, declared)
    except ResourceError as exc:
        return False, str(exc)
    problems = limits.violations(request, queue_name)
    if not problems:
        return True, ""
    if strict:
        return False, "; ".join(problems)
    return True, "will be clamped: " + "; ".join(problems)


def coerce_request(
    resources: Mapping[str, object],
    limits: QueueLimits,
    queue_name: str,
    *,
    declared: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Implement ``ClusterQueue.coerce_resources``: parse, fill defaults, clamp into the limits.

    Logs one ``resource_coerced`` warning per clamped value. The result is canonical
    (`ResourceRequest.to_dict`), validates strictly, and coercing it again changes nothing.

    Raises:
        ResourceError: unknown keys or malformed values (clamping cannot fix those).
    """
    request = parse_request(resources, declared)
    coerced = limits.clamp(request)
    for key, before, after in (
        ("memory", request.memory_bytes, coerced.memory_bytes),
        ("runtime", request.runtime_seconds, coerced.runtime_seconds),
        ("cores", request.cores, coerced.cores),
        ("gpus", request.gpus, coerced.gpus),
    ):
        if before is not None and before != after:
            log.warning(
                "resource_coerced", queue=queue_name, key=key, requested=before, coerced=after
            )
    return coerced.to_dict()
