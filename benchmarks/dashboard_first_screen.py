"""The dashboard's first screen with a big journal, in a real browser, in one run.

A journal of N tasks (default 10,000: a third done, some failed, the rest running or queued)
is built through `Service` with the in-memory fake scheduler; ``distributor dashboard`` serves
it and headless chromium (the system's, through Playwright) opens the page R times. Measured
from the navigation's start to the first rendered table (the page's own
``dashboardStats.firstRender``, which includes fetching the page, its script, the event
stream's whole-table message, parsing and drawing it). The baseline is the same with 100 tasks,
measured in the same run; the target is under one second for 10,000. It also prints the size
of the stream's first message against the message that follows one task ending.

    python benchmarks/dashboard_first_screen.py [--tasks N] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from distributor.dashboard.live_table import COLUMNS, encode
from distributor.dashboard.view import JournalView
from distributor.exit_info import TaskInstanceStatus
from distributor.service import Cluster, Service, TaskSpec, Throttle
from distributor.testing.faults import FakeDistributor

CHROMIUM = os.environ.get("DISTRIBUTOR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]  # fmt: skip


def _specs(count: int) -> Iterator[TaskSpec]:
    for i in range(count):
        yield TaskSpec(name=f"sample-{i:06d}", command=f"align {i}", owner=f"lab-{i % 5}",
                       tags=[f"batch-{i % 7}"], resources={"memory": "4G", "cores": 2})  # fmt: skip


def build(journal: Path, count: int) -> tuple[Service, FakeDistributor]:
    """A journal of `count` tasks in mixed states; its service stays open (the caller closes)."""
    fake = FakeDistributor("fake")
    service = Service(journal, Cluster(fake, throttle=Throttle(submit_chunk=count)))
    service.add(_specs(count))
    service.step()
    ids = fake.active_ids()
    fake.run(*ids[: count * 2 // 3])
    for k, distributor_id in enumerate(ids[: count // 3]):
        failed = k % 10 == 0
        fake.finish(distributor_id, TaskInstanceStatus.ERROR if failed else TaskInstanceStatus.DONE,
                    "exited with status 1" if failed else "")  # fmt: skip
    service.step()
    return service, fake


def first_screens(journal: Path, rounds: int) -> list[tuple[float, float, float]]:
    """(page ready, whole table received, table drawn), in milliseconds from the navigation's
    start, `rounds` times."""
    from playwright.sync_api import sync_playwright

    server = subprocess.Popen([sys.executable, "-m", "distributor.cli", "dashboard", str(journal),
                               "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)  # fmt: skip
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split(": ", 1)[1].strip()
        times = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for _ in range(rounds + 1):  # the first warms the browser and the page cache
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(url)
                page.wait_for_selector("body[data-ready='1']", timeout=60_000)
                marks = page.evaluate("[dashboardStats.connectAt, dashboardStats.snapshotAt, "
                                      "dashboardStats.firstRender]")  # fmt: skip
                times.append((float(marks[0]), float(marks[1]), float(marks[2])))
                page.close()
            browser.close()
        return times[1:]
    finally:
        server.terminate()
        server.communicate(timeout=10)


def message_sizes(journal: Path, service: Service, fake: FakeDistributor) -> tuple[int, int]:
    """Bytes of the stream's whole-table message and of the message after one task ends."""
    for _ in range(3):  # let the service record what the fake scheduler did
        service.step()
    with JournalView(journal) as view:
        seq, rows = view.snapshot()
        snapshot = len(encode("snapshot", seq, [[r[k] for k in COLUMNS] for r in rows]).encode())
        fake.finish(fake.active_ids()[0])
        service.step()
        seq, changed = view.changes(seq)
        change = len(encode("changes", seq, [[r[k] for k in COLUMNS] for r in changed]).encode())
    return snapshot, change


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as work:
        for count in (100, args.tasks):
            journal = Path(work) / f"journal-{count}.db"
            service, fake = build(journal, count)
            try:
                began = time.perf_counter()
                with JournalView(journal) as view:
                    view.snapshot()
                read = time.perf_counter() - began
                marks = first_screens(journal, args.rounds)
                sizes = message_sizes(journal, service, fake)
            finally:
                service.close()
            ready, received, drawn = (statistics.median(m[k] for m in marks) for k in range(3))
            results[count] = drawn
            print(f"{count:>6} tasks: first screen {drawn:5.0f} ms median of {args.rounds} "
                  f"(page ready {ready:.0f}, whole table received {received:.0f}, drawn "
                  f"{drawn:.0f}; worst {max(m[2] for m in marks):.0f}); journal read "
                  f"{read * 1000:.0f} ms; first message {sizes[0] / 1024:.0f} KiB, the message "
                  f"after one task ends {sizes[1]} bytes")  # fmt: skip
    base, big = results[100], results[args.tasks]
    verdict = "under" if big < 1000 else "OVER"
    print(
        f"ratio {args.tasks} / 100 tasks: {big / base:.2f}; {args.tasks} tasks {verdict} the "
        f"1 s target (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
