"""The two PBS flavours: PBS Professional / OpenPBS (``pro``) and Torque (``torque``).

They share ``qsub``/``qstat``/``qdel`` and ``#PBS`` directives but differ where it matters here:

================  ===============================  =====================================
                  PBS Pro / OpenPBS                Torque
================  ===============================  =====================================
array             ``-J 0-9`` (at least 2 subjobs,  ``-t 0-9``; ``PBS_ARRAYID``
                  must be rerunnable ``-r y``);
                  ``PBS_ARRAY_INDEX``
resources         ``-l select=1:ncpus=N:mem=Mmb``  ``-l nodes=1:ppn=N`` ``-l mem=Mmb``
status            ``qstat -x -f -F json -t IDS``   ``qstat -x -t IDS`` (XML)
every job         ``qstat -f -x -F json``          ``qstat -x`` (arrays summarised)
finished jobs     ``F``, kept in history           ``C``, kept ``keep_completed`` seconds
                  (``job_history_enable``)
limit kills       ``Exit_status`` -29 walltime,    -11 walltime, -10 memory, -12 cput
                  -27 mem, -26 vmem, -28 cput
array size cap    server ``max_array_size``        server ``max_job_array_size``
forced delete     ``qdel -W force``                ``qdel -p`` (purge)
walltime checked  every 10-120 s (MoM's            every 45 s (``$check_poll_time``),
                  ``$min/max_check_poll``), then   then ``kill_delay`` (2 s)
                  ``kill_delay`` (10 s)
================  ===============================  =====================================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from distributor import ResourceError, ResourceRequest
from distributor.batch import NamedJob, check_directive_value
from distributor_pbs import parsers
from distributor_pbs.codes import ExitCodeTable, exit_codes

__all__ = ["PRO", "TORQUE", "Flavour", "flavour_named", "walltime"]


def walltime(seconds: int) -> str:
    """``HH:MM:SS`` for PBS (hours may exceed 24: ``36:00:00``)."""
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def _megabytes(amount: int) -> str:
    return f"{math.ceil(amount / 2**20)}mb"


def _pro_resources(request: ResourceRequest) -> list[tuple[str, str | None]]:
    chunk = f"select=1:ncpus={request.cores or 1}"
    if request.memory_bytes is not None:
        chunk += f":mem={_megabytes(request.memory_bytes)}"
    if request.gpus:
        chunk += f":ngpus={request.gpus}"
    return [("-l", chunk)]


def _torque_resources(request: ResourceRequest) -> list[tuple[str, str | None]]:
    nodes = f"nodes=1:ppn={request.cores or 1}" + (f":gpus={request.gpus}" if request.gpus else "")
    directives: list[tuple[str, str | None]] = [("-l", nodes)]
    if request.memory_bytes is not None:
        directives.append(("-l", f"mem={_megabytes(request.memory_bytes)}"))
    return directives


@dataclass(frozen=True, slots=True)
class Flavour:
    """How one PBS flavour is spoken.

    Attributes:
        name: ``pro`` or ``torque``; title: for messages.
        array_flag: qsub's array option; index_variable: the subjob index in the job.
        min_array_length: the smallest array qsub accepts (shorter ones are plain jobs).
        array_size_attribute: the server attribute capping an array's length.
        arrays_need_rerun: arrays are refused unless rerunnable (``-r y``).
        status_options: qstat options before the ids; parse_status: their parser.
        list_options: qstat options listing every job (no ids); parse_named: their parser.
        resources: the ``-l`` directives of a request.
        force_delete: qdel's options to delete a job whose MoM does not answer.
        runtime_backstop: seconds past ``walltime`` before ``distributor-worker`` stops the
            command itself: longer than the MoM may take to notice the overrun and kill the
            job (its poll interval plus ``kill_delay``), so that PBS's own verdict
            (``Exit_status`` -29 / -11) is the one reported wherever PBS enforces walltime.
    """

    name: str
    title: str
    array_flag: str
    index_variable: str
    min_array_length: int
    array_size_attribute: str
    arrays_need_rerun: bool
    status_options: tuple[str, ...]
    parse_status: Callable[[str, Sequence[str]], dict[str, parsers.PbsJobStatus]]
    list_options: tuple[str, ...]
    parse_named: Callable[[str, Sequence[str]], list[NamedJob]]
    resources: Callable[[ResourceRequest], list[tuple[str, str | None]]]
    force_delete: tuple[str, ...]
    runtime_backstop: float

    @property
    def codes(self) -> ExitCodeTable:
        """This flavour's ``Exit_status`` table."""
        return exit_codes(self.name)

    def directives(
        self, request: ResourceRequest, *, array_length: int | None
    ) -> list[tuple[str, str | None]]:
        """Resource, walltime, queue, account, rerun and array directives of a request.

        Args:
            array_length: the number of subjobs (indices ``0 .. n-1``), None for a plain job.
        """
        directives = self.resources(request)
        if request.runtime_seconds is not None:
            directives.append(("-l", f"walltime={walltime(request.runtime_seconds)}"))
        if request.queue is not None:
            directives.append(("-q", check_directive_value("queue", request.queue)))
        if "pbs.account" in request.extra:
            directives.append(("-A", request.extra["pbs.account"]))
        if array_length is None:
            directives.append(("-r", "n"))
        else:
            directives.append(("-r", "y" if self.arrays_need_rerun else "n"))
            directives.append((self.array_flag, f"0-{array_length - 1}"))
        return directives

    def status_argv(self, tokens: Sequence[str]) -> list[str]:
        """One qstat asking about every token (jobs, and arrays expanded to subjobs by -t)."""
        return ["qstat", *self.status_options, *tokens]


PRO = Flavour(
    name="pro",
    title="PBS Pro",
    array_flag="-J",
    index_variable="PBS_ARRAY_INDEX",
    min_array_length=2,
    array_size_attribute="max_array_size",
    arrays_need_rerun=True,
    status_options=("-x", "-f", "-F", "json", "-t"),
    parse_status=parsers.parse_pro_status,
    list_options=("-f", "-x", "-F", "json"),
    parse_named=parsers.parse_pro_named_jobs,
    resources=_pro_resources,
    force_delete=("-W", "force"),
    runtime_backstop=150.0,  # $max_check_poll 120 s + kill_delay 10 s, and a margin
)
"""PBS Professional / OpenPBS."""

TORQUE = Flavour(
    name="torque",
    title="Torque",
    array_flag="-t",
    index_variable="PBS_ARRAYID",
    min_array_length=1,
    array_size_attribute="max_job_array_size",
    arrays_need_rerun=False,
    status_options=("-x", "-t"),
    parse_status=parsers.parse_torque_status,
    list_options=("-x",),
    parse_named=parsers.parse_torque_named_jobs,
    resources=_torque_resources,
    force_delete=("-p",),
    runtime_backstop=60.0,  # $check_poll_time 45 s + kill_delay 2 s, and a margin
)
"""Torque (Adaptive Computing)."""


def flavour_named(name: str) -> Flavour:
    """The flavour called `name`.

    Raises:
        ResourceError: neither ``pro`` nor ``torque``.
    """
    for flavour in (PRO, TORQUE):
        if flavour.name == name:
            return flavour
    raise ResourceError("flavour", name, "must be 'pro' (PBS Pro / OpenPBS) or 'torque'")
