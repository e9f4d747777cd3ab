"""Small real HTTP servers for the source-loading tests: a site with fixed routes, and a drip.

Both listen on a real socket in a daemon thread; nothing is mocked. :class:`Site`
answers a few paths (a prompt, a redirect to a URL the test chooses, ...) and
counts the requests it got, so a test can prove that a refused fetch never
reached it. :class:`Drip` sends a fixed opening at once and then one byte every
``interval`` seconds, forever: a server that always looks alive and never finishes.
"""

from __future__ import annotations

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROMPT = "You are the prompt served over HTTP.\n"


class _SiteHandler(BaseHTTPRequestHandler):
    server: _SiteServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.server.body.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    hits: list[str]
    redirect_to: str
    body: str

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class Site:
    """An HTTP server on ``host`` (port 0: any free one): ``/redirect`` goes to :attr:`redirect_to`,
    every other path answers :attr:`body`. :attr:`hits` lists the paths requested. With ``tls``
    (a server context) it speaks HTTPS."""

    __test__ = False

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, body: str = PROMPT, tls: ssl.SSLContext | None = None
    ) -> None:
        self.server = _SiteServer((host, port), _SiteHandler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.server.hits = []
        self.server.redirect_to = "/"
        self.server.body = body
        self.host = host
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def hits(self) -> list[str]:
        return self.server.hits

    @property
    def redirect_to(self) -> str:
        return self.server.redirect_to

    @redirect_to.setter
    def redirect_to(self, url: str) -> None:
        self.server.redirect_to = url

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def __enter__(self) -> Site:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Drip:
    """Accepts connections, sends ``opening`` at once, then ``byte`` every ``interval`` s, forever.

    ``opening=b"HTTP/1.1 200 OK"`` with the default byte drips a status line that
    never ends; add ``"\\r\\nX-Pad: "`` to drip a header instead. :attr:`connected`
    is set once a client has connected and sent its request.
    """

    __test__ = False

    def __init__(self, opening: bytes = b"H", byte: bytes = b"T", interval: float = 2.0) -> None:
        self.opening = opening
        self.byte = byte
        self.interval = interval
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.connected = threading.Event()
        self.stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def url(self, path: str = "/prompt.md", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(5)
                conn.recv(65536)  # the request (or a TLS ClientHello): whatever comes first
                self.connected.set()
                conn.sendall(self.opening)
                while not self.stopped.wait(self.interval):
                    conn.sendall(self.byte)
            except OSError:
                pass  # the client gave up: that is what the tests want

    def __enter__(self) -> Drip:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.listener.close()
