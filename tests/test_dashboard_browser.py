"""The dashboard and the report in a real browser: Debian's chromium, headless, driven by
Playwright through the system's executable (no browser is downloaded). A running service's
table follows its tasks without a reload, filters work, cancel from the page ends a task
``K``, a name with markup is shown as text, and screenshots of the dashboard and the report
are written as test artifacts (``DISTRIBUTOR_ARTIFACTS``, default: the test's directory).
Without chromium they skip, saying why — unless ``DISTRIBUTOR_BROWSER=required`` (CI as root,
where scripts/test.sh installs it), where that is a failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard_run import Dashboard, Run, cli, gated, until

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("DISTRIBUTOR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync"]  # fmt: skip
HOSTILE = "<script>window.pwned=1</script><img src=x onerror=window.pwned=2>"


def _unavailable() -> str | None:
    """Why no browser test can run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401 - only whether it imports
    except ImportError:
        return "playwright is not installed (pip install playwright; scripts/test.sh does)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no chromium at {CHROMIUM} (apt-get install chromium; scripts/test.sh does)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for the module's tests."""
    reason = _unavailable()
    if reason is not None and os.environ.get("DISTRIBUTOR_BROWSER") == "required":
        pytest.fail(f"DISTRIBUTOR_BROWSER=required, but {reason}")  # CI as root: never skip
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (its own cookies), 1280 pixels wide; the test fails on a script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(90_000)  # CI runs four suites at once on two CPUs
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, errors


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    """A run whose background controller is ended at teardown."""
    started = Run(tmp_path)
    yield started
    started.stop()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: $DISTRIBUTOR_ARTIFACTS, else the test's directory."""
    where = Path(os.environ.get("DISTRIBUTOR_ARTIFACTS") or tmp_path / "artifacts")
    where.mkdir(parents=True, exist_ok=True)
    return where


def row_state(page: Any, name: str) -> str | None:
    """The state letter shown in the row of task `name` (None when the row is not shown)."""
    cell = page.locator(f'#tasks tbody tr[data-name="{name}"] td.st')
    if cell.count() == 0:
        return None
    value: str | None = cell.get_attribute("data-state")
    return value


def shown_names(page: Any) -> set[str]:
    names = page.eval_on_selector_all("#tasks tbody tr", "rows => rows.map(r => r.dataset.name)")
    return set(names)


def test_the_table_follows_a_running_service_and_filters_and_cancels(
    run: Run, page: Any, artifacts: Path
) -> None:
    """Tasks that end change their rows without a reload; filters by state, owner and tag
    narrow the rows; cancel on a row ends that task ``K``; a name with markup is text."""
    root = run.root
    tasks = (
        "".join(f'[[task]]\nname = "align-{k}"\ncommand = "{gated(root / f"go-{k}")}"\n'
                f'tags = ["align"]\nowner = "alice"\nmemory = "1G"\n\n' for k in range(3))
        + f'[[task]]\nname = "stuck"\ncommand = "{gated(root / "never")}"\nowner = "bob"\n\n'
        + f'[[task]]\nname = "{HOSTILE}"\ncommand = "exit 3"\nmax_attempts = 1\nowner = "bob"\n'
    )  # fmt: skip
    journal = run.start(tasks)
    until(lambda: all(t["state"] in ("R", "E") for t in run.status().values()), "all to start")
    with Dashboard.serving(journal, run.state) as dashboard:
        page.goto(dashboard.url)
        page.wait_for_selector("body[data-ready='1']")
        until(lambda: row_state(page, "align-0") == "R", "align-0 shown running")
        assert page.evaluate("window.dashboardStats.snapshots") == 1

        (root / "go-0").touch()
        until(lambda: row_state(page, "align-0") == "D", "align-0 shown done, without a reload")
        (root / "go-1").touch()
        until(lambda: row_state(page, "align-1") == "D", "align-1 shown done")
        assert page.evaluate("window.dashboardStats.snapshots") == 1, "no reload, no new table"
        assert page.evaluate("window.dashboardStats.changes") >= 2

        hostile = page.locator(f'#tasks tbody tr[data-name="{HOSTILE}"] td.name a')
        assert hostile.inner_text() == HOSTILE, "the name is shown as text"
        assert page.evaluate("window.pwned") is None, "no markup of a task name ran"
        until(lambda: page.evaluate("window.dashboardStats.chartSeq === window.dashboardStats.seq"),
              "the charts to show the latest changes")  # fmt: skip
        page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

        page.select_option("#filter-state", "done")
        assert shown_names(page) == {"align-0", "align-1"}
        page.select_option("#filter-state", "")
        page.select_option("#filter-owner", "bob")
        assert shown_names(page) == {"stuck", HOSTILE}
        page.select_option("#filter-owner", "")
        page.select_option("#filter-tag", "align")
        assert shown_names(page) == {"align-0", "align-1", "align-2"}
        page.select_option("#filter-tag", "")
        page.fill("#filter-name", "stu")
        assert shown_names(page) == {"stuck"}
        page.fill("#filter-name", "")

        page.locator('#tasks tbody tr[data-name="stuck"] button.cancel').click()
        until(lambda: row_state(page, "stuck") == "K", "stuck shown killed after cancel")
        assert "cancel" in page.inner_text("#notice")
        assert run.status()["stuck"]["status"] == "cancelled"
        assert run.status()["stuck"]["state"] == "K"
        (root / "go-2").touch()


def test_a_task_page_shows_its_attempts_exit_and_log(run: Run, page: Any) -> None:
    """The task page lists every attempt with its exit code and the end of its log, and
    shows a hostile name as text."""
    name = f"flaky {HOSTILE}"
    journal = run.start(f'[[task]]\nname = "{name}"\ncommand = "echo line-$$; exit 5"\n'
                        "max_attempts = 2\nretry_delay = 0\n")  # fmt: skip
    until(lambda: run.status()[name]["status"] == "failed", "both attempts to fail")
    with Dashboard.serving(journal, run.state) as dashboard:
        page.goto(dashboard.url)
        page.wait_for_selector("body[data-ready='1']")
        page.locator("#tasks tbody td.name a").click()
        page.wait_for_selector("#task-name")
        assert page.inner_text("#task-name") == name
        rows = page.locator("table tbody tr")
        assert rows.count() == 2
        assert "5" in rows.nth(1).inner_text().split("\t")
        assert "line-" in page.inner_text("pre.log")
        assert page.evaluate("window.pwned") is None


def test_the_report_in_a_browser(run: Run, page: Any, artifacts: Path) -> None:
    """The static report opens from the disk with its charts drawn and nothing fetched."""
    journal = run.start(
        "".join(f'[[task]]\nname = "sample-{k}"\ncommand = "sleep 0.{k}; head -c {k}000000 '
                f'/dev/zero | tail -c 1 >/dev/null"\nmemory = "{k + 1}G"\nowner = "lab-{k % 2}"'
                f'\ntags = ["batch-{k % 3}"]\n\n' for k in range(8))
        + f'[[task]]\nname = "{HOSTILE}"\ncommand = "exit 3"\nmax_attempts = 2\n'
        "retry_delay = 0\n"
    )  # fmt: skip
    until(lambda: all(t["status"] != "active" for t in run.status().values()), "the run to end")
    output = artifacts / "report.html"
    assert cli("report", str(journal), "-o", str(output), state=run.state).returncode == 0
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(output.as_uri())
    assert fetched == [output.as_uri()], "the report fetches nothing"
    assert page.locator("svg").count() >= 6
    assert HOSTILE in page.inner_text("body")
    assert page.evaluate("window.pwned") is None
    page.screenshot(path=str(artifacts / "report.png"), full_page=True)


def test_with_a_token_the_page_works_and_forgets_the_address_it_came_by(
    run: Run, page: Any
) -> None:
    """Away from loopback, the printed address opens the page; the token then travels in a
    cookie (the stream, the charts), and leaves the address bar; without it: 401."""
    journal = run.start('[[task]]\nname = "a"\ncommand = "true"\n')
    until(lambda: run.status()["a"]["status"] == "done", "the task to end")
    with Dashboard.serving(journal, run.state, "--host", "0.0.0.0") as dashboard:  # noqa: S104
        port = dashboard.url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]
        token = dashboard.url.split("?token=", 1)[1]
        local = f"http://127.0.0.1:{port}/"
        assert page.goto(local).status == 401
        page.goto(f"{local}?token={token}")
        page.wait_for_selector("body[data-ready='1']")
        assert row_state(page, "a") == "D"
        assert "token" not in page.url
        until(lambda: page.evaluate("window.dashboardStats.chartSeq === window.dashboardStats.seq"),
              "the charts to load with the cookie")  # fmt: skip
