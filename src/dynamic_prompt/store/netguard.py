"""What a URL fetch may reach and how long it may take: checked addresses, one time budget.

:mod:`dynamic_prompt.store.sources` fetches prompt URLs with :mod:`urllib.request`;
this module gives it the connections it uses (see :meth:`Guard.handlers`):

- **one budget** (:class:`Budget`) for the whole fetch: the DNS lookup (run in a
  daemon thread, waited for in slices), the connect (non-blocking, waited for in
  slices), the TLS handshake, the status line, the headers and the body. Every
  blocking socket call waits at most :data:`SLICE` seconds at a time and then
  looks at the clock and at a :class:`Cancellation`, so a server that drips one
  byte every few seconds cannot stretch a fetch past its budget, and a fetch
  whose caller went away ends within a slice. No other thread ever touches the
  sockets (a watchdog that shuts sockets down from outside would race with their
  closing: the number of a closed socket may already belong to another one);
- **checked addresses**: when private addresses are refused, every address the
  host name resolves to is judged (:func:`address_refusal`) for the first request
  and for every redirect hop (each hop opens its own connection here), and the
  socket connects to exactly the address that was judged: there is no second
  lookup for a rebinding DNS server to answer differently. HTTPS still verifies
  the certificate against the host name (it is the TLS server name, not the address).

Only the standard library; nothing here knows about prompts.
"""

from __future__ import annotations

import enum
import errno
import http.client
import ipaddress
import os
import selectors
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from dynamic_prompt.core.errors import SourceError

__all__ = [
    "SLICE",
    "BlockedAddressError",
    "Budget",
    "Cancellation",
    "FetchStopped",
    "Guard",
    "Stop",
    "address_refusal",
    "admitted_addresses",
]

SLICE = 0.25
"""The longest a blocking socket call waits before the budget and the cancellation are looked at again."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddrInfo = tuple[Any, Any, int, str, tuple[Any, ...]]
"""One row of :func:`socket.getaddrinfo`: family, type, proto, canonname, sockaddr."""
Resolver = Callable[[str, int], Sequence[AddrInfo]]

_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IN_PROGRESS = {errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN, getattr(errno, "WSAEWOULDBLOCK", -1)}


# -- time ------------------------------------------------------------------------------------------


class Cancellation:
    """Lets another thread stop a fetch in progress (the MCP server, when its client goes away)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the fetch to stop; it does within :data:`SLICE` seconds."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()


class Stop(enum.Enum):
    """Why a fetch stopped before its end."""

    EXPIRED = "expired"
    CANCELLED = "cancelled"


class FetchStopped(TimeoutError):
    """The budget was spent, or the fetch was cancelled.

    A :class:`TimeoutError` (an :class:`OSError`), so that http.client and urllib
    treat it as the socket error it replaces and let it through.
    """

    def __init__(self, why: Stop, answered: bool) -> None:
        super().__init__(why.value)
        self.why = why
        self.answered = answered


class Budget:
    """The time one fetch may take, from the DNS lookup to the last body byte.

    Attributes:
        timeout: the whole budget, in seconds.
        answered: whether any byte of an HTTP answer arrived (for the message:
            "could not reach" when nothing did, "no complete answer" when some did).
    """

    def __init__(self, timeout: float, cancel: Cancellation | None = None) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.cancel = cancel or Cancellation()
        self.answered = False

    def remaining(self) -> float:
        """Seconds left; raises :class:`FetchStopped` when none are, or the fetch was cancelled."""
        if self.cancel.cancelled:
            raise FetchStopped(Stop.CANCELLED, self.answered)
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise FetchStopped(Stop.EXPIRED, self.answered)
        return left

    def slice(self) -> float:
        """How long the next blocking wait may be (raises as :meth:`remaining` does)."""
        return min(self.remaining(), SLICE)


def _sliced(budget: Budget, sock: socket.socket, call: Callable[[], Any]) -> Any:
    """``call()`` (one blocking socket operation), retried slice by slice until the budget is spent.

    Safe to retry: a timed-out recv consumed nothing, and a timed-out TLS read or
    handshake resumes where it stopped (the same contract as a non-blocking socket).
    """
    while True:
        sock.settimeout(budget.slice())
        try:
            return call()
        except FetchStopped:
            raise
        except TimeoutError:
            continue


# -- addresses ---------------------------------------------------------------------------------------


def address_refusal(address: IPAddress) -> str | None:
    """Why ``address`` is not public (``"loopback"``, ``"private"``, ...), or ``None`` if it is.

    An IPv6 address that carries an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``, 6to4,
    the NAT64 well-known prefix) is judged by the IPv4 address it leads to.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refusal(embedded)
    checks: tuple[tuple[str, bool], ...] = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("unique-local", isinstance(address, ipaddress.IPv6Address) and address in _UNIQUE_LOCAL),
        ("private", address.is_private or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)),
        ("non-public", not address.is_global),  # e.g. 100.64.0.0/10, shared by carriers
    )
    return next((category for category, hit in checks if hit), None)


class BlockedAddressError(SourceError):
    """A host resolved to an address the policy does not fetch."""

    def __init__(self, host: str, address: str, category: str) -> None:
        article = "an" if category[0] in "aeiou" else "a"
        self.described = f"{address}, {article} {category} address"
        """``127.0.0.1, a loopback address``: for messages."""
        super().__init__(f"{host} leads to {self.described}, which is not fetched.")
        self.host = host
        self.address = address
        self.category = category


def _lookup(host: str, port: int, budget: Budget) -> list[AddrInfo]:
    """``getaddrinfo`` within the budget: it cannot be interrupted, so it runs in a daemon
    thread that is left behind (to end on its own) when the budget runs out first."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    else:  # an address literal: no DNS query, nothing to wait for (and no thread to start)
        return list(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST))
    done = threading.Event()
    outcome: list[Any] = []

    def resolve() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM))
        except OSError as exc:
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=resolve, name="dprompt-dns", daemon=True).start()
    while not done.wait(budget.slice()):
        pass
    if isinstance(outcome[0], OSError):
        raise outcome[0]
    return list(outcome[0])


def admitted_addresses(
    host: str,
    port: int,
    *,
    allow_private: bool,
    budget: Budget | None = None,
    resolve: Resolver | None = None,
) -> list[AddrInfo]:
    """The addresses ``host`` resolves to, all of them judged; one lookup, no second chance.

    ``resolve`` is the lookup (``(host, port) -> getaddrinfo rows``; default: the
    system's, bounded by ``budget``). Unless ``allow_private``, a host with any
    non-public address is refused with :class:`BlockedAddressError`: one bad answer
    among good ones is what a rebinding attack looks like.
    """
    if resolve is None:
        rows = _lookup(host, port, budget or Budget(10.0))
    else:
        rows = list(resolve(host, port))
    if allow_private:
        return rows
    for row in rows:
        shown = str(row[4][0])  # as the resolver wrote it (3.11 would print ::ffff:7f00:1)
        category = address_refusal(ipaddress.ip_address(shown.split("%", 1)[0]))
        if category is not None:
            raise BlockedAddressError(host, shown, category)
    return rows


# -- sockets that keep to the budget ---------------------------------------------------------------


class _BudgetSocket(socket.socket):
    """A TCP socket whose every blocking call keeps to :attr:`budget`."""

    budget: Budget

    def connect_within(self, sockaddr: tuple[Any, ...]) -> None:
        """Connect without blocking for more than a slice at a time."""
        self.setblocking(False)
        code = self.connect_ex(sockaddr)
        if code in _IN_PROGRESS:
            with selectors.DefaultSelector() as selector:
                selector.register(self, selectors.EVENT_WRITE)
                while not selector.select(self.budget.slice()):
                    pass
            code = self.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise OSError(code, os.strerror(code))

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        count = int(_sliced(self.budget, self, lambda: super(_BudgetSocket, self).recv_into(buffer, nbytes, flags)))
        self.budget.answered = self.budget.answered or count > 0
        return count

    def sendall(self, data: Any, flags: int = 0) -> None:
        # A request is small: the kernel takes it at once unless the peer stalls, which the budget bounds.
        self.settimeout(self.budget.remaining())
        super().sendall(data, flags)


class _BudgetSSLSocket(ssl.SSLSocket):
    """The TLS side of :class:`_BudgetSocket` (``SSLContext.sslsocket_class``)."""

    budget: Budget

    def handshake_within(self) -> None:
        """The TLS handshake, slice by slice."""
        _sliced(self.budget, self, self.do_handshake)

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        count = int(_sliced(self.budget, self, lambda: super(_BudgetSSLSocket, self).recv_into(buffer, nbytes, flags)))
        self.budget.answered = self.budget.answered or count > 0
        return count

    def sendall(self, data: Any, flags: int = 0) -> None:
        self.settimeout(self.budget.remaining())
        super().sendall(data, flags)


class Guard:
    """The connections of one fetch: within ``budget``, and to public addresses unless ``allow_private``."""

    def __init__(self, budget: Budget, *, allow_private: bool) -> None:
        self.budget = budget
        self.allow_private = allow_private

    def connect(self, host: str, port: int) -> socket.socket:
        """A socket connected to a judged address of ``host`` (the first that answers)."""
        problem: OSError | None = None
        for family, kind, proto, _, sockaddr in admitted_addresses(
            host, port, allow_private=self.allow_private, budget=self.budget
        ):
            sock = _BudgetSocket(family, kind, proto)
            sock.budget = self.budget
            try:
                sock.connect_within(sockaddr)
            except FetchStopped:
                sock.close()
                raise
            except OSError as exc:
                sock.close()
                problem = exc
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        raise problem or OSError(errno.EHOSTUNREACH, "no address to connect to")

    def tls(self, sock: socket.socket, server_hostname: str, context: ssl.SSLContext) -> ssl.SSLSocket:
        """``sock`` wrapped in TLS, the certificate verified against ``server_hostname``."""
        context.sslsocket_class = _BudgetSSLSocket
        wrapped = context.wrap_socket(sock, server_hostname=server_hostname, do_handshake_on_connect=False)
        assert isinstance(wrapped, _BudgetSSLSocket)
        wrapped.budget = self.budget
        try:
            wrapped.handshake_within()
        except BaseException:
            wrapped.close()
            raise
        return wrapped

    def handlers(self) -> list[urllib.request.BaseHandler]:
        """The urllib handlers that open every connection of the fetch (every redirect hop too)."""
        handlers: list[urllib.request.BaseHandler] = [_HTTPHandler(self), _HTTPSHandler(self)]
        if not self.allow_private:
            # Environment proxies (http_proxy, https_proxy) are off: a proxy would
            # connect on our behalf to whatever address it resolves, past the check.
            handlers.append(urllib.request.ProxyHandler({}))
        return handlers


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, *, guard: Guard, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._guard = guard

    def connect(self) -> None:
        self.sock = self._guard.connect(self.host, self.port)
        if self._tunnel_host:  # type: ignore[attr-defined]  # set by set_tunnel (a proxy)
            self._tunnel()  # type: ignore[attr-defined]


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, *, guard: Guard, **kwargs: Any) -> None:
        kwargs.pop("check_hostname", None)
        kwargs["context"] = kwargs.get("context") or ssl.create_default_context()
        super().__init__(host, **kwargs)
        self._guard = guard

    def connect(self) -> None:
        self.sock = self._guard.connect(self.host, self.port)
        tunnel = self._tunnel_host  # type: ignore[attr-defined]  # set by set_tunnel (a proxy)
        if tunnel:
            self._tunnel()  # type: ignore[attr-defined]
        self.sock = self._guard.tls(self.sock, tunnel or self.host, self._context)  # type: ignore[attr-defined]


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, guard: Guard) -> None:
        super().__init__()
        self._guard = guard

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        def connection(host: str, **kwargs: Any) -> _HTTPConnection:
            return _HTTPConnection(host, guard=self._guard, **kwargs)

        return self.do_open(connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, guard: Guard) -> None:
        super().__init__()
        self._guard = guard

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        def connection(host: str, **kwargs: Any) -> _HTTPSConnection:
            return _HTTPSConnection(host, guard=self._guard, **kwargs)

        return self.do_open(connection, req)
