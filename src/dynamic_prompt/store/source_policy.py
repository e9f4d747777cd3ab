"""Who may load what: the person at the keyboard anything, a model what its operator allowed.

:class:`SourcePolicy` decides, before anything is read, whether a source is literal
text, a file or a URL (:func:`source_kind`; under a restrictive policy from the
text alone, so a refusal reads the same whether a path exists or not), and
whether it may be read; a refusal is a :class:`SourceRefusedError` naming what the
operator could allow (:class:`Remedy`).
"""

from __future__ import annotations

import enum
import os
import re
import stat
from dataclasses import dataclass

from dynamic_prompt.core.errors import SourceError

#: A string longer than this is never taken for a path (PATH_MAX on Linux).
MAX_PATH_CHARS = 4096

KINDS = ("auto", "file", "url", "text")
_PATH_SUFFIXES = (".md", ".txt", ".prompt", ".markdown", ".llmd")
_HTTP = re.compile(r"^https?://", re.IGNORECASE)
_ANY_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_MENTIONS_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://")
_LOOKS_LIKE_HOST = re.compile(r"^[\w-]+(\.[\w-]+)+/")
PLAIN_ONLY = "this server reads only plain files inside its folders"


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
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
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
PLAIN_ONLY = "this server reads only plain files inside its folders"


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

    def check_opened(self, real: str, info: os.stat_result, path: str, shown: str) -> None:
        """Refuse what was opened unless it is a plain file, with one link, inside the folders.

        ``real`` is the kernel's word on where the opened descriptor lives (see
        :func:`~dynamic_prompt.store.source_file.descriptor_path`): a path swapped after
        the checks above (a folder turned into a symlink) cannot fool it.
        """
        if not _inside(real, self._roots()):
            raise self._outside(shown)
        if stat.S_ISDIR(info.st_mode):
            raise SourceError(f"{path} is a directory, not a file.")
        if not stat.S_ISREG(info.st_mode):
            raise SourceRefusedError(f"{shown} is not a regular file; {PLAIN_ONLY}.")
        if info.st_nlink > 1:
            raise SourceRefusedError(
                f"{shown} has {info.st_nlink} hard links; this server reads only files with one, "
                "since another link can make a file from outside its folders appear inside."
            )


def _kind_from_text(source: str, kind: str) -> str:
    """:func:`source_kind` without looking at the disk: a line that names a path is a file."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
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
