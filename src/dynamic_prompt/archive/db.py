"""The archive's SQLite file: every version and changelog entry ever seen, searchable with FTS5.

One file may hold several servers' prompts: every row names its server (the URL without
its password), and recovery reads only the rows of the server it writes to.

Rows are only ever added. A version is one row per (server, name, number, text hash), a
changelog entry one per (server, name, hash of its JSON, ordinal): ``INSERT OR IGNORE`` on
those unique keys is why two archivers on one file never duplicate a row, and why a
catch-up may read what was archived already without harm. The ordinal tells apart equal
entries (the gem stamps whole seconds, so two identical edits in one second are two equal
JSON strings): it counts the equal entries older than this one in the changelog read.

SQLite runs in WAL mode with a busy timeout, so a dashboard and ``dprompt archive`` can
share one file; every call is short and synchronous (callers run it in a thread).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dynamic_prompt.archive.records import (
    TAKE_BACKS,
    ArchivedChange,
    ArchivedPrompt,
    ArchivedVersion,
    SearchHit,
    Stats,
    sha,
)
from dynamic_prompt.core.errors import DynamicPromptError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    id INTEGER PRIMARY KEY,
    server TEXT NOT NULL,
    name TEXT NOT NULL,
    number INTEGER NOT NULL,
    sha TEXT NOT NULL,
    text TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL DEFAULT 0,
    updated_by TEXT NOT NULL DEFAULT '',
    outside INTEGER NOT NULL DEFAULT 0,
    archived_at REAL NOT NULL,
    UNIQUE (server, name, number, sha)
);
CREATE INDEX IF NOT EXISTS versions_by_name ON versions (server, name, number);
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY,
    server TEXT NOT NULL,
    name TEXT NOT NULL,
    sha TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    timestamp REAL NOT NULL,
    action TEXT NOT NULL,
    user_id TEXT NOT NULL,
    instruction TEXT NOT NULL,
    note TEXT NOT NULL,
    version INTEGER,
    raw TEXT NOT NULL,
    archived_at REAL NOT NULL,
    UNIQUE (server, name, sha, ordinal)
);
CREATE INDEX IF NOT EXISTS changes_by_name ON changes (server, name, timestamp);
CREATE TABLE IF NOT EXISTS prompts (
    server TEXT NOT NULL,
    name TEXT NOT NULL,
    original TEXT,
    original_config TEXT NOT NULL DEFAULT '',
    labels TEXT NOT NULL DEFAULT '{}',
    source TEXT NOT NULL DEFAULT '',
    last_version INTEGER NOT NULL DEFAULT 0,
    seen_at REAL NOT NULL,
    gone_at REAL,
    PRIMARY KEY (server, name)
);
CREATE VIRTUAL TABLE IF NOT EXISTS versions_fts USING fts5(
    text, content='versions', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE IF NOT EXISTS changes_fts USING fts5(
    instruction, note, user_id, action, content='changes', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER IF NOT EXISTS versions_ai AFTER INSERT ON versions BEGIN
    INSERT INTO versions_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS changes_ai AFTER INSERT ON changes BEGIN
    INSERT INTO changes_fts(rowid, instruction, note, user_id, action)
    VALUES (new.id, new.instruction, new.note, new.user_id, new.action);
END;
"""

log = logging.getLogger(__name__)

_WORD = re.compile(r"[^\W_]+(?:\*)?", re.UNICODE)
MAX_QUERY_CHARS = 500


class ArchiveError(DynamicPromptError):
    """The archive file cannot be opened, read or written (one line saying which and why)."""


def default_path(configured: str | None = None) -> Path:
    """The archive file: ``configured`` (``archive`` in the config file, ``DPROMPT_ARCHIVE``),
    else ``archive.sqlite3`` in the user's data dir."""
    if configured:
        return Path(configured).expanduser()
    override = os.environ.get("DPROMPT_ARCHIVE")
    if override:
        return Path(override).expanduser()
    from dynamic_prompt.core.config import data_dir

    return data_dir() / "archive.sqlite3"


def fts_query(query: str) -> str:
    """``query`` as an FTS5 expression: every word must match, ``word*`` matches a prefix.

    FTS5's own syntax (``AND``, ``NEAR``, column filters, quotes) is not passed through:
    a stray quote or colon in what a person typed would be a syntax error, not a search.
    """
    words = [w for w in _WORD.findall(query[:MAX_QUERY_CHARS]) if w.rstrip("*")]
    if not words:
        raise ArchiveError("Search for at least one word (letters or digits).")
    out = []
    for word in words:
        prefix = word.endswith("*")
        out.append('"' + word.rstrip("*").replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(out)


class Archive:
    """The archive file, opened (created if missing) at ``path``."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._lock = threading.Lock()
        self.opened = 0
        """How often the file was opened: more than once when it was deleted or replaced while open."""
        self._connect()

    def _connect(self) -> None:
        try:
            if str(self.path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                if self.path.exists() and not self.path.is_file():
                    raise ArchiveError(f"The archive {self.path} is not a file.")
            self._db = sqlite3.connect(str(self.path), timeout=10.0, check_same_thread=False,
                                       isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            found = self._db.execute("PRAGMA user_version").fetchone()[0]
            if found > SCHEMA_VERSION:
                raise ArchiveError(f"The archive {self.path} was written by a newer dprompt "
                                   f"(schema {found}); upgrade dprompt to read it.")
            if found < SCHEMA_VERSION:
                # One transaction, so a second archiver opening the same new file waits, then finds it made.
                self._db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"The archive {self.path} cannot be used: {exc}.") from None
        except OSError as exc:
            raise ArchiveError(f"The archive {self.path} cannot be created: {exc.strerror or exc}.") from None
        self.opened += 1
        self._identity = _identity(self.path)
        if str(self.path) != ":memory:":
            # The archive holds every prompt ever written: readable by its owner only.
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.chmod(f"{self.path}{suffix}", 0o600)
                except OSError:
                    pass

    def _same_file(self) -> None:
        """Open the file again if the one opened is no longer at ``path`` (called under the lock).

        SQLite goes on writing into a file that was deleted (``rm``, a cleanup) or replaced
        (``mv`` of a backup over it) while open, and all written after is gone with it: a
        running archiver would archive into nothing. A new file at the path is made and
        filled instead (:class:`~dynamic_prompt.archive.follower.Archiver` then reads every
        prompt again).
        """
        if self._identity is None or _identity(self.path) == self._identity:
            return
        log.warning("the archive %s was deleted or replaced while open; opening the file at that path", self.path)
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self._connect()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------

    class _Tx:
        def __init__(self, archive: Archive) -> None:
            self.archive = archive

        def __enter__(self) -> sqlite3.Connection:
            self.archive._lock.acquire()
            try:
                self.archive._same_file()
                self.archive._db.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.archive._lock.release()
                raise
            return self.archive._db

        def __exit__(self, kind: object, *rest: object) -> None:
            try:
                self.archive._db.execute("ROLLBACK" if kind is not None else "COMMIT")
            finally:
                self.archive._lock.release()

    def _write(self) -> Archive._Tx:
        return Archive._Tx(self)

    def add(self, server: str, versions: Iterable[ArchivedVersion] = (), changes: Sequence[str] = (),
            *, name: str | None = None, prompt: ArchivedPrompt | None = None) -> tuple[int, int]:
        """Keep ``versions`` and the changelog ``changes`` (raw JSON, newest first, as Redis lists them).

        Returns how many version and change rows were new. Rows already kept are left as
        they are, so calling this again with the same input adds nothing.
        """
        now = time.time()
        try:
            with self._write() as db:
                added_versions = added_changes = 0
                for v in versions:
                    added_versions += db.execute(
                        "INSERT OR IGNORE INTO versions (server, name, number, sha, text, config, updated_at,"
                        " updated_by, outside, archived_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (server, v.name, v.number, sha(v.text), v.text,
                         json.dumps(dict(v.config), sort_keys=True, separators=(",", ":")) if v.config else "",
                         _finite(v.updated_at), v.updated_by, int(v.outside), now)).rowcount
                if changes:
                    if name is None:
                        raise ValueError("changes need the prompt's name")
                    for ordinal, entry in _ordered(changes):
                        c = change_of(name, entry)
                        added_changes += db.execute(
                            "INSERT OR IGNORE INTO changes (server, name, sha, ordinal, timestamp, action, user_id,"
                            " instruction, note, version, raw, archived_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                            (server, name, sha(entry), ordinal, _finite(c.timestamp), c.action, c.user_id,
                             c.instruction, c.note, c.version, entry, now)).rowcount
                if prompt is not None:
                    db.execute(
                        "INSERT INTO prompts (server, name, original, original_config, labels, source, last_version,"
                        " seen_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (server, name) DO UPDATE SET"
                        " original = coalesce(excluded.original, prompts.original),"
                        " original_config = CASE WHEN excluded.original IS NULL THEN prompts.original_config"
                        " ELSE excluded.original_config END, labels = excluded.labels,"
                        " source = excluded.source, last_version = excluded.last_version,"
                        " seen_at = excluded.seen_at, gone_at = NULL",
                        (server, prompt.name, prompt.original,
                         json.dumps(dict(prompt.original_config), sort_keys=True, separators=(",", ":"))
                         if prompt.original_config else "", json.dumps(dict(prompt.labels), sort_keys=True),
                         prompt.source, prompt.last_version, prompt.seen_at or now))
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"The archive {self.path} could not be written: {exc}.") from None
        return added_versions, added_changes

    def mark_gone(self, server: str, name: str) -> None:
        """``name`` was deleted on purpose (its keys were deleted while an archiver listened)."""
        try:
            with self._write() as db:
                db.execute("UPDATE prompts SET gone_at = ? WHERE server = ? AND name = ? AND gone_at IS NULL",
                           (time.time(), server, name))
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"The archive {self.path} could not be written: {exc}.") from None

    # -- reading ------------------------------------------------------------------------

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                self._same_file()
                return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"The archive {self.path} could not be read: {exc}.") from None

    def known_versions(self, server: str, name: str) -> dict[int, set[str]]:
        """Version number -> the text hashes archived under it, for one prompt."""
        out: dict[int, set[str]] = {}
        for number, digest in self._read("SELECT number, sha FROM versions WHERE server=? AND name=?",
                                         (server, name)):
            out.setdefault(int(number), set()).add(str(digest))
        return out

    def servers(self) -> list[str]:
        """Every server the archive holds prompts of."""
        return [str(r[0]) for r in self._read("SELECT DISTINCT server FROM versions ORDER BY server")]

    def names(self, server: str) -> list[str]:
        """Every prompt archived for ``server``."""
        return [str(r[0]) for r in self._read(
            "SELECT DISTINCT name FROM versions WHERE server=? ORDER BY name", (server,))]

    def prompt(self, server: str, name: str) -> ArchivedPrompt | None:
        """What the archive last saw of ``name`` as a whole (original, labels), if anything."""
        rows = self._read("SELECT original, labels, source, last_version, seen_at, gone_at, original_config"
                          " FROM prompts WHERE server=? AND name=?", (server, name))
        if not rows:
            return None
        original, labels, source, last, seen, gone, original_config = rows[0]
        return ArchivedPrompt(name, original, _labels(labels), str(source), int(last), float(seen),
                              None if gone is None else float(gone), _config(original_config))

    def latest(self, server: str, name: str) -> ArchivedVersion | None:
        """The version archived last for ``name``: production's number when the archive last saw it
        (else the highest number), the newest text under it.

        Not simply the highest number: a label's edit makes versions above production, and a
        prompt made again after Redis lost it starts again at 1 below the numbers archived before.
        """
        rows = self._read(
            "SELECT number, text, config, updated_at, updated_by, outside, archived_at FROM versions v"
            " WHERE server=? AND name=? ORDER BY number = (SELECT p.last_version FROM prompts p"
            " WHERE p.server = v.server AND p.name = v.name) DESC, number DESC, id DESC LIMIT 1",
            (server, name))
        return _version(name, rows[0]) if rows else None

    def version(self, server: str, name: str, number: int) -> ArchivedVersion | None:
        """The newest text archived as version ``number`` of ``name``."""
        rows = self._read(
            "SELECT number, text, config, updated_at, updated_by, outside, archived_at FROM versions"
            " WHERE server=? AND name=? AND number=? ORDER BY outside ASC, id DESC LIMIT 1",
            (server, name, number))
        return _version(name, rows[0]) if rows else None

    def changes(self, server: str, name: str, limit: int | None = None) -> list[str]:
        """The archived changelog of ``name`` as raw JSON, newest first (``limit`` newest)."""
        # Rows are added oldest first and never changed, so their ids keep Redis's order (an
        # unreadable entry has no timestamp, but stays where it was).
        sql = "SELECT raw FROM changes WHERE server=? AND name=? ORDER BY id DESC"
        args: list[Any] = [server, name]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [str(r[0]) for r in self._read(sql, args)]

    def counts(self, server: str | None = None) -> tuple[int, int]:
        """How many version and change rows the archive holds (for ``server``, or all)."""
        where, args = ("WHERE server=?", (server,)) if server else ("", ())
        v = self._read(f"SELECT count(*) FROM versions {where}", args)[0][0]
        c = self._read(f"SELECT count(*) FROM changes {where}", args)[0][0]
        return int(v), int(c)

    def search(self, query: str, *, server: str | None = None, name: str | None = None,
               since: float | None = None, limit: int = 20) -> list[SearchHit]:
        """Versions and changelog entries matching every word of ``query``, best first."""
        match = fts_query(query)
        limit = max(1, min(int(limit), 1000))
        filters, args = "", []
        if server:
            filters += " AND t.server = ?"
            args.append(server)
        if name:
            filters += " AND t.name = ?"
            args.append(name)
        since_v = f" AND t.updated_at >= {float(since)!r}" if since is not None else ""
        since_c = f" AND t.timestamp >= {float(since)!r}" if since is not None else ""
        versions = self._read(
            "SELECT t.name, t.number, snippet(versions_fts, 0, '[', ']', ' … ', 12), t.updated_at,"
            " t.updated_by, bm25(versions_fts) AS rank FROM versions_fts JOIN versions t ON t.id = versions_fts.rowid"
            f" WHERE versions_fts MATCH ? {filters}{since_v} ORDER BY rank LIMIT ?", [match, *args, limit])
        changes = self._read(
            "SELECT t.name, t.version, snippet(changes_fts, -1, '[', ']', ' … ', 12), t.timestamp, t.action,"
            " t.user_id, bm25(changes_fts) AS rank FROM changes_fts JOIN changes t ON t.id = changes_fts.rowid"
            f" WHERE changes_fts MATCH ? {filters}{since_c} ORDER BY rank LIMIT ?", [match, *args, limit])
        hits = [SearchHit("version", n, int(v), _one_line(s), float(ts), "", str(by), float(r))
                for n, v, s, ts, by, r in versions]
        hits += [SearchHit("change", n, None if v is None else int(v), _one_line(s), float(ts), str(a), str(u),
                           float(r)) for n, v, s, ts, a, u, r in changes]
        hits.sort(key=lambda h: (h.rank, -h.timestamp))
        return hits[:limit]

    def stats(self, *, server: str | None = None, name: str | None = None, top: int = 10) -> Stats:
        """Changes per day, per author and by action; take-backs; the most edited prompts."""
        where, args = "WHERE 1=1", []
        if server:
            where += " AND server = ?"
            args.append(server)
        if name:
            where += " AND name = ?"
            args.append(name)
        total = int(self._read(f"SELECT count(*) FROM changes {where}", args)[0][0])
        # A timestamp past the year 9999 (1e12, milliseconds taken for seconds) has no date: left out.
        days = self._read(f"SELECT date(timestamp, 'unixepoch', 'localtime') AS d, count(*) FROM changes {where}"
                          " AND timestamp > 0 GROUP BY d HAVING d IS NOT NULL ORDER BY d", args)
        authors = self._read(f"SELECT user_id, count(*) AS c FROM changes {where} GROUP BY user_id"
                             " ORDER BY c DESC, user_id LIMIT ?", [*args, top])
        actions = self._read(f"SELECT action, count(*) AS c FROM changes {where} GROUP BY action"
                             " ORDER BY c DESC, action", args)
        edited = self._read(f"SELECT name, count(*) AS c FROM changes {where} GROUP BY name"
                            " ORDER BY c DESC, name LIMIT ?", [*args, top])
        marks = ",".join("?" for _ in TAKE_BACKS)
        reverts = int(self._read(f"SELECT count(*) FROM changes {where} AND action IN ({marks})",
                                 [*args, *TAKE_BACKS])[0][0])
        versions = int(self._read(f"SELECT count(*) FROM versions {where}", args)[0][0])
        prompts = int(self._read(f"SELECT count(DISTINCT name) FROM versions {where}", args)[0][0])
        return Stats(total, _every_day([(str(d), int(c)) for d, c in days]),
                     [(str(a) or "(nobody)", int(c)) for a, c in authors], [(str(a), int(c)) for a, c in actions],
                     [(str(n), int(c)) for n, c in edited], reverts, versions, prompts)


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file ``path`` names (device, inode); ``None`` for ``:memory:``, ``(-1, -1)`` for none."""
    if str(path) == ":memory:":
        return None
    try:
        info = os.stat(path)
    except OSError:
        return (-1, -1)  # gone: never equal to the file that was opened
    return (info.st_dev, info.st_ino)


def _finite(value: float) -> float:
    """``value``, or 0 for NaN and infinities (another program's ``"timestamp": NaN``).

    SQLite stores NaN as NULL, and ``INSERT OR IGNORE`` skips a row that breaks NOT NULL
    as quietly as a duplicate: the entry, and the version it names, would never be kept.
    """
    return value if math.isfinite(value) else 0.0


def _ordered(changes: Sequence[str]) -> list[tuple[int, str]]:
    """``(ordinal, entry)`` for a changelog listed newest first: ordinals count equal older entries."""
    seen: dict[str, int] = {}
    out = []
    for entry in reversed(changes):
        ordinal = seen.get(entry, 0)
        seen[entry] = ordinal + 1
        out.append((ordinal, entry))
    return out


def change_of(name: str, raw: str) -> ArchivedChange:
    """The searchable fields of one raw changelog entry (bad JSON is kept, as ``unreadable``)."""
    from dynamic_prompt.core.models import ChangeEntry

    entry = ChangeEntry.from_json(raw)
    return ArchivedChange(name, entry.timestamp, entry.action, entry.user_id, entry.instruction, entry.note,
                          entry.version, raw)


def _labels(raw: str) -> dict[str, int]:
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): int(v) for k, v in data.items() if isinstance(v, int) and not isinstance(v, bool)}


def _config(raw: object) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        loaded = json.loads(str(raw))
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _version(name: str, row: tuple[Any, ...]) -> ArchivedVersion:
    number, text, config, updated_at, updated_by, outside, archived_at = row
    parsed: Mapping[str, Any] = {}
    if config:
        try:
            loaded = json.loads(config)
            parsed = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            parsed = {}
    return ArchivedVersion(name, int(number), str(text), parsed, float(updated_at), str(updated_by),
                           bool(outside), float(archived_at))


def _one_line(snippet: str) -> str:
    return " ".join(str(snippet).split())


def _every_day(days: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Fill the days without changes with 0, so a chart's x axis is time (capped at 366 days)."""
    if not days:
        return []
    counts = dict(days)
    first = dt.date.fromisoformat(days[0][0])
    last = dt.date.fromisoformat(days[-1][0])
    if (last - first).days > 365:
        first = last - dt.timedelta(days=365)
    out = []
    day = first
    while day <= last:
        key = day.isoformat()
        out.append((key, counts.get(key, 0)))
        day += dt.timedelta(days=1)
    return out


def parse_since(value: str, now: float | None = None) -> float:
    """``--since``: a date (``2026-11-30``), a date and time, or an age (``90m``, ``12h``, ``7d``)."""
    value = value.strip()
    match = re.fullmatch(r"(\d{1,6})([mhdw])", value)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        seconds = amount * {"m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
        return (time.time() if now is None else now) - seconds
    try:
        when = dt.datetime.fromisoformat(value)
        if when.tzinfo is None:
            when = when.astimezone()
        return when.timestamp()
    except (ValueError, OverflowError):  # not a date, or one at the ends of the calendar (0001-01-01)
        raise ArchiveError(f"--since takes a date (2026-11-30), a date and time, or an age (90m, 12h, 7d), "
                           f"not {value[:40]!r}.") from None


__all__ = ["Archive", "ArchiveError", "change_of", "default_path", "fts_query", "parse_since"]


def labels_of(mapping: Mapping[str, Any]) -> dict[str, int]:
    """Label name -> version number, from a label state's ``named`` mapping (non-numbers dropped)."""
    return {str(k): int(v) for k, v in mapping.items() if isinstance(v, int) and not isinstance(v, bool)}
