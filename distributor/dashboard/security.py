"""Who may talk to the dashboard: the host it answers for, the token, and the headers every
answer carries.

* Bound to a loopback address (the default, 127.0.0.1), it answers only requests addressed to
  a loopback name (``Host: 127.0.0.1:P`` or ``localhost:P``), which keeps a web page from
  reaching it through DNS rebinding.
* Bound anywhere else, every request needs the token printed when it started: in the query
  (``?token=…``, which also sets a same-site cookie, so that links and the event stream carry
  it), in that cookie, or as ``Authorization: Bearer …``.
* The one request that changes anything (cancel) must be a POST with the header
  ``X-Distributor-Dashboard: cancel``, which another site's page cannot send without a CORS
  pre-flight that is never granted.
* Every answer forbids scripts, styles and connections from anywhere but the dashboard itself
  (``Content-Security-Policy``), framing, sniffing and sending the address on (``Referrer``).
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

__all__ = ["CANCEL_HEADER", "COOKIE", "Guard", "is_loopback", "new_token"]

COOKIE = "distributor_dashboard_token"
CANCEL_HEADER = "x-distributor-dashboard"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})
_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
     b"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]  # fmt: skip

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """True for ``127.0.0.1``, ``::1``, ``localhost`` and the rest of the loopback range."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A fresh random token (32 bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


def _host_name(value: str) -> str:
    """``127.0.0.1`` of ``127.0.0.1:8000``, ``::1`` of ``[::1]:8000``."""
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    """ASGI middleware enforcing the rules above around `app`.

    Args:
        app: the dashboard.
        token: required on every request when set (a non-loopback bind); None otherwise.
        loopback_only: answer only requests whose ``Host`` is a loopback name.
    """

    def __init__(self, app: ASGIApp, *, token: str | None, loopback_only: bool) -> None:
        self.app = app
        self.token = token
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}  # fmt: skip
        if self.loopback_only and not is_loopback(_host_name(headers.get("host", ""))):
            await _refuse(send, 421, "this dashboard answers only for 127.0.0.1 and localhost")
            return
        set_cookie = False
        if self.token is not None:
            given = self._given(scope, headers)
            if given is None or not secrets.compare_digest(given[0], self.token):
                await _refuse(send, 401, "a token is required: use the address printed when "
                              "the dashboard started")  # fmt: skip
                return
            set_cookie = given[1] == "query"
        if scope["method"] == "POST" and headers.get(CANCEL_HEADER) != "cancel":
            await _refuse(send, 403, f"a POST needs the header {CANCEL_HEADER}: cancel")
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(_HEADERS)
                if set_cookie and self.token is not None:
                    cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                    extra.append((b"set-cookie", cookie.encode("latin-1")))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _given(scope: Scope, headers: dict[str, str]) -> tuple[str, str] | None:
        """(the token the request carries, where: query, cookie or header), or None."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get("token"):
            return query["token"][0], "query"
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip(), "header"
        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is no token
            return None
        if COOKIE in cookies:
            return cookies[COOKIE].value, "cookie"
        return None


async def _refuse(send: Send, status: int, reason: str) -> None:
    body = (reason + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *_HEADERS]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
