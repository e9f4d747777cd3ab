"""Prompt text from a file, an http(s) URL, or a literal string.

Every way in is bounded (never more than ``max_bytes + 1`` bytes are read, a
huge file is refused from its size alone, a URL has one time budget for DNS,
connect, TLS, headers and body) and every failure is one sentence a person can
act on: a :class:`SourceError` when the source cannot be read as text, an
:class:`InvalidTextError` when the text was read but cannot be stored (empty,
whitespace only, ...). URLs shown in messages or recorded as a source never
carry credentials.

Who may read what is a :class:`SourcePolicy`. The person at the keyboard (the
CLI, the dashboard) reads any file and any URL; the MCP server, which reads on a
model's behalf, gets only what its operator allowed. Under such a restrictive
policy a path is judged before anyone looks at the disk, what is checked is the
file actually opened (its descriptor), and a URL may reach only public addresses
unless private ones are allowed (see :mod:`dynamic_prompt.store.netguard`). A
refusal by the policy is a :class:`SourceRefusedError` naming what the operator
could allow.

No new dependency: URLs are fetched with :mod:`urllib.request`.
"""

from __future__ import annotations

import base64
import codecs
import enum
import errno
import http.client
import os
import re
import socket
import ssl
import stat
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from dynamic_prompt import __version__
from dynamic_prompt.core.errors import InvalidTextError, SourceError
from dynamic_prompt.core.redact import strip_credentials
from dynamic_prompt.store.netguard import (
    BlockedAddressError,
    Budget,
    Cancellation,
    FetchStopped,
    Guard,
    Stop,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Cancellation",
    "LoadedSource",
    "Remedy",
    "SourcePolicy",
    "SourceRefusedError",
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
_MENTIONS_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://")
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


def _one_word(text: str) -> bool:
    return bool(text) and len(text) <= MAX_PATH_CHARS and not any(ch.isspace() for ch in text)


def _names_a_path(line: str) -> bool:
    """Whether one line reads as a path from its text alone (the disk is not asked).

    Absolute, ``~``, ``./`` or ``../``, or containing a path separator; a single
    word also when it starts with a dot or ends like a prompt file (``notes.md``).
    A sentence that mentions a URL (``see https://...``) is not a path: its
    slashes are the URL's.
    """
    if line.startswith(("~", "./", "../", ".\\", "..\\")) or os.path.isabs(line):
        return True
    if _MENTIONS_URL.search(line) and not _one_word(line):
        return False
    separators = ("/", "\\", os.sep, os.altsep or "/")
    return any(sep in line for sep in separators) or (_one_word(line) and _looks_like_path(line))


# --------------------------------------------------------------------------
# Who may read what
# --------------------------------------------------------------------------


class Remedy(enum.Enum):
    """What the operator of a restrictive policy could allow, so that a refused source is admitted."""

    NONE = "none"
    FILES = "files"
    URLS = "urls"
    PRIVATE_URLS = "private-urls"


class SourceRefusedError(SourceError):
    """A source the policy does not admit (nothing was read); ``remedy`` says what could be allowed."""

    def __init__(self, message: str, remedy: Remedy = Remedy.NONE) -> None:
        super().__init__(message)
        self.remedy = remedy


_TEXT_HINT = "; to store the line itself as the prompt text, pass kind='text'"
_PLAIN_ONLY = "this server reads only plain files inside its folders"


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _lexical(path: str) -> str:
    """Absolute and normalised (``..`` folded) from the text alone: no symlink is looked at."""
    return os.path.normpath(os.path.abspath(os.path.expanduser(path)))


@dataclass(frozen=True)
class SourcePolicy:
    """Which sources may be loaded: anything for the person at the keyboard, less for a model.

    The default admits literal text only (what the MCP server allows unless its
    operator says more); :meth:`unrestricted` is the command line's.

    Attributes:
        file_roots: folders whose plain files may be read. A file must lie inside
            one of them by its path as given and by its real path, and the opened
            file is checked again (see :func:`read_source`).
        any_file: read any file the process can, as the command line does
            (symlinks followed, pipes and devices read, no folder check).
        urls: fetch http(s) URLs whose host resolves only to public addresses.
        private_urls: fetch loopback, private, link-local... addresses too (this
            implies ``urls``). Environment proxies are used only then: a proxy
            would reach private addresses on our behalf, past the check.
    """

    file_roots: tuple[str, ...] = ()
    any_file: bool = False
    urls: bool = False
    private_urls: bool = False

    @classmethod
    def unrestricted(cls) -> SourcePolicy:
        """Any file and any URL: the person at the keyboard."""
        return cls(any_file=True, urls=True, private_urls=True)

    @property
    def reads_files(self) -> bool:
        """Whether some file may be read."""
        return self.any_file or bool(self.file_roots)

    @property
    def fetches_urls(self) -> bool:
        """Whether some URL may be fetched."""
        return self.urls or self.private_urls

    def admit(self, source: str, kind: str = "auto") -> tuple[str, str]:
        """``(source, kind)`` to read, or SourceRefusedError naming the rule that refuses it.

        Under a restrictive policy (not ``any_file``) nothing here looks at the
        disk: a one-line source that names a path (see :func:`_names_a_path`) is
        judged by its text, so a refusal reads the same whether the path exists
        or not. A file comes back as its absolute path with kind ``"file"``.
        """
        how = source_kind(source, kind) if self.any_file else _kind_from_text(source, kind)
        if how == "url" and not self.fetches_urls:
            raise SourceRefusedError("This server does not fetch URLs; pass the prompt text itself.", Remedy.URLS)
        if how != "file":
            return source, how
        if self.any_file:
            return (source if kind == "file" else source_path(source)), "file"
        given = source if kind == "file" else source.strip()
        return self._judge_path(given, hint=_TEXT_HINT if kind == "auto" else ""), "file"

    def _roots(self) -> tuple[str, ...]:
        """The folders by their real paths (the operator's folders: resolving them reveals nothing)."""
        return tuple(os.path.realpath(os.path.expanduser(root)) for root in self.file_roots)

    def _outside(self, shown: str, hint: str = "") -> SourceRefusedError:
        return SourceRefusedError(
            f"{shown} is outside the folders this server may read ({', '.join(self.file_roots)}){hint}.",
            Remedy.FILES,
        )

    def _judge_path(self, given: str, hint: str) -> str:
        """The absolute path ``given`` names, if it lies inside the folders by its text alone."""
        shown = given.strip()[:200]
        if not self.file_roots:
            raise SourceRefusedError(f"This server does not read files{hint}.", Remedy.FILES)
        if "\x00" in given:
            raise SourceRefusedError("That is not a usable file path.")
        path = _lexical(given)
        lexical_roots = tuple(_lexical(root) for root in self.file_roots)
        if not _inside(path, lexical_roots + self._roots()):
            raise self._outside(shown, hint)
        return path

    def checked_real_path(self, path: str) -> str:
        """The real path of ``path`` (inside the folders by text), if it is inside them for real too."""
        real = os.path.realpath(path)
        if not _inside(real, self._roots()):
            raise self._outside(path[:200])
        return real

    def check_opened(self, fd: int, info: os.stat_result, path: str, shown: str) -> None:
        """Refuse what was opened unless it is a plain file, with one link, inside the folders."""
        # The kernel's word on what the descriptor is: a path swapped after the
        # checks above (a folder turned into a symlink) cannot fool it.
        real = _descriptor_path(fd)
        if real is None:  # a platform that cannot say: the path check is all there is
            real = os.path.realpath(path)
        if not _inside(real, self._roots()):
            raise self._outside(shown)
        if stat.S_ISDIR(info.st_mode):
            raise SourceError(f"{path} is a directory, not a file.")
        if not stat.S_ISREG(info.st_mode):
            raise SourceRefusedError(f"{shown} is not a regular file; {_PLAIN_ONLY}.")
        if info.st_nlink > 1:
            raise SourceRefusedError(
                f"{shown} has {info.st_nlink} hard links; this server reads only files with one, "
                "since another link can make a file from outside its folders appear inside."
            )


def _kind_from_text(source: str, kind: str) -> str:
    """:func:`source_kind` without looking at the disk: a line that names a path is a file."""
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)}, not {kind!r}")
    if kind != "auto":
        return kind
    candidate = source.strip()
    one_line = bool(candidate) and "\n" not in candidate and "\r" not in candidate
    if _one_word(candidate) and _HTTP.match(candidate):
        return "url"
    if _one_word(candidate) and (scheme := _ANY_SCHEME.match(candidate)):
        raise SourceError(f"Cannot load from {scheme.group(1)}:// URLs; use an http(s) URL or a file path.")
    if one_line and len(candidate) <= MAX_PATH_CHARS and _names_a_path(candidate):
        return "file"
    return "text"


_KEYBOARD = SourcePolicy.unrestricted()


def read_source(
    source: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = 10.0,
    kind: str = "auto",
    policy: SourcePolicy | None = None,
    cancel: Cancellation | None = None,
) -> LoadedSource:
    """Read prompt text from a file path, an http(s) URL, or literal text.

    ``kind`` forces one reading; ``"auto"`` decides as :func:`source_kind` says
    (under a restrictive ``policy``, as :meth:`SourcePolicy.admit` says).
    ``policy`` defaults to :meth:`SourcePolicy.unrestricted` (the person at the
    keyboard). ``timeout`` is the whole budget of a URL fetch; ``cancel`` stops
    one from another thread.

    Raises SourceError (cannot be read as text; SourceRefusedError when the policy
    refuses it) or InvalidTextError (read, but empty/too large/not storable),
    always with a one-line message.
    """
    policy = _KEYBOARD if policy is None else policy
    if isinstance(source, os.PathLike):
        source, kind = os.fspath(source), "file"
    if not isinstance(source, str):
        raise SourceError(
            f"A prompt source must be text, a path or a URL, not {type(source).__name__}."
        )
    given, how = policy.admit(source, kind)
    if how == "url":
        return _read_url(given.strip(), max_bytes, Budget(timeout, cancel), policy)
    if how == "file":
        return _read_file(given, max_bytes, policy)
    return LoadedSource(validate_text(given, max_bytes=max_bytes), "text")


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------

_seam_between_check_and_open: Callable[[str], None] | None = None
"""Test seam: called with the checked path right before it is opened (a test swaps the path there)."""

# O_NONBLOCK: a FIFO with no writer opens at once instead of waiting for one.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _read_file(given: str, max_bytes: int, policy: SourcePolicy) -> LoadedSource:
    """Open first, then check what was opened (restrictive policies), then read bounded."""
    path = os.path.abspath(os.path.expanduser(given))
    shown = given.strip()[:200]
    restricted = not policy.any_file
    if restricted:
        path = policy.checked_real_path(path)
        if _seam_between_check_and_open is not None:
            _seam_between_check_and_open(path)
    fd = _open_file(path, shown, nofollow=restricted)
    try:
        info = os.fstat(fd)
        if restricted:
            policy.check_opened(fd, info, path, shown)
        data = _read_opened(fd, info, path, max_bytes)
    finally:
        os.close(fd)
    what = f"File {path}"
    text = decode_bytes(data, what=what, max_bytes=max_bytes)
    return LoadedSource(validate_text(text, max_bytes=max_bytes, what=what), f"file:{path}")


def _open_file(path: str, shown: str, *, nofollow: bool) -> int:
    """A descriptor for ``path``; with ``nofollow`` a symlink as the last part is refused."""
    try:
        return os.open(path, _OPEN_FLAGS | (_NOFOLLOW if nofollow else 0))
    except (FileNotFoundError, NotADirectoryError):
        raise SourceError(f"No such file: {shown}") from None
    except PermissionError:
        raise SourceError(f"Permission denied: {path}") from None
    except OSError as exc:
        # ELOOP on Linux and macOS, EMLINK on FreeBSD: the name is a symlink.
        if nofollow and exc.errno in (errno.ELOOP, errno.EMLINK):
            raise SourceRefusedError(f"{shown} is a symbolic link; {_PLAIN_ONLY}.") from None
        raise SourceError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    except ValueError as exc:  # an embedded NUL
        raise SourceError(f"Cannot read {path}: {exc}.") from None


def _descriptor_path(fd: int) -> str | None:
    """The real path of an open file as the kernel knows it; ``None`` where it cannot be asked."""
    if sys.platform.startswith("linux"):
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # /proc not mounted
            return None
    if sys.platform == "darwin":
        import fcntl

        try:
            raw = fcntl.fcntl(fd, fcntl.F_GETPATH, bytes(1024))  # MAXPATHLEN
        except OSError:
            return None
        return os.fsdecode(raw.split(b"\0", 1)[0])
    # Elsewhere (Windows, the BSDs) there is no portable way: the caller falls
    # back to the path check, which a swap between check and open could fool.
    return None


def _read_opened(fd: int, info: os.stat_result, path: str, max_bytes: int) -> bytes:
    """At most ``max_bytes + 1`` bytes; a regular file too big is refused from its size alone."""
    if stat.S_ISDIR(info.st_mode):
        raise SourceError(f"{path} is a directory, not a file.")
    if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
        raise SourceError(
            f"File {path} is {_size(info.st_size)}, over the {_size(max_bytes)} limit."
        )
    try:
        if not stat.S_ISREG(info.st_mode):
            # A pipe or a device (only the person at the keyboard reads those): wait for
            # its data as a plain open would. A FIFO with no writer reads as empty.
            os.set_blocking(fd, True)
        data = _read_fd(fd, max_bytes + 1)
    except OSError as exc:
        raise SourceError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if len(data) > max_bytes:
        raise SourceError(f"File {path} is over the {_size(max_bytes)} limit.")
    return data


def _read_fd(fd: int, limit: int) -> bytes:
    """Up to ``limit`` bytes from ``fd`` (a device or a file growing under us cannot give more)."""
    chunks: list[bytes] = []
    total = 0
    while total < limit:
        chunk = os.read(fd, min(_CHUNK, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


# --------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------


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


def _read_url(url: str, max_bytes: int, budget: Budget, policy: SourcePolicy) -> LoadedSource:
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
        raise SourceError(f"{shown} is {_size(int(length))}, over the {_size(max_bytes)} limit.")
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
