"""The library is silent unless the application configures logging, and then it gets every
event with its bound ids — through the standard library or through structlog."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from distributor.local import LocalDistributor
from distributor.logs import get_logger


def run_python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter; its output, separately."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_nothing_appears_when_the_application_configured_nothing(tmp_path: Path) -> None:
    """Warnings and errors of the core and of a plugin's module print nothing anywhere
    (without the NullHandler, Python's last-resort handler would print them on stderr), and a
    local task run end to end adds nothing to the program's own output."""
    done = run_python(
        f"""
        import json, time
        from distributor.logs import get_logger
        from distributor.local import LocalDistributor
        get_logger("distributor.batch.polling").warning("status_query_failed", attempt=3)
        get_logger("distributor_acme.client").error("scheduler_unreachable", host="x")
        local = LocalDistributor(state_dir={str(tmp_path / "state")!r})
        local.start()
        did = local.submit_to_batch_distributor("true", "t", {{}})
        while local.get_submitted_or_running([did]):
            time.sleep(0.05)
        local.stop()
        print(json.dumps({{"ok": True}}))
        """,
        tmp_path,
    )
    assert done.stdout == '{"ok": true}\n'
    assert done.stderr == ""


def test_an_application_that_configures_logging_gets_events_with_ids(tmp_path: Path) -> None:
    """``logging.basicConfig`` shows the library's events on stderr under the ``distributor``
    logger, a plugin module's under ``distributor.<module>``, with the bound fields."""
    done = run_python(
        """
        import logging
        logging.basicConfig(level=logging.INFO, format="%(name)s|%(levelname)s|%(message)s")
        from distributor.logs import get_logger
        log = get_logger("distributor_acme.client").bind(cluster="acme")
        log.info("job_submitted", distributor_id="17", queue="all.q")
        log.debug("too_detailed")
        """,
        tmp_path,
    )
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "distributor.distributor_acme.client|INFO|"
        "job_submitted cluster='acme' distributor_id='17' queue='all.q'"
    ]


def test_records_carry_the_fields_for_structured_handlers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler on the ``distributor`` logger receives the local backend's own events, each
    record carrying its event and bound fields as ``record.distributor``."""
    with caplog.at_level(logging.DEBUG, logger="distributor"):
        local = LocalDistributor("here", state_dir=tmp_path / "state")
        local.start()
        try:
            local.submit_to_batch_distributor("true", "t", {})
        finally:
            local.stop()
    records = {r.distributor["event"]: r for r in caplog.records if hasattr(r, "distributor")}
    assert {"local_distributor_started", "tasks_submitted", "local_distributor_stopped"} <= set(
        records
    )
    started = records["local_distributor_started"]
    assert started.name == "distributor.local.distributor"
    assert started.levelno == logging.INFO
    assert started.distributor["cluster"] == "here"
    assert records["tasks_submitted"].distributor["count"] == 1


def test_an_application_that_configured_structlog_gets_them_there() -> None:
    """Where the application configured structlog, events go through it with their fields."""
    with capture_logs() as events:
        get_logger("distributor_acme.client").bind(cluster="acme").warning("slow", seconds=3)
    assert events == [{"event": "slow", "cluster": "acme", "seconds": 3, "log_level": "warning"}]
