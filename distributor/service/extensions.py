"""Optional capabilities a distributor may offer beyond `ClusterDistributor`.

A plugin implements them by having the method (structural typing); it never imports this
module, since plugins sit below the service. The service checks for them with ``isinstance``
once per cluster and falls back to documented behaviour when they are missing:

* `SupportsLookupByName` makes submission exactly-once across controller crashes. Without it,
  a submission whose outcome the controller did not see is *in doubt* and is handled by
  `ServiceConfig.in_doubt` (see ``docs/service.md``).
* `distributor.protocols.SupportsRunningQuery` (``get_running``) lets the service tell queued
  from running (``O`` from ``R``), which ``max_queued`` throttling and the running-time limit
  need. Without it, every instance in the scheduler counts as queued.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = ["SupportsLookupByName"]


@runtime_checkable
class SupportsLookupByName(Protocol):
    """A distributor that can say which submissions it made under given names."""

    def find_by_name(self, names: Sequence[str]) -> dict[str, dict[int, str]]:
        """Find the submissions made under each of `names`, whether queued, running or ended.

        Every submission this distributor (or an earlier process on the same cluster and
        state) made and can still answer ``get_remote_exit_info`` for must be found; a name
        that is absent from the result was never submitted — the service relies on that to
        submit again without creating a duplicate. Names are matched exactly.

        Args:
            names: submission names as passed to ``submit_to_batch_distributor`` or
                ``submit_array_to_batch_distributor``; the service only uses
                ``[A-Za-z0-9_]`` in them.

        Returns:
            name → {array step → distributor id}. A single (non-array) submission reports its
            id under step 0. A name submitted more than once lists the steps of every
            submission merged (the service cancels the ids it did not record).

        Raises:
            SchedulerError: the scheduler could not be asked; the service tries again later.
        """
        ...
