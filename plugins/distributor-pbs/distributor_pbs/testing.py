"""Helpers for running the conformance kit against a PBS server, real or fake.

A site checks its own cluster with `conformance_target` (see the plugin README)::

    from distributor.testing import run_live_checks
    from distributor_pbs.testing import conformance_target

    for result in run_live_checks(conformance_target("workq", submit_root="/shared/me/check")):
        print(result.name, "ok" if result.passed else result.error)

The plugin's own tests run it against the fake ``qsub``/``qstat``/``qdel`` of its test tree,
configured with `fake_environment`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from distributor.batch import PollPolicy
from distributor.testing import ConformanceTarget, install_fake_commands, path_with
from distributor_pbs import plugin
from distributor_pbs.client import PbsClient
from distributor_pbs.distributor import PbsDistributor
from distributor_pbs.queue import PbsQueue

__all__ = ["FAST_POLLING", "conformance_target", "fake_environment"]

FAST_POLLING = PollPolicy(
    min_interval=0.1,
    max_interval=0.5,
    accounting_interval=0.5,
    accounting_delay=2.0,
    lost_grace=4.0,
)
"""Polling for a fake or an idle test server: sub-second intervals, a short accounting delay."""


def fake_environment(fakes: Path, state: Path, **settings: Any) -> dict[str, str]:
    """Configure the fake PBS (``pbs_fake.py`` in `fakes`) to keep its state in `state`.

    Its ``qsub``, ``qstat`` and ``qdel`` are shims written into ``state/bin``
    (`distributor.testing.install_fake_commands`), run by this interpreter.

    Args:
        settings: the fake's configuration (``flavour="torque"``, ``history=False``, …),
            written to ``state/config.json``.

    Returns:
        The variables that put the fake first on ``PATH`` for PBS commands (pass them as a
        distributor's, client's or queue's ``environment``).
    """
    state.mkdir(parents=True, exist_ok=True)
    (state / "config.json").write_text(json.dumps(settings), encoding="utf-8")
    bin_dir = state / "bin"
    install_fake_commands(bin_dir, fakes / "pbs_fake.py", ("qsub", "qstat", "qdel"))
    # PATH alone, not the whole environment: the client drops PBS_QSTAT_* from this process's
    # environment, and a copy of it among the extra variables would bring them back.
    return {"PATH": path_with(bin_dir)["PATH"], "PBS_FAKE_STATE": str(state)}


def conformance_target(
    queue: str,
    *,
    submit_root: str | os.PathLike[str],
    flavour: str = "auto",
    environment: Mapping[str, str] | None = None,
    resources: Mapping[str, Any] | None = None,
    poll_policy: PollPolicy | None = None,
    timeout: float = 300.0,
    max_array_size: int = 4,
) -> ConformanceTarget:
    """The conformance kit's target for `queue` of the PBS server the clients reach.

    Args:
        submit_root: a directory the compute nodes see at the same path.
        resources: the modest request every check submits (default: 256 MiB, 10 minutes).
        poll_policy: default: 1–5 s polling and a 60 s accounting delay.
        timeout: seconds any one check may wait for a job (queues may be busy).
        max_array_size: subjobs per array chunk, small so that the kit's array longer than a
            chunk (twice it plus one) exercises chunking without flooding the queue.
    """
    policy = poll_policy or PollPolicy(
        min_interval=1.0, max_interval=5.0, accounting_delay=60.0, lost_grace=300.0
    )
    return ConformanceTarget(
        plugin=plugin,
        make_distributor=lambda: PbsDistributor(
            "conformance",
            submit_root=submit_root,
            flavour=flavour,
            environment=environment,
            poll_policy=policy,
            max_array_size=max_array_size,
        ),
        make_queue=lambda: PbsQueue(
            1, queue, {}, client=PbsClient(flavour=flavour, environment=environment)
        ),
        resources=dict(resources or {"memory": "256M", "runtime": 600}),
        timeout=timeout,
        poll_interval=min(1.0, policy.min_interval),
    )
