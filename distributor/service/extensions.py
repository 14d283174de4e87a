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

from distributor.protocols import SupportsLookupByName

__all__ = ["SupportsLookupByName"]
