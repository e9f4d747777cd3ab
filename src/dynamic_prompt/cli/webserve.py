"""The web server behind ``dprompt web``: textual-serve's page and terminal, guarded.

textual-serve (aiohttp) serves a page whose xterm.js terminal talks over a websocket
to one process per connection, here the real ``dprompt tui``. This module keeps its
page, static files and :class:`~textual_serve.app_service.AppService` (the process
and its protocol) and adds what a dashboard that can write to production needs:

- a token, when one is set: ``/?token=...`` sets an HttpOnly cookie (a value derived
  from the token, not the token), and every other request and the websocket without
  it get 401 (none given) or 403 (a wrong one); comparisons are constant-time;
- without a token (loopback only), requests must name a loopback host, so a web page
  that rebinds its DNS name to 127.0.0.1 is refused, and a websocket must come from
  the page's own origin (no other site can drive the dashboard);
- at most ``max_sessions`` dashboards at once: one more gets a page saying so, and
  starts no process;
- the child's server URL goes through its environment, never its command line, and
  the token is not passed on to it.

Imported only by ``dprompt web`` (aiohttp and textual-serve are the ``web`` extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import html
import logging
import signal
from asyncio.subprocess import Process
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
import textual_serve
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from dynamic_prompt.cli.web import is_loopback

log = logging.getLogger("dprompt.web")

_PACKAGE = Path(textual_serve.__file__).resolve().parent
STATIC = _PACKAGE / "static"
TEMPLATES = _PACKAGE / "templates"

STOP_TIMEOUT = 5.0
"""Seconds a dashboard gets to quit after its tab closed, before it is killed."""

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # a URL with ?token= never leaves in a Referer
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def _host_name(host_header: str) -> str:
    """The host part of a Host header (``[::1]:8765`` -> ``::1``, ``a:80`` -> ``a``)."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def _page(status: int, title: str, body: str) -> web.Response:
    text = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{background:#0c181f;color:#e0e0e0;font-family:monospace;margin:3em;}"
            "h1{font-size:1.3em;}</style></head>"
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(body)}</p></body></html>")
    return web.Response(status=status, text=text, content_type="text/html", headers=_HEADERS)


def _size(value: str | None, default: int) -> int:
    try:
        return max(2, min(int(value or default), 1000))
    except ValueError:
        return default


class DashboardSession(AppService):
    """One ``dprompt tui`` process for one browser connection.

    Started from an argument list (no shell), with ``env`` added to and ``drop``
    removed from the environment textual-serve builds (its driver, the size, ...).
    """

    def __init__(self, argv: Sequence[str], *, env: dict[str, str], drop: Sequence[str],
                 write_bytes: Callable[[bytes], Awaitable[None]], write_str: Callable[[str], Awaitable[None]],
                 close: Callable[[], Awaitable[None]], download_manager: DownloadManager) -> None:
        super().__init__(" ".join(argv), write_bytes=write_bytes, write_str=write_str, close=close,
                         download_manager=download_manager)
        self.argv = list(argv)
        self.extra_env = dict(env)
        self.drop = tuple(drop)

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width=width, height=height)
        for key in self.drop:
            environment.pop(key, None)
        environment.update(self.extra_env)
        return environment

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        environment = self._build_environment(width=width, height=height)
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environment,
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    @property
    def process(self) -> Process | None:
        return self._process

    @property
    def task(self) -> asyncio.Task[None] | None:
        """What reads the dashboard's output: done when the dashboard has gone."""
        return self._task

    async def end(self) -> None:
        """Ask the dashboard to quit; kill it if it has not within :data:`STOP_TIMEOUT`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_TIMEOUT
        with contextlib.suppress(asyncio.TimeoutError, OSError):
            await asyncio.wait_for(self.stop(), STOP_TIMEOUT)
        process = self._process
        if process is None or process.returncode is not None:
            return
        try:
            await asyncio.wait_for(process.wait(), max(0.1, deadline - loop.time()))
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)


class WebDashboard:
    """The aiohttp application serving ``argv`` (the dashboard) to browsers."""

    def __init__(self, argv: Sequence[str], *, title: str, token: str | None, max_sessions: int,
                 env: dict[str, str] | None = None, drop_env: Sequence[str] = ()) -> None:
        self.argv = list(argv)
        self.title = title
        self.token = token
        self.max_sessions = max_sessions
        self.env = dict(env or {})
        self.drop_env = tuple(drop_env)
        self.active = 0
        """Dashboard processes running, those quitting included (never more than ``max_sessions``)."""
        self.ending = 0
        """Of those, the ones whose tab has gone and that are quitting."""
        self.sessions: set[DashboardSession] = set()
        self.sockets: set[web.WebSocketResponse] = set()
        self.download_manager = DownloadManager()
        self.cookie_name = "dprompt_web"
        self._cookie_value = (hmac.new(token.encode("utf-8"), b"dprompt web session cookie", hashlib.sha256)
                              .hexdigest() if token else "")

    # -- the guard ---------------------------------------------------------------------------

    def token_ok(self, given: str) -> bool:
        assert self.token is not None
        return hmac.compare_digest(given.encode("utf-8"), self.token.encode("utf-8"))

    def cookie_ok(self, given: str) -> bool:
        return hmac.compare_digest(given.encode("utf-8"), self._cookie_value.encode("utf-8"))

    def _set_cookie(self, response: web.StreamResponse) -> None:
        response.set_cookie(self.cookie_name, self._cookie_value, httponly=True, samesite="Strict", path="/")

    @web.middleware
    async def guard(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        if request.path == "/ws":
            origin = request.headers.get("Origin")
            if origin is not None and origin not in (f"http://{request.host}", f"https://{request.host}"):
                return _page(403, "Forbidden", "This dashboard accepts connections from its own page only.")
        if self.token is None:
            if not is_loopback(_host_name(request.host)):
                return _page(403, "Forbidden", "This dashboard is served for this machine only: "
                             "open it as http://127.0.0.1:PORT/ (or localhost).")
            return await handler(request)
        given = request.query.get("token")
        if given is not None:
            if not self.token_ok(given):
                return _page(403, "Forbidden", "That token is not this dashboard's.")
            if request.method == "GET" and request.path == "/":
                rest = request.rel_url.query.copy()
                del rest["token"]
                found = web.Response(status=302, headers={**_HEADERS, "Location": str(request.rel_url.with_query(rest))})
                self._set_cookie(found)
                return found  # the address bar keeps no token
            response = await handler(request)
            self._set_cookie(response)
            return response
        cookie = request.cookies.get(self.cookie_name)
        if cookie is None:
            return _page(401, "Token needed", "This dashboard needs its token: open the address "
                         "dprompt web printed where it was started (http://HOST:PORT/?token=...).")
        if not self.cookie_ok(cookie):
            return _page(403, "Forbidden", "This browser's token is not this dashboard's; open the "
                         "address with ?token=... again.")
        return await handler(request)

    # -- the page and the terminal -----------------------------------------------------------

    def _full(self) -> web.Response:
        return _page(503, "All dashboard sessions are in use",
                     f"dprompt web runs at most {self.max_sessions} dashboards at once (--max-sessions) "
                     "and all of them are open. Close another tab of this dashboard, then reload this page.")

    def _in_use(self) -> int:
        return self.active - self.ending

    async def _slot(self) -> bool:
        """Wait (a little) for a slot: a reloaded tab's old dashboard may still be quitting."""
        deadline = asyncio.get_running_loop().time() + 2 * STOP_TIMEOUT
        while self.active >= self.max_sessions:
            if self._in_use() >= self.max_sessions or asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        if self._in_use() >= self.max_sessions:
            return self._full()
        scheme = "wss" if request.secure else "ws"
        context: dict[str, Any] = {
            "font_size": _size(request.query.get("fontsize"), 16),
            "app_websocket_url": f"{scheme}://{request.host}/ws",
            "config": {"static": {"url": "/static/"}},
            "application": {"name": self.title},
        }
        response = aiohttp_jinja2.render_template("app_index.html", request, context)
        response.headers.update(_HEADERS)
        return response

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        if not await self._slot():
            return self._full()  # no process is started
        self.active += 1
        websocket = web.WebSocketResponse(heartbeat=15)
        session: DashboardSession | None = None
        try:
            await websocket.prepare(request)
            self.sockets.add(websocket)

            async def close() -> None:  # the dashboard quit (ctrl+q): the page says the session ended
                await websocket.close()

            session = DashboardSession(self.argv, env=self.env, drop=self.drop_env,
                                       write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                                       close=close, download_manager=self.download_manager)
            self.sessions.add(session)
            await session.start(_size(request.query.get("width"), 80), _size(request.query.get("height"), 24))
            relay = asyncio.ensure_future(self._relay(websocket, session))
            watched: set[asyncio.Future[None]] = {relay}
            if session.task is not None:
                watched.add(session.task)
            try:
                # The tab closed, or the dashboard went (quit, or failed to start: its
                # error is on this terminal): the page then says the session ended.
                await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            finally:
                relay.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await relay
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001 - one broken connection must not stop the server
            log.exception("A dashboard session failed")
        finally:
            self.ending += 1
            self.sockets.discard(websocket)
            with contextlib.suppress(Exception):
                await websocket.close()
            if session is not None:
                await session.end()
                self.sessions.discard(session)
            self.ending -= 1
            self.active -= 1
        return websocket

    async def _relay(self, websocket: web.WebSocketResponse, session: DashboardSession) -> None:
        """Pass the browser's keys, size, focus and pings to the dashboard (textual-serve's protocol)."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = message.json()
                kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            except (ValueError, TypeError, KeyError, IndexError):
                continue
            if kind == "stdin" and isinstance(data, str):
                await session.send_bytes(data.encode("utf-8"))
            elif kind == "resize" and isinstance(data, dict):
                await session.set_terminal_size(_size(str(data.get("width")), 80),
                                                _size(str(data.get("height")), 24))
            elif kind == "ping":
                await websocket.send_json(["pong", data])
            elif kind == "blur":
                await session.blur()
            elif kind == "focus":
                await session.focus()

    async def _on_shutdown(self, app: web.Application) -> None:
        for websocket in list(self.sockets):
            with contextlib.suppress(Exception):
                await websocket.close(code=1001, message=b"dprompt web stopped")
        await asyncio.gather(*(session.end() for session in list(self.sessions)), return_exceptions=True)

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(TEMPLATES)))
        app.add_routes([
            web.get("/", self.handle_index),
            web.get("/ws", self.handle_websocket),
            web.static("/static", STATIC),
        ])
        app.on_shutdown.append(self._on_shutdown)
        return app

    # -- running -----------------------------------------------------------------------------

    def run(self, host: str, port: int, ready: Callable[[int], None]) -> None:
        """Serve until SIGINT or SIGTERM; ``ready`` gets the port once it listens.

        An address that cannot be listened on raises :class:`OSError` before ``ready``.
        """

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stop.set)
            runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None,
                                   shutdown_timeout=STOP_TIMEOUT + 1)
            await runner.setup()
            try:
                site = web.TCPSite(runner, host, port)
                await site.start()
                bound = runner.addresses[0][1] if runner.addresses else port
                ready(int(bound))
                await stop.wait()
            finally:
                await runner.cleanup()

        asyncio.run(main())


__all__ = ["STATIC", "TEMPLATES", "DashboardSession", "WebDashboard"]
