"""The live dashboard of one journal: a Starlette application (`create_app`) and `serve`,
which runs it with uvicorn on a socket it binds itself.

Routes (nothing else is served — no file of the disk but the journal and its tasks' logs):

* ``/`` — the page; ``/static/{dashboard.css,dashboard.js,task.js}`` — its assets, shipped
  in the package (clusters are often offline: nothing comes from a CDN).
* ``/events`` — a server-sent event stream (PARK's design): its first message, ``snapshot``,
  is the whole task table with the journal position it was read at; each later ``changes``
  message holds only the tasks that changed since the previous message, with the new
  position. A reader that applies them in order holds the journal's table.
* ``/task?name=NAME`` — a task's attempts, exit information and the tail of its log.
* ``/charts/{timeline,counts,owners,tags}.svg`` — the charts, drawn from the journal.
* ``POST /cancel`` — ``{"names": [...]}``: cancels those tasks exactly as ``distributor
  cancel`` does (`distributor.service.cli_commands.cancel_tasks`).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from distributor.dashboard import pages, svg
from distributor.dashboard.figures import counts_over_time, progress_by
from distributor.dashboard.live_table import LiveTable
from distributor.dashboard.security import Guard, is_loopback, new_token
from distributor.dashboard.view import JournalView
from distributor.exceptions import DistributorError
from distributor.service.errors import UnknownTaskError

__all__ = ["POLL_INTERVAL", "create_app", "open_socket", "serve"]

POLL_INTERVAL = 0.2
"""Seconds between two looks at the journal's position, per open event stream."""
_PING = 15.0
_TIMELINE = 200  # attempts in the live timeline (the most recent)
_WAKE = 0.5  # seconds an idle event stream waits before looking whether the server stops
_ASSETS = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "task.js": "text/javascript; charset=utf-8",
}
T = TypeVar("T")


def _charts() -> str:
    return "".join(
        f'<div class="chart"><img id="chart-{name}" alt="{alt}"></div>'
        for name, alt in (("counts", "tasks by state over time"),
                          ("timeline", "timeline of attempts"),
                          ("owners", "progress by owner"), ("tags", "progress by tag"))
    )  # fmt: skip


def _index(journal: Path) -> str:
    from html import escape

    body = f"""<header><h1>distributor</h1><span class="journal">{escape(str(journal))}</span>
<span id="live" class="live off">connecting…</span></header><main>
<section><div id="chips" class="chips"></div></section>
<section class="charts">
{_charts()}
</section>
<section><h2>Tasks</h2>
<div class="filters">
<label>state <select id="filter-state"><option value="">any</option></select></label>
<label>owner <select id="filter-owner"><option value="">any</option></select></label>
<label>tag <select id="filter-tag"><option value="">any</option></select></label>
<label>name <input id="filter-name" type="search" placeholder="contains…"></label>
<span id="notice"></span></div>
<div class="pager"><button id="prev">‹</button><span id="showing"></span>
<button id="next">›</button></div>
<div class="wide"><table id="tasks"><thead><tr></tr></thead><tbody></tbody></table></div>
</section></main>"""
    return pages.page(f"distributor · {journal.name}", body, script="dashboard.js")


def create_app(
    journal: Path, *, poll_interval: float = POLL_INTERVAL, stopping: threading.Event | None = None
) -> Starlette:
    """The dashboard of `journal` (without the `Guard`, which `serve` adds).

    Args:
        journal: the journal to show.
        poll_interval: seconds between two looks at the journal's position.
        stopping: set when the server stops: open event streams end (within a second).
    """
    table = LiveTable(journal, poll_interval)
    stopping = stopping or threading.Event()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            group.start_soon(table.run)
            yield
            stopping.set()
            group.cancel_scope.cancel()

    async def in_thread(function: Callable[[JournalView], T]) -> T:
        def run() -> T:
            with JournalView(journal) as view:
                return function(view)

        return await anyio.to_thread.run_sync(run)

    async def index(request: Request) -> Response:
        return HTMLResponse(_index(journal))

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _ASSETS:
            return PlainTextResponse("not found\n", status_code=404)
        return Response(pages.asset(name), media_type=_ASSETS[name])

    async def events(request: Request) -> Response:
        first, changes = await table.subscribe()

        async def stream() -> AsyncIterator[str]:
            pinged = time.monotonic()
            try:
                yield first
                while not stopping.is_set():
                    message = None
                    with anyio.move_on_after(_WAKE):  # never across a yield
                        message = await changes.receive()
                    if message is not None:
                        yield message
                    elif time.monotonic() - pinged > _PING:
                        yield ": ping\n\n"
                        pinged = time.monotonic()
            except anyio.EndOfStream:  # dropped for falling behind, or the server stops
                pass
            finally:
                table.unsubscribe(changes)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"x-accel-buffering": "no"})  # fmt: skip

    async def task(request: Request) -> Response:
        name = request.query_params.get("name", "")

        def read(view: JournalView) -> str:
            return pages.task_page(journal, view.task(name), view.attempts(name))

        try:
            return HTMLResponse(await in_thread(read))
        except UnknownTaskError:
            return PlainTextResponse("no such task in this journal\n", status_code=404)

    async def chart(request: Request) -> Response:
        which = request.path_params["name"]

        def draw(view: JournalView) -> str:
            now = time.time()
            if which == "timeline":
                return svg.timeline_chart(view.attempts(recent=_TIMELINE), now, _TIMELINE)
            if which == "counts":
                end = now if view.active() else 0.0  # a finished run: up to its last event
                return svg.counts_chart(counts_over_time(view.transitions(), end))
            rows = view.snapshot()[1]
            if which == "owners":
                return svg.progress_chart(progress_by(rows, "owner"), "owner")
            return svg.progress_chart(progress_by(rows, "tags"), "tag")

        if which not in ("timeline", "counts", "owners", "tags"):
            return PlainTextResponse("not found\n", status_code=404)
        return Response(await in_thread(draw), media_type="image/svg+xml")

    async def cancel(request: Request) -> Response:
        try:
            data = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body must be JSON"}, status_code=400)
        names = data.get("names") if isinstance(data, dict) else None
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            return JSONResponse({"error": 'give {"names": [task names]}'}, status_code=400)
        from distributor.service.cli_commands import cancel_tasks

        try:
            message = await anyio.to_thread.run_sync(cancel_tasks, journal, names)
        except DistributorError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"message": message})

    return Starlette(lifespan=lifespan, routes=[
        Route("/", index),
        Route("/static/{name}", static),
        Route("/events", events),
        Route("/task", task),
        Route("/charts/{name}.svg", chart),
        Route("/cancel", cancel, methods=["POST"]),
    ])  # fmt: skip


def open_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (`host`, `port`); port 0 picks a free one.

    Raises:
        OSError: the address cannot be bound (in use, not this machine's).
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _server(config: Any, stopping: threading.Event) -> Any:
    """uvicorn's server, which also tells the open event streams to end when it stops (else
    they would hold its graceful shutdown until its timeout). uvicorn is imported here, so
    that importing this module does not need it."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            stopping.set()
            super().handle_exit(sig, frame)

    return Server(config)


def serve(journal: Path, host: str = "127.0.0.1", port: int = 8750) -> None:
    """Serve the dashboard of `journal` until interrupted; print its address on stdout (with
    the token, once, when `host` is not a loopback address).

    Raises:
        JournalError: `journal` cannot be read as a journal.
        OSError: the address cannot be bound.
    """
    import uvicorn

    JournalView(journal).close()  # a journal, readable: say so now rather than per request
    loopback = is_loopback(host)
    token = None if loopback else new_token()
    stopping = threading.Event()
    app = Guard(create_app(journal, stopping=stopping), token=token, loopback_only=loopback)
    sock = open_socket(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    if bound_host in ("0.0.0.0", "::"):  # noqa: S104 - every address: name this machine
        bound_host = socket.gethostname()
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    url = f"http://{shown}:{bound_port}/" + (f"?token={token}" if token else "")
    print(f"dashboard of {journal}: {url}", flush=True)
    if token:
        print("anyone with this address can see the journal and cancel its tasks; it is "
              "shown only once", file=sys.stderr, flush=True)  # fmt: skip
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=3,
                            lifespan="on")  # fmt: skip
    _server(config, stopping).run(sockets=[sock])
