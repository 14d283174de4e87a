"""LSF's accounting of a job's run as bjobs and bhist print it: run time, CPU time, host.

Every reader returns None for a figure that is missing or unreadable, never an exception:
an accounting figure is a detail of a status, and must not cost the status itself.

Formats (see the plugin README for the documents they were written from):

* ``bjobs -o "... run_time cpu_used exec_host" -json``: ``RUN_TIME`` is ``47 second(s)``;
  ``CPU_USED`` ``0.2 second(s)`` ("one decimal place"); both ``hh:mm:ss`` with ``-hms`` or
  ``LSB_HMS_TIME_FORMAT=Y`` (CPU rounded up to the next second). ``EXEC_HOST`` is ``hostA``,
  ``4*hostA`` (4 slots), several of those separated by ``:``, ``hostA@cluster`` with the
  multicluster capability, and empty or ``-`` for a job that has none.
* ``bhist -l``: the host in ``Dispatched to <hostA>;`` (LSF 7), ``Dispatched 1 Task(s) on
  Host(s) <hostA>, ...`` (LSF 10.1) or ``Started on <hostA>, ...``; the CPU time in ``Done
  successfully. The CPU time used is 0.1 seconds.`` (``Exited with exit code N. ...`` alike);
  the seconds in each state in the closing table under ``Summary of time in seconds spent
  in various states``, whose ``RUN`` column is the time the job ran.
"""

from __future__ import annotations

import re

__all__ = ["bhist_cpu", "bhist_host", "first_host", "parse_seconds", "summary_run_seconds"]

_NUMBER = r"[0-9]{1,12}(?:\.[0-9]{1,9})?"  # bounded: no figure LSF prints is longer
_SECONDS = re.compile(rf"(?P<value>{_NUMBER})\s*second\(s\)")
_HMS = re.compile(r"(?P<h>[0-9]{1,9}):(?P<m>[0-5][0-9]):(?P<s>[0-5][0-9](?:\.[0-9]{1,9})?)")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SLOTS = re.compile(r"(?:\d+\*)?(?P<host>[^*]+)")
_BHIST_HOST = re.compile(r"(?:Dispatched to|Started on|on Host\(s\)) <(?P<hosts>[^<>]+)>")
_BHIST_CPU = re.compile(rf"The CPU time used is (?P<value>{_NUMBER}) seconds")


def parse_seconds(text: str) -> float | None:
    """Seconds of a ``RUN_TIME`` or ``CPU_USED`` value (``47 second(s)``, ``0.2 second(s)``,
    ``01:02:03``); None for ``-``, an empty field or anything else."""
    text = text.strip()
    if (match := _SECONDS.fullmatch(text)) is not None:
        value = float(match["value"])
    elif (match := _HMS.fullmatch(text)) is not None:
        value = (int(match["h"]) * 60 + int(match["m"])) * 60 + float(match["s"])
    else:
        return None
    return value


def first_host(text: str) -> str | None:
    """The first host of an ``EXEC_HOST`` value or of a bhist host list (``hostA`` of
    ``4*hostA:2*hostB``, of ``hostA hostB`` and of ``hostA@cluster1``): where the job script
    ran. None when there is none or it is not a host name."""
    words = [word for word in re.split(r"[:\s]+", text.strip()) if word]
    if not words or words[0] == "-":
        return None
    slots = _SLOTS.fullmatch(words[0])
    host = slots["host"].partition("@")[0] if slots is not None else ""
    return host if _HOST.fullmatch(host) else None


def bhist_host(event: str) -> str | None:
    """The (first) host a bhist event dispatched or started the job on; None for other
    events."""
    match = _BHIST_HOST.search(event)
    return None if match is None else first_host(match["hosts"])


def bhist_cpu(event: str) -> float | None:
    """The seconds of ``The CPU time used is N seconds`` in a bhist event; None without it."""
    match = _BHIST_CPU.search(event)
    return None if match is None else float(match["value"])


def summary_run_seconds(header: str, values: str) -> float | None:
    """The ``RUN`` column of bhist's time summary (``PEND PSUSP RUN USUSP SSUSP UNKWN TOTAL``
    over a line of numbers); None when `header` is not that table's header or the value is
    not a number."""
    names, numbers = header.split(), values.split()
    if "RUN" not in names or "TOTAL" not in names or len(numbers) != len(names):
        return None
    value = numbers[names.index("RUN")]
    return float(value) if re.fullmatch(_NUMBER, value) else None
