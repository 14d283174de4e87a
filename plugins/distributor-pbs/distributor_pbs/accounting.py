"""PBS's accounting of a finished job's run, from its ``qstat`` attributes: elapsed and CPU
time, start and end, and the host.

Every reader returns None for a figure that is missing or unreadable, never an exception: an
accounting figure is a detail of a status and must not cost the status itself.

Attributes (PBS Professional Reference Guide, "Job Attributes"; Torque 6.1 ``qstat``; see the
plugin README), nested ones flattened as ``resources_used.walltime``:

=============================  ==============================  ================================
figure                         PBS Pro / OpenPBS               Torque
=============================  ==============================  ================================
elapsed                        ``resources_used.walltime``     ``resources_used.walltime``
CPU                            ``resources_used.cput``         ``resources_used.cput``
start                          ``stime``                       ``start_time``
end                            ``obittime``, else              ``comp_time``
                               ``history_timestamp``, else
                               ``mtime``
host                           ``exec_host``                   ``exec_host``
=============================  ==============================  ================================

* Durations are ``[[HH:]MM:]SS`` (hours may pass 99: ``16648:25:43``; minutes and seconds
  after a larger field are below 60).
* ``exec_host`` is ``hostA/0*2+hostB/1`` (PBS Pro: host/index*cpus, joined by ``+``) or
  ``node01/0-3+node02/0`` (Torque); the job script runs on the first host.
* Torque's XML gives times in epoch seconds, as does PBS Pro's ``history_timestamp``. PBS
  Pro's ``stime``, ``obittime`` and ``mtime`` are stamps in ctime layout (``Thu Nov  9
  13:05:50 2023``) in the local time of the host qstat ran on, read here in this process's
  local time: where ``history_timestamp`` says otherwise than ``obittime`` (else ``mtime``)
  by more than `ZONE_TOLERANCE` (qstat ran in another time zone, through a remote
  transport), the local stamps are dropped and the end is ``history_timestamp``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["ZONE_TOLERANCE", "first_host", "parse_clock", "parse_stamp", "run_figures"]

ZONE_TOLERANCE = 600.0
"""Seconds a local stamp of a job's end may differ from its ``history_timestamp``."""

_CLOCK = re.compile(
    r"(?:(?:(?P<h>[0-9]{1,9}):)?(?P<m>[0-9]{1,9}):)?(?P<s>[0-9]{1,9}(?:\.[0-9]{0,9})?)"
)  # bounded: no figure PBS prints is longer
_EPOCH = re.compile(r"[0-9]{1,12}")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_CTIME = "%a %b %d %H:%M:%S %Y"


def parse_clock(text: str | None) -> float | None:
    """Seconds of a ``[[HH:]MM:]SS[.frac]`` duration (the leading field up to nine digits,
    those after it below 60); None when absent or malformed."""
    match = _CLOCK.fullmatch((text or "").strip())
    if match is None:
        return None
    hours, minutes, seconds = int(match["h"] or 0), int(match["m"] or 0), float(match["s"])
    if (match["h"] is not None and minutes >= 60) or (match["m"] is not None and seconds >= 60):
        return None  # PBS prints normalised clocks: 00:61:00 is no figure of its
    return (hours * 60 + minutes) * 60 + seconds


def parse_stamp(text: str | None) -> float | None:
    """Epoch seconds of a time attribute: epoch seconds as printed (Torque's XML,
    ``history_timestamp``), or a ctime-layout stamp read in local time; None for 0, an absent
    or a malformed one."""
    text = (text or "").strip()
    if _EPOCH.fullmatch(text):
        return float(text) or None
    try:
        return time.mktime(time.strptime(text, _CTIME))
    except (ValueError, OverflowError):
        return None


def first_host(exec_host: str | None) -> str | None:
    """The first host of an ``exec_host`` value (``hostA`` of ``hostA/0*2+hostB/1``); None
    when there is none or it is not a host name."""
    host = (exec_host or "").strip().split("+")[0].split("/")[0]
    return host if _HOST.fullmatch(host) else None


def _first_stamp(attributes: Mapping[str, str], names: tuple[str, ...]) -> float | None:
    """The first of the `names` attributes that reads as a time stamp."""
    for name in names:
        stamp = parse_stamp(attributes.get(name))
        if stamp is not None:
            return stamp
    return None


def run_figures(attributes: Mapping[str, str]) -> dict[str, Any]:
    """The accounting of a final job's run as `JobStatus` fields (``elapsed``,
    ``cpu_seconds``, ``started_at``, ``ended_at``, ``host``); empty for a job that never ran
    (no host, no start, no wall time)."""
    elapsed = parse_clock(attributes.get("resources_used.walltime"))
    host = first_host(attributes.get("exec_host"))
    started = _first_stamp(attributes, ("stime", "start_time"))
    if host is None and started is None and not elapsed:
        return {}
    ended = _first_stamp(attributes, ("obittime", "comp_time", "history_timestamp", "mtime"))
    anchor = parse_stamp(attributes.get("history_timestamp"))
    local = _first_stamp(attributes, ("obittime", "mtime"))  # PBS Pro's local end stamps
    if anchor is not None and local is not None and abs(local - anchor) > ZONE_TOLERANCE:
        started, ended = None, anchor  # local stamps of another time zone
    if started is not None and ended is not None and ended < started:
        started = ended = None  # stamps that contradict each other say nothing
    return {
        "elapsed": elapsed,
        "cpu_seconds": parse_clock(attributes.get("resources_used.cput")),
        "started_at": started,
        "ended_at": ended,
        "host": host,
    }
