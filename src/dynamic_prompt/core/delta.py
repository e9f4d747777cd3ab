"""Version deltas: a kept version stored as the edits that turn a newer version back into it.

History is kept as *reverse* deltas. The newest version is always a full text (it
is the active text); when version N+1 is written, version N is replaced by the
edits that turn N+1's text back into N's. Every :data:`SNAPSHOT_EVERY`-th version,
and version 1 (the original), stays a full text, so reading any kept version
applies at most ``SNAPSHOT_EVERY - 1`` deltas, and pruning the oldest versions
never strands a delta (each one leans on a newer version, pruned later).

A delta is JSON: ``{"b": base version, "n": length, "h": SHA-1 of the text,
"o": [[start, end, text], ...]}`` where each op replaces ``base[start:end]`` (string
offsets, in order) with ``text``. The SHA-1 proves the rebuilt text is the one
stored. Line-aligned (the diff engine's line blocks), so a one-line edit of a 1 MB
prompt is one op of one line.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from itertools import accumulate

from dynamic_prompt.core.diff.line_align import line_blocks, text_edges
from dynamic_prompt.core.errors import CorruptDataError

SNAPSHOT_EVERY = 64
"""Versions whose number is a multiple of this stay full texts (bounds every chain).

64 keeps a one-line edit of a 100 KB prompt near 2 KB of memory (1/64 of a snapshot
plus its delta) and reading the oldest of 200 versions of a 1 MB prompt at about 60
rebuilds of a string, a few tens of milliseconds."""

MIN_BYTES = 4096
"""Texts shorter than this are kept whole: a delta would save too little to matter."""

FIELD_PREFIX = "d"
"""A delta is kept in the versions hash under ``d<N>``; a full text under ``<N>``."""


def sha1(text: str) -> str:
    """The SHA-1 of ``text``'s UTF-8 bytes, as the server's ``redis.sha1hex`` gives it."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def keeps_whole(version: int) -> bool:
    """Whether ``version`` stays a full text (the original and every snapshot)."""
    return version <= 1 or version % SNAPSHOT_EVERY == 0


def _lines(text: str) -> list[str]:
    """``text`` cut after each newline (the last piece may lack one; ``""`` gives none)."""
    parts = text.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def make(base: str, target: str, base_version: int) -> str:
    """The delta (JSON) that turns ``base`` (version ``base_version``) into ``target``."""
    head, tail = text_edges(base, target)
    a = _lines(base[head : len(base) - tail])
    b = _lines(target[head : len(target) - tail])
    starts = [head, *accumulate((len(line) for line in a), initial=head)][1:]
    ops: list[list[object]] = []
    for tag, i1, i2, j1, j2 in line_blocks(a, False, b, False):
        if tag != "equal":
            ops.append([starts[i1], starts[i2], "".join(b[j1:j2])])
    return json.dumps({"b": base_version, "n": len(target), "h": sha1(target), "o": ops},
                      ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Delta:
    """A parsed delta: the version it leans on, and how to rebuild the text from it."""

    base: int
    length: int
    digest: str
    ops: tuple[tuple[int, int, str], ...]

    def apply(self, base_text: str, *, check: bool = True) -> str:
        """The text this delta stands for, rebuilt from ``base_text``.

        With ``check`` the result's length and SHA-1 must be the recorded ones; a chain
        checks only its last step (the SHA-1 of a 1 MB text costs more than the rebuild,
        and any wrong link makes the last text wrong too).
        """
        pieces, at = [], 0
        for start, end, text in self.ops:
            pieces.append(base_text[at:start])
            pieces.append(text)
            at = end
        pieces.append(base_text[at:])
        out = "".join(pieces)
        if len(out) != self.length or (check and sha1(out) != self.digest):
            raise CorruptDataError("A kept version does not rebuild to the text it recorded (its delta or "
                                   "the version it leans on was changed by another program).")
        return out


def parse(raw: str) -> Delta:
    """A stored delta; anything else is one clear error."""
    try:
        data = json.loads(raw)
        ops = tuple((int(s), int(e), str(t)) for s, e, t in data["o"])
        return Delta(int(data["b"]), int(data["n"]), str(data["h"]), ops)
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptDataError(f"A kept version's delta is unreadable ({type(exc).__name__}); another "
                               "program may have written the versions hash.") from None


__all__ = ["FIELD_PREFIX", "MIN_BYTES", "SNAPSHOT_EVERY", "Delta", "keeps_whole", "make", "parse", "sha1"]
