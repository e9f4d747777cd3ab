"""Fetching a prompt URL: one time budget, checked addresses, bounded body, one-line errors.

The connections come from :mod:`dynamic_prompt.store.netguard` (the budget for
DNS, connect, TLS, headers and body; the address checks of a restrictive policy);
this module adds urllib's request, the redirect rules (http(s) only, at most
:data:`MAX_REDIRECTS` hops, no credentials repeated to another host), the bounded
body, the charset, and a sentence for every failure. URLs in messages never carry
credentials.
"""

from __future__ import annotations

import base64
import codecs
import http.client
import socket
import ssl
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from dynamic_prompt.core.errors import SourceError
from dynamic_prompt.core.models import LoadedSource
from dynamic_prompt.core.redact import strip_credentials
from dynamic_prompt.core.text import decode_bytes, human_size, validate_text
from dynamic_prompt.core.version import __version__
from dynamic_prompt.store.netguard import BlockedAddressError, Budget, FetchStopped, Guard, Stop
from dynamic_prompt.store.source_policy import Remedy, SourcePolicy, SourceRefusedError

#: Redirects followed before giving up (browsers use about 20; a prompt URL
#: that needs more than a few is misconfigured).
MAX_REDIRECTS = 10

_CHUNK = 64 * 1024


class _RefusedRedirect(Exception):
    """A redirect to something other than http(s) (file://, ftp://, ...)."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """urllib's redirect handling, limited to http(s) targets and MAX_REDIRECTS hops.

    ``hops`` collects each target followed, for messages about a refused hop.
    """

    max_redirections = MAX_REDIRECTS

    def __init__(self, hops: list[str]) -> None:
        super().__init__()
        self.hops = hops

    def http_error_302(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
    ) -> Any:
        # Checked before urllib's own test, which refuses file:// with a
        # confusing "HTTP 302" error and lets ftp:// through.
        location = headers.get("location") or headers.get("uri")
        if location:
            target = urljoin(req.full_url, location)
            if urlsplit(target).scheme.lower() not in ("http", "https"):
                fp.close()
                raise _RefusedRedirect(target)
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        # urllib would follow ftp:// too; a prompt URL has no business there.
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise _RefusedRedirect(newurl)
        self.hops.append(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _request(url: str, shown: str) -> tuple[urllib.request.Request, str]:
    """The request for ``url`` and ``host[:port]`` for messages; SourceError if it is no http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SourceError(f"{shown} is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise SourceError(f"{shown} is not a URL; start it with https://.")
    if scheme not in ("http", "https"):
        raise SourceError(f"Cannot load from {scheme}:// URLs; use an http(s) URL or a file path.")
    if not parts.hostname:
        raise SourceError(f"{shown} is not a valid URL (it names no host).")
    where = f"{parts.hostname}:{port}" if port else parts.hostname

    # Credentials leave the URL (urllib would send them nowhere useful) and
    # become a Basic auth header that is not repeated to a redirect target.
    netloc = parts.netloc.rpartition("@")[2]
    request = urllib.request.Request(
        urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
        headers={
            "User-Agent": f"dynamic-prompt/{__version__}",
            "Accept": "text/plain, text/markdown, text/*;q=0.9, */*;q=0.5",
        },
    )
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        request.add_unredirected_header(
            "Authorization", "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        )
    return request, where


def read_url(url: str, max_bytes: int, budget: Budget, policy: SourcePolicy) -> LoadedSource:
    shown = strip_credentials(url)
    request, where = _request(url, shown)
    guard = Guard(budget, allow_private=policy.private_urls)
    hops: list[str] = []
    opener = urllib.request.build_opener(_RedirectHandler(hops), *guard.handlers())
    try:
        with opener.open(request, timeout=budget.timeout) as response:
            data = _read_body(response, shown, max_bytes, budget)
            charset = response.headers.get_content_charset()
    except BlockedAddressError as exc:
        via = f"{shown} redirected to {strip_credentials(hops[-1])}, which leads to" if hops else f"{shown} leads to"
        raise SourceRefusedError(
            f"{via} {exc.described}, which this server does not fetch.", Remedy.PRIVATE_URLS
        ) from None
    except _RefusedRedirect as exc:
        target = strip_credentials(exc.target)
        raise SourceError(
            f"{shown} redirected to {target}; only http(s) redirects are followed."
        ) from None
    except urllib.error.HTTPError as exc:
        exc.close()
        raise SourceError(_http_error_message(shown, exc)) from None
    except urllib.error.URLError as exc:
        raise SourceError(_unreachable(where, shown, exc.reason, budget)) from None
    except http.client.HTTPException as exc:
        detail = type(exc).__name__ if not str(exc) else str(exc)
        raise SourceError(
            f"Could not read {shown}: the server broke off the answer ({detail})."
        ) from None
    except OSError as exc:  # TimeoutError (the budget) included
        raise SourceError(_unreachable(where, shown, exc, budget)) from None
    except ValueError as exc:  # e.g. a control character in the URL
        raise SourceError(f"{shown} is not a valid URL ({exc}).") from None
    return LoadedSource(_decode_body(data, charset, shown, max_bytes), shown)


def _read_body(
    response: http.client.HTTPResponse, shown: str, max_bytes: int, budget: Budget
) -> bytes:
    """At most ``max_bytes + 1`` bytes of the body, within the time budget."""
    length = response.headers.get("Content-Length", "").strip()
    if length.isdigit() and int(length) > max_bytes:
        raise SourceError(f"{shown} is {human_size(int(length))}, over the {human_size(max_bytes)} limit.")
    chunks: list[bytes] = []
    total = 0
    while total <= max_bytes:
        budget.remaining()  # raises once the budget is spent, even for a fast endless stream
        # read1: at most one socket read, so the budget is looked at often.
        chunk = response.read1(min(_CHUNK, max_bytes + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > max_bytes:
        raise SourceError(f"{shown} is over the {human_size(max_bytes)} limit.")
    return b"".join(chunks)


def _decode_body(data: bytes, charset: str | None, shown: str, max_bytes: int) -> str:
    """Body bytes to text using the declared charset (UTF-8 when none)."""
    name = (charset or "utf-8").strip().lower()
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise SourceError(f"{shown} declares an unknown charset {name!r}.") from None
    if codec == "utf-8":
        text = decode_bytes(data, what=shown, max_bytes=max_bytes)
    else:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{shown} is not valid {name} text (bad byte at {exc.start}) as it claims."
            ) from None
        text = text.removeprefix("\ufeff")
        nul = text.find("\x00")
        if nul >= 0:
            raise SourceError(f"{shown} is not text (binary data at character {nul}).")
    return validate_text(text, max_bytes=max_bytes, what=shown)


def _http_error_message(shown: str, exc: urllib.error.HTTPError) -> str:
    code = exc.code
    phrase = http.client.responses.get(code, "")
    if 300 <= code < 400:
        # urllib turns a loop or too many hops into an HTTPError with this text.
        if "infinite loop" in str(exc.msg):
            return f"{shown} redirected too many times (a loop, or more than {MAX_REDIRECTS} hops)."
        return f"{shown} answered HTTP {code} {phrase} without a usable redirect."
    reason = str(exc.reason or "").strip() or phrase
    return f"{shown} answered HTTP {code} {reason}." if reason else f"{shown} answered HTTP {code}."


def _unreachable(where: str, shown: str, reason: object, budget: Budget) -> str:
    """One line for a fetch that failed before a complete answer."""
    prefix = f"Could not reach {where}"
    if isinstance(reason, FetchStopped) and reason.why is Stop.CANCELLED:
        return f"Stopped fetching {shown}: the request was cancelled."
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        # Some of an answer came: the server is there but too slow (or dripping on purpose).
        if budget.answered:
            return f"Could not read {shown}: no complete answer within {budget.timeout:g} s."
        return f"{prefix}: timed out after {budget.timeout:g} s."
    if isinstance(reason, socket.gaierror):
        return f"{prefix}: the host name does not resolve."
    if isinstance(reason, ConnectionRefusedError):
        return f"{prefix}: connection refused."
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"{prefix}: its TLS certificate is not trusted ({reason.verify_message})."
    if isinstance(reason, ssl.SSLError):
        return f"{prefix}: TLS failed ({reason.reason or reason})."
    if isinstance(reason, OSError) and reason.strerror:
        return f"{prefix}: {reason.strerror[0].lower()}{reason.strerror[1:]}."
    return f"{prefix}: {reason}."
