"""The dashboard's archive: the archiver that runs while it is open, and the reads of the archive.

:class:`ArchiveKeeper` opens the archive file (``archive`` in the config file,
``DPROMPT_ARCHIVE``, else the data dir) in a thread and runs an
:class:`~dynamic_prompt.archive.follower.Archiver` on the dashboard's store until the
app exits: every change by anyone, seen on the change feed, is kept in the file while
the dashboard is open (``dprompt archive`` does the same without a screen). An archive
that cannot be opened is said once (:class:`ArchiveUnavailable`) and the dashboard goes
on without it. The archiver only writes the SQLite file; what it reads of Redis is what
the dashboard's own refresher reads too (a state read records an outside write as a
version either way), so it runs in read-only dashboards as well.

:class:`ArchiveReader` is the search and stats screens' part: each read of the file
is a thread worker that posts what it found (:class:`Found`, :class:`Counted`) or
one line saying why not (:class:`ArchiveProblem`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from textual import work
from textual.message import Message
from textual.widget import Widget

from dynamic_prompt.archive.db import Archive, ArchiveError
from dynamic_prompt.archive.follower import Archiver, server_id
from dynamic_prompt.archive.records import ArchivedVersion, SearchHit, Stats
from dynamic_prompt.store import PromptStore

DASHBOARD_SWEEP = 1800.0
"""Seconds between the dashboard's reads of every prompt: it follows the change feed all the
while, and many dashboards on one big server should not each read all of it every 5 minutes."""

SEARCH_LIMIT = 100
"""Hits the search screen lists (best first)."""


@dataclass
class ArchiveUnavailable(Message):
    """The archive cannot be used in this dashboard (one line saying why)."""

    message: str


class ArchiveKeeper(Widget):
    """Opens the archive at ``path`` and runs the archiver until the app exits (``path=None``: neither)."""

    DEFAULT_CSS = "ArchiveKeeper { display: none; }"

    def __init__(self, store: PromptStore, path: Path | None) -> None:
        super().__init__(id="archive-keeper")
        self.store = store
        self.path = path
        self.server = server_id(store)
        """The name this server's rows carry in the archive."""
        self.archive: Archive | None = None
        """The open archive (``None`` until it is open, or when it cannot be)."""
        self.archiver: Archiver | None = None
        self.problem = "" if path is not None else "The archive is off in this dashboard."
        """Why there is no archive (shown when search or stats are asked for)."""
        self._stop = asyncio.Event()
        self._started = False

    def start(self) -> None:
        """Open the archive and start following the server into it (once; the screen calls this
        after its first read, so the catch-up's reads of every prompt come after the first paint)."""
        if self.path is not None and not self._started:
            self._started = True
            self.run_worker(self._keep(), name="archiver", group="archiver", exit_on_error=False)

    def on_unmount(self) -> None:
        """Stop the archiver."""
        self._stop.set()

    @property
    def unavailable(self) -> str:
        """One line saying why the archive cannot be read now ("" when it can)."""
        if self.archive is not None:
            return ""
        return self.problem or f"The archive {self.path} is still being opened; try again in a moment."

    async def _keep(self) -> None:
        assert self.path is not None
        try:
            archive = await asyncio.to_thread(Archive, self.path)
        except ArchiveError as exc:
            self._fail(f"{exc} The archive's search and stats are off in this dashboard.")
            return
        self.archive = archive
        self.archiver = Archiver(self.store, archive, sweep_every=DASHBOARD_SWEEP)
        try:
            await self.archiver.run(self._stop)
        except Exception as exc:  # noqa: BLE001 - a bug must be said, not end the dashboard
            self._fail(f"The archiver stopped ({type(exc).__name__}: {exc}); the archive's search and stats "
                       "are off in this dashboard.")
        finally:
            self.archive = None
            archive.close()

    def _fail(self, message: str) -> None:
        self.problem = message
        self.post_message(ArchiveUnavailable(message))

    async def archived_version(self, name: str, number: int) -> ArchivedVersion | None:
        """Version ``number`` of ``name`` as the archive kept it (``None``: not there, or no archive)."""
        archive = self.archive
        if archive is None:
            return None
        try:
            return await asyncio.to_thread(archive.version, self.server, name, number)
        except ArchiveError:
            return None


@dataclass
class Found(Message):
    """What the archive holds matching ``query``, best first."""

    query: str
    hits: list[SearchHit]


@dataclass
class Counted(Message):
    """The archive's counts for prompt ``name`` and for the whole server."""

    name: str
    prompt: Stats
    overall: Stats


@dataclass
class ArchiveProblem(Message):
    """A read of the archive failed, or was not worth doing (an empty query): one line."""

    query: str
    message: str


class ArchiveReader(Widget):
    """Reads the archive for a screen, in thread workers; posts Found, Counted or ArchiveProblem."""

    DEFAULT_CSS = "ArchiveReader { display: none; }"

    def __init__(self, archive: Archive, server: str) -> None:
        super().__init__()
        self.archive = archive
        self.server = server

    @work(thread=True, exclusive=True, group="archive-search", exit_on_error=False)
    def search(self, query: str) -> None:
        """Every version and changelog entry of this server matching ``query``."""
        try:
            hits = self.archive.search(query, server=self.server, limit=SEARCH_LIMIT)
        except ArchiveError as exc:
            self.post_message(ArchiveProblem(query, str(exc)))
            return
        self.post_message(Found(query, hits))

    @work(thread=True, exclusive=True, group="archive-stats", exit_on_error=False)
    def count(self, name: str) -> None:
        """The counts for prompt ``name`` and for every prompt of this server."""
        try:
            one = self.archive.stats(server=self.server, name=name)
            every = self.archive.stats(server=self.server)
        except ArchiveError as exc:
            self.post_message(ArchiveProblem("", str(exc)))
            return
        self.post_message(Counted(name, one, every))
