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

import os

from dynamic_prompt.core.errors import InvalidTextError, SourceError
from dynamic_prompt.core.models import LoadedSource
from dynamic_prompt.core.text import DEFAULT_MAX_BYTES, decode_bytes, validate_text
from dynamic_prompt.store.netguard import Budget, Cancellation
from dynamic_prompt.store.source_file import read_file
from dynamic_prompt.store.source_policy import Remedy, SourcePolicy, SourceRefusedError, source_kind
from dynamic_prompt.store.source_url import read_url

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Cancellation",
    "InvalidTextError",
    "LoadedSource",
    "Remedy",
    "SourcePolicy",
    "SourceRefusedError",
    "decode_bytes",
    "read_source",
    "source_kind",
    "validate_text",
]

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
        return read_url(given.strip(), max_bytes, Budget(timeout, cancel), policy)
    if how == "file":
        return read_file(given, max_bytes, policy)
    return LoadedSource(validate_text(given, max_bytes=max_bytes), "text")
