"""Prompt text from a file, an http(s) URL, or a literal string.

Every way in is bounded (never more than ``max_bytes + 1`` bytes are read, a
huge file is refused from its size alone, a URL has a time budget) and every
failure is one sentence a person can act on: a :class:`SourceError` when the
source cannot be read as text, an :class:`InvalidTextError` when the text was
read but cannot be stored (empty, whitespace only, ...). URLs shown in
messages or recorded as a source never carry credentials.

No new dependency: URLs are fetched with :mod:`urllib.request`.
"""

from __future__ import annotations

import base64
import codecs
import http.client
import os
import re
import socket
import ssl
import stat
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from dynamic_prompt import __version__
from dynamic_prompt.core.errors import InvalidTextError, SourceError
from dynamic_prompt.core.redact import strip_credentials

__all__ = [
    "DEFAULT_MAX_BYTES",
    "LoadedSource",
    "SourcePolicy",
    "decode_bytes",
    "read_source",
    "source_kind",
    "validate_text",
]

#: The largest prompt accepted by default (UTF-8 bytes).
DEFAULT_MAX_BYTES = 4 * 1024 * 1024

#: Redirects followed before giving up (browsers use about 20; a prompt URL
#: that needs more than a few is misconfigured).
MAX_REDIRECTS = 10

#: A string longer than this is never taken for a path (PATH_MAX on Linux).
MAX_PATH_CHARS = 4096

_KINDS = ("auto", "file", "url", "text")
_PATH_SUFFIXES = (".md", ".txt", ".prompt", ".markdown", ".llmd")
_HTTP = re.compile(r"^https?://", re.IGNORECASE)
_ANY_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_LOOKS_LIKE_HOST = re.compile(r"^[\w-]+(\.[\w-]+)+/")
_CHUNK = 64 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True, slots=True)
class LoadedSource:
    """Text read from a source, and what to record as its origin.

    ``source`` is ``"file:/abs/path"``, the URL without any user:password
    (and with secret query parameters masked), or ``"text"``.
    """

    text: str
    source: str


# --------------------------------------------------------------------------
# Checks shared by every way in
# --------------------------------------------------------------------------


def _size(n: int) -> str:
    """A byte count for a person: exact, plus a readable unit when large."""
    if n < 1024:
        return f"{n:,} bytes"
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit} ({n:,} bytes)"
    raise AssertionError("unreachable")


def validate_text(
    text: str, *, max_bytes: int = DEFAULT_MAX_BYTES, what: str = "Prompt text"
) -> str:
    """Return ``text`` if it can be stored as a prompt, else raise InvalidTextError.

    The one check for any text about to be stored: a ``str``, UTF-8 encodable
    (no lone surrogates), at most ``max_bytes`` once encoded, not empty or
    whitespace only, and without NUL characters. ``what`` names the text in
    the message ("File /x/p.md is empty.").
    """
    if not isinstance(text, str):
        raise InvalidTextError(f"{what} must be a string, not {type(text).__name__}.")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidTextError(
            f"{what} is not valid Unicode (a lone surrogate at character {exc.start})."
        ) from None
    if size > max_bytes:
        raise InvalidTextError(f"{what} is {_size(size)}, over the {_size(max_bytes)} limit.")
    if not text:
        raise InvalidTextError(f"{what} is empty.")
    if text.isspace():
        raise InvalidTextError(f"{what} is only whitespace.")
    nul = text.find("\x00")
    if nul >= 0:
        raise InvalidTextError(
            f"{what} contains a NUL character (at character {nul}); prompts must be plain text."
        )
    return text


def decode_bytes(data: bytes, *, what: str, max_bytes: int) -> str:
    """Decode ``data`` as strict UTF-8 text (a UTF-8 BOM is dropped).

    Raises SourceError naming ``what`` when ``data`` is over ``max_bytes``, is
    UTF-16/32, holds binary data (a NUL byte) or is not valid UTF-8, giving
    the byte offset of the first offending byte. Emptiness is not checked
    here: :func:`validate_text` does that for every source alike.
    """
    if len(data) > max_bytes:
        raise SourceError(f"{what} is over the {_size(max_bytes)} limit.")
    if data.startswith(_UTF16_32_BOMS):
        raise SourceError(f"{what} is UTF-16 or UTF-32 text; save it as UTF-8.")
    offset = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    body = bytes(data[offset:])
    nul = body.find(b"\x00")
    try:
        text = body.decode("utf-8")
        bad = -1
    except UnicodeDecodeError as exc:
        bad = exc.start
    if nul >= 0:
        # A NUL byte means binary; report whichever bad byte comes first.
        first = nul if bad < 0 else min(nul, bad)
        raise SourceError(f"{what} is not UTF-8 text (binary data at byte {first + offset}).")
    if bad >= 0:
        raise SourceError(
            f"{what} is not UTF-8 text (byte 0x{body[bad]:02X} at byte {bad + offset} "
            "is not valid UTF-8; save it as UTF-8)."
        )
    return text


# --------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------


def source_kind(source: str, kind: str = "auto") -> str:
    """How :func:`read_source` reads ``source``: ``"file"``, ``"url"`` or ``"text"``.

    ``kind`` other than ``"auto"`` is returned as it is. ``"auto"`` decides:

    - a single line starting ``http://`` or ``https://`` (no spaces) is a URL;
      another ``scheme://`` (``ftp://``, ``file://``) is refused;
    - a single line naming an existing path is a file;
    - a single word that looks like a path (has ``/`` or ``\\``, starts with
      ``~`` or ``.``, or ends in .md/.txt/.prompt/.markdown/.llmd) but does
      not exist is an error, not a one-word prompt;
    - anything else is the prompt text itself.

    Raises SourceError for a refused scheme or a path that does not exist.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)}, not {kind!r}")
    if kind != "auto":
        return kind
    candidate = source.strip()
    one_line = bool(candidate) and "\n" not in candidate and "\r" not in candidate
    one_word = one_line and not any(ch.isspace() for ch in candidate)
    if one_word and _HTTP.match(candidate):
        return "url"
    if one_word and (scheme := _ANY_SCHEME.match(candidate)):
        raise SourceError(
            f"Cannot load from {scheme.group(1)}:// URLs; use an http(s) URL or a file path."
        )
    if one_line and len(source) <= MAX_PATH_CHARS:
        # Exactly as given first: a file name may really end in a space.
        if any(_exists(path) for path in (source, candidate)):
            return "file"
    if one_word and _looks_like_path(candidate):
        hint = " (for a URL, start it with https://)" if _LOOKS_LIKE_HOST.match(candidate) else ""
        raise SourceError(f"No such file: {candidate}{hint}")
    # A sentence that happens to start with a URL is text, not a fetch.
    return "text"


def source_path(source: str) -> str:
    """The path a ``"file"`` source names: as given if that exists, else stripped."""
    return source if _exists(source) else source.strip()


@dataclass(frozen=True)
class SourcePolicy:
    """Which sources a caller other than the person at the keyboard may load from.

    The MCP server reads sources on behalf of a model. By default it may read
    any file the server process can and fetch any http(s) URL, as the command
    line does; an operator narrows that with ``dprompt mcp --files-under DIR``,
    ``--no-files`` and ``--no-urls``.

    Attributes:
        files: whether files may be read at all.
        file_roots: when not empty, files are read only inside these folders
            (after resolving symlinks, so a link cannot lead out of them).
        urls: whether http(s) URLs may be fetched.
    """

    files: bool = True
    file_roots: tuple[str, ...] = ()
    urls: bool = True

    def admit(self, source: str, kind: str = "auto") -> tuple[str, str]:
        """``(source, kind)`` to read, or SourceError saying which rule refuses it.

        A file comes back as its resolved absolute path with kind ``"file"``, so
        what is read is exactly what was checked.
        """
        if kind in ("auto", "file") and (not self.files or self.file_roots):
            # Judge a path by the policy before anyone looks at the disk, so a refusal
            # says the same whether the file exists or not (no probing outside the roots).
            given = source if kind == "file" else source.strip()
            if kind == "file" or (
                _one_word(given) and not _ANY_SCHEME.match(given) and (_looks_like_path(given) or _exists(given))
            ):
                self._check_path(given)
        how = source_kind(source, kind)
        if how == "url" and not self.urls:
            raise SourceError("This server does not fetch URLs; pass the prompt text itself.")
        if how != "file":
            return source, how
        given = source if kind == "file" else source_path(source)
        return self._check_path(given), "file"

    def _check_path(self, given: str) -> str:
        """The resolved path of ``given`` if the policy admits it, else SourceError."""
        if not self.files:
            raise SourceError("This server does not read files; pass the prompt text itself.")
        try:
            real = os.path.realpath(os.path.expanduser(given))
        except (OSError, ValueError):
            raise SourceError("That is not a usable file path.") from None
        if self.file_roots:
            roots = [os.path.realpath(os.path.expanduser(root)) for root in self.file_roots]
            if not any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots):
                raise SourceError(
                    f"{given.strip()[:200]} is outside the folders this server may read "
                    f"({', '.join(self.file_roots)})."
                )
        return real


def _one_word(text: str) -> bool:
    return bool(text) and len(text) <= MAX_PATH_CHARS and not any(ch.isspace() for ch in text)


def read_source(
    source: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = 10.0,
    kind: str = "auto",
) -> LoadedSource:
    """Read prompt text from a file path, an http(s) URL, or literal text.

    ``kind`` forces one reading; ``"auto"`` decides as :func:`source_kind` says.

    Raises SourceError (cannot be read as text) or InvalidTextError (read,
    but empty/too large/not storable), always with a one-line message.
    """
    if isinstance(source, os.PathLike):
        return _read_file(os.fspath(source), max_bytes)
    if not isinstance(source, str):
        raise SourceError(
            f"A prompt source must be text, a path or a URL, not {type(source).__name__}."
        )
    how = source_kind(source, kind)
    if how == "url":
        return _read_url(source.strip(), max_bytes, timeout)
    if how == "file":
        return _read_file(source if kind == "file" else source_path(source), max_bytes)
    return LoadedSource(validate_text(source, max_bytes=max_bytes), "text")


def _exists(path: str) -> bool:
    try:
        return os.path.exists(os.path.expanduser(path))
    except (OSError, ValueError):  # embedded NUL, name too long, ...
        return False


def _looks_like_path(word: str) -> bool:
    return (
        "/" in word
        or "\\" in word
        or word.startswith(("~", "."))
        or word.lower().endswith(_PATH_SUFFIXES)
    )


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def _read_file(given: str, max_bytes: int) -> LoadedSource:
    path = os.path.abspath(os.path.expanduser(given))
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise SourceError(f"{path} is a directory, not a file.")
        # Refuse a big file from its size alone, before reading a byte.
        if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
            raise SourceError(
                f"File {path} is {_size(info.st_size)}, over the {_size(max_bytes)} limit."
            )
        # Bounded read: a FIFO, a device or a file growing under us cannot
        # make us read more than one byte past the limit.
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise SourceError(f"No such file: {given.strip()}") from None
    except PermissionError:
        raise SourceError(f"Permission denied: {path}") from None
    except IsADirectoryError:
        raise SourceError(f"{path} is a directory, not a file.") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise SourceError(f"Cannot read {path}: {reason}.") from None
    what = f"File {path}"
    if len(data) > max_bytes:
        raise SourceError(f"{what} is over the {_size(max_bytes)} limit.")
    text = decode_bytes(data, what=what, max_bytes=max_bytes)
    return LoadedSource(validate_text(text, max_bytes=max_bytes, what=what), f"file:{path}")


# --------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------


class _RefusedRedirect(Exception):
    """A redirect to something other than http(s) (file://, ftp://, ...)."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """urllib's redirect handling, limited to http(s) targets and MAX_REDIRECTS hops."""

    max_redirections = MAX_REDIRECTS

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
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _read_url(url: str, max_bytes: int, timeout: float) -> LoadedSource:
    shown = strip_credentials(url)
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

    opener = urllib.request.build_opener(_RedirectHandler())
    deadline = time.monotonic() + timeout
    try:
        with opener.open(request, timeout=timeout) as response:
            data = _read_body(response, shown, max_bytes, deadline, timeout)
            charset = response.headers.get_content_charset()
    except _RefusedRedirect as exc:
        target = strip_credentials(exc.target)
        raise SourceError(
            f"{shown} redirected to {target}; only http(s) redirects are followed."
        ) from None
    except urllib.error.HTTPError as exc:
        exc.close()
        raise SourceError(_http_error_message(shown, exc)) from None
    except urllib.error.URLError as exc:
        raise SourceError(_unreachable(where, exc.reason, timeout)) from None
    except TimeoutError:  # socket.timeout is an alias of it
        raise SourceError(f"Could not reach {where}: timed out after {timeout:g} s.") from None
    except http.client.HTTPException as exc:
        detail = type(exc).__name__ if not str(exc) else str(exc)
        raise SourceError(
            f"Could not read {shown}: the server broke off the answer ({detail})."
        ) from None
    except OSError as exc:
        raise SourceError(_unreachable(where, exc, timeout)) from None
    except ValueError as exc:  # e.g. a control character in the URL
        raise SourceError(f"{shown} is not a valid URL ({exc}).") from None
    return LoadedSource(_decode_body(data, charset, shown, max_bytes), shown)


def _read_body(
    response: http.client.HTTPResponse, shown: str, max_bytes: int, deadline: float, timeout: float
) -> bytes:
    """At most ``max_bytes + 1`` bytes of the body, within the time budget."""
    length = response.headers.get("Content-Length", "").strip()
    if length.isdigit() and int(length) > max_bytes:
        raise SourceError(f"{shown} is {_size(int(length))}, over the {_size(max_bytes)} limit.")
    chunks: list[bytes] = []
    total = 0
    while total <= max_bytes:
        if time.monotonic() > deadline:
            # A server dripping bytes slower than the timeout per byte would
            # otherwise keep us forever: the timeout is a budget for it all.
            raise SourceError(f"Could not read {shown}: no complete answer within {timeout:g} s.")
        # read1: at most one socket read, so the deadline is checked often.
        chunk = response.read1(min(_CHUNK, max_bytes + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > max_bytes:
        raise SourceError(f"{shown} is over the {_size(max_bytes)} limit.")
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


def _unreachable(where: str, reason: object, timeout: float) -> str:
    """One line for a connection that failed before any HTTP answer."""
    prefix = f"Could not reach {where}"
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return f"{prefix}: timed out after {timeout:g} s."
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
