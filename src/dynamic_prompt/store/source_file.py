"""Reading a prompt file: bounded, and under a restrictive policy checked on what was opened.

Under a restrictive :class:`~dynamic_prompt.store.source_policy.SourcePolicy` the
file is opened first (no symlink as its last part, non-blocking so a FIFO cannot
hang the open) and the opened descriptor is checked: where the kernel says it
lives, that it is a regular file, that it has one link. Never more than
``max_bytes + 1`` bytes are read, and a regular file too big is refused from its
size alone.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Callable

from dynamic_prompt.core.errors import SourceError
from dynamic_prompt.core.models import LoadedSource
from dynamic_prompt.core.text import decode_bytes, human_size, validate_text
from dynamic_prompt.store.source_policy import PLAIN_ONLY, SourcePolicy, SourceRefusedError

_CHUNK = 64 * 1024

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


def read_file(given: str, max_bytes: int, policy: SourcePolicy) -> LoadedSource:
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
            # A platform that cannot say where a descriptor lives: the path check is all there is.
            policy.check_opened(descriptor_path(fd) or os.path.realpath(path), info, path, shown)
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
            raise SourceRefusedError(f"{shown} is a symbolic link; {PLAIN_ONLY}.") from None
        raise SourceError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    except ValueError as exc:  # an embedded NUL
        raise SourceError(f"Cannot read {path}: {exc}.") from None


def descriptor_path(fd: int) -> str | None:
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
            f"File {path} is {human_size(info.st_size)}, over the {human_size(max_bytes)} limit."
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
        raise SourceError(f"File {path} is over the {human_size(max_bytes)} limit.")
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
