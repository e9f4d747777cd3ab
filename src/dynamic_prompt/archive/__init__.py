"""The durable archive: every version and changelog entry, kept in SQLite with FTS5.

- :mod:`~dynamic_prompt.archive.db`: the file, its rows, search and stats.
- :mod:`~dynamic_prompt.archive.follower`: the archiver (catch-up, then the change feed).
- :mod:`~dynamic_prompt.archive.recovery`: put back what Redis lost.
- :mod:`~dynamic_prompt.archive.transfer`: export to files for git, and import from them.

It sits on the store and the change feed and knows no screen.
"""

from dynamic_prompt.archive.db import Archive, ArchiveError, default_path

__all__ = ["Archive", "ArchiveError", "default_path"]
