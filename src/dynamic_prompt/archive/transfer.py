"""Prompts as files, for git: ``dprompt export DIR`` and ``dprompt import DIR``.

Per prompt, the export writes:

- ``NAME.md``: front matter (``name``, ``version``, and ``labels``, ``config``, ``source``
  when it has them; each value is JSON, which YAML reads too), then the text exactly;
- ``NAME.original.md``: the original, only when it differs from the text;
- ``NAME@vN.md``: a version a label points at, other than the exported one (front matter
  and text, like ``NAME.md``), so the labels come back with it;
- ``NAME.history.jsonl``: the changelog, oldest first, one entry per line as stored.

An import applies each ``NAME.md``:

- a prompt Redis holds nothing of is put back as exported: the text under the exported
  version number, its original, the labels that point at that version, its config and
  its changelog (so export -> empty server -> import -> export gives the same files);
- a prompt whose text and config equal the file's is left alone (the content hash decides,
  so importing one tree twice changes nothing);
- any other becomes a new version (action ``import``), if nobody changed it meanwhile.

Files are read with limits (size, UTF-8, names); a bad file is one line, and the files
after it are still imported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dynamic_prompt.core import prompt_config
from dynamic_prompt.core.atomic import write_atomically
from dynamic_prompt.core.errors import DynamicPromptError, InvalidNameError, PromptExistsError
from dynamic_prompt.core.keys import validate_name
from dynamic_prompt.core.models import ChangeEntry
from dynamic_prompt.core.text import validate_text
from dynamic_prompt.store.prompt_store import PromptStore
from dynamic_prompt.store.recreate import Recreation

FENCE = "---\n"
MAX_HISTORY_BYTES = 64 * 1024 * 1024
_KEYS = ("name", "version", "labels", "config", "source")


class TransferError(DynamicPromptError):
    """A file or directory that cannot be exported to or imported from (one line)."""


@dataclass(frozen=True)
class PromptFile:
    """One prompt as the files hold it."""

    name: str
    text: str
    version: int = 0
    labels: Mapping[str, int] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    original: str | None = None
    history: Sequence[str] = ()
    """Raw changelog entries, newest first (as Redis lists them)."""
    kept: Mapping[int, tuple[str, Mapping[str, Any]]] = field(default_factory=dict)
    """The other versions labels point at: number -> (text, config)."""

    def render(self) -> str:
        """``NAME.md``: the front matter and the text."""
        lines = [FENCE, f"name: {json.dumps(self.name)}\n", f"version: {self.version}\n"]
        if self.labels:
            lines.append(f"labels: {json.dumps(dict(sorted(self.labels.items())), ensure_ascii=False)}\n")
        if self.config:
            lines.append(f"config: {prompt_config.encode(self.config)}\n")
        if self.source:
            lines.append(f"source: {json.dumps(self.source, ensure_ascii=False)}\n")
        lines.append(FENCE)
        return "".join(lines) + self.text


def parse(path: Path, raw: str, stem: str | None = None) -> PromptFile:
    """``NAME.md`` read back (front matter optional: a plain text file is a prompt named by its file)."""
    stem = stem or path.name[: -len(".md")]
    fields: dict[str, Any] = {}
    text = raw
    # A checkout with CRLF line ends (git's autocrlf on Windows) has "---\r\n" fences: its front
    # matter is read as front matter, not stored as the start of the text.
    fence = FENCE if raw.startswith(FENCE) else "---\r\n" if raw.startswith("---\r\n") else None
    if fence is not None:
        end = raw.find("\n" + fence, len(fence) - 1)
        if end < 0:
            raise TransferError(f"{path}: the front matter has no closing '---' line.")
        head, text = raw[len(fence): end + 1], raw[end + 1 + len(fence):]
        # Split on "\n" only: a value is one line of JSON, which may hold U+2028 or U+0085 as they are.
        for number, line in enumerate(head.split("\n")[:-1], start=2):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            key, sep, value = line.partition(":")
            key = key.strip()
            if not sep or key not in _KEYS:
                raise TransferError(f"{path}:{number}: expected one of {', '.join(_KEYS)} as 'key: value'.")
            try:
                fields[key] = json.loads(value.strip())
            except ValueError:
                raise TransferError(f"{path}:{number}: the value of {key!r} is not JSON.") from None
    name = fields.get("name", stem)
    if not isinstance(name, str):
        raise TransferError(f"{path}: name must be text.")
    try:
        validate_name(name)
    except InvalidNameError as exc:
        raise TransferError(f"{path}: {exc}") from None
    if name != stem:
        raise TransferError(f"{path}: the front matter names {name!r}; the file must be {name}.md.")
    version = fields.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version < 10**14:
        raise TransferError(f"{path}: version must be a whole number.")
    labels = fields.get("labels", {})
    if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in labels.items()):
        raise TransferError(f"{path}: labels must map label names to version numbers.")
    config = fields.get("config", {})
    try:
        config = prompt_config.parse(json.dumps(config)) if config else {}
    except DynamicPromptError as exc:
        raise TransferError(f"{path}: config: {exc}") from None
    source = fields.get("source", "")
    if not isinstance(source, str):
        raise TransferError(f"{path}: source must be text.")
    validate_text(text, what=f"The text of {path}")
    return PromptFile(name, text, version, labels, config, source)


async def read_prompt(store: PromptStore, name: str) -> PromptFile | None:
    """What Redis holds of ``name``, as files would hold it (``None`` if it has no text)."""
    state = await store.state(name)
    if state.active is None:
        return None
    labels = {k: v for k, v in (await store.labels(name)).labels.named.items()}
    history = await store.changelog_raw(name, max(store.settings.changelog_cap, 100))
    original = state.backup if state.backup is not None and state.backup != state.active else None
    others = sorted(set(labels.values()) - {state.version})
    texts = await store.version_texts(name, others) if others else []
    configs = await store.version_configs(name, others) if others else []
    kept = {n: (t, c) for n, t, c in zip(others, texts, configs) if t is not None}
    return PromptFile(name, state.active, state.version, labels, state.config, state.meta.source, original, history,
                      kept)


def write_files(directory: Path, prompt: PromptFile) -> list[Path]:
    """Write one prompt's files into ``directory`` (each replaced whole: a reader never sees half)."""
    out = [directory / f"{prompt.name}.md"]
    _replace(out[0], prompt.render())
    original = directory / f"{prompt.name}.original.md"
    if prompt.original is not None:
        _replace(original, prompt.original)
        out.append(original)
    elif original.exists():
        original.unlink()
    for number, (text, config) in prompt.kept.items():
        kept = directory / f"{prompt.name}@v{number}.md"
        _replace(kept, PromptFile(prompt.name, text, number, config=config).render())
        out.append(kept)
    for stale in directory.glob(f"{prompt.name}@v*.md"):
        if stale not in out:
            stale.unlink()
    history = directory / f"{prompt.name}.history.jsonl"
    lines = []
    for raw in reversed(prompt.history):
        # One entry per line: an entry another program wrote with a raw newline is kept as JSON text.
        lines.append((raw if "\n" not in raw and "\r" not in raw else json.dumps({"unreadable": raw})) + "\n")
    _replace(history, "".join(lines))
    out.append(history)
    return out


def _replace(path: Path, text: str) -> None:
    write_atomically(path, text.encode("utf-8"))


async def export(store: PromptStore, directory: Path, names: Sequence[str] = ()) -> list[PromptFile]:
    """Write every prompt (or ``names``) into ``directory`` (created if missing)."""
    if directory.exists() and not directory.is_dir():
        raise TransferError(f"{directory} is not a directory.")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TransferError(f"{directory} cannot be created: {exc.strerror or exc}.") from None
    wanted = list(names) or await store.names()
    _refuse_clashes(wanted)
    out = []
    for name in wanted:
        prompt = await read_prompt(store, name)
        if prompt is None:
            continue
        try:
            write_files(directory, prompt)
        except OSError as exc:
            raise TransferError(f"{directory}: {exc.strerror or exc} (writing {name}).") from None
        out.append(prompt)
    return out


def _refuse_clashes(names: Sequence[str]) -> None:
    """Refuse, before a file is written, prompts whose files would be one file.

    Names differ in case only (``Support``, ``support``): one file on macOS and Windows, so
    one prompt's files would overwrite the other's there. ``NAME.original`` is a prompt whose
    ``NAME.original.md`` is ``NAME``'s original file.
    """
    seen: dict[str, str] = {}
    for name in names:
        for file in (f"{name}.md".casefold(), f"{name}.original.md".casefold()):
            other = seen.setdefault(file, name)
            if other != name:
                raise TransferError(
                    f"The prompts {other!r} and {name!r} would both write {file} (file names ignore case on "
                    "macOS and Windows); export them into separate directories with --name.")


@dataclass(frozen=True)
class Imported:
    """What an import did with one file."""

    path: str
    name: str
    status: str
    """``created`` / ``updated`` / ``unchanged`` / ``failed``."""
    version: int = 0
    message: str = ""

    def line(self) -> str:
        """One line for the terminal."""
        if self.status == "failed":
            return f"{self.path}: {self.message}"
        return f"{self.name:<24} {self.status} (v{self.version})" + (f": {self.message}" if self.message else "")

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (``--json``)."""
        return {"path": self.path, "name": self.name, "status": self.status, "version": self.version,
                "message": self.message}


def read_tree(directory: Path, max_bytes: int) -> tuple[list[tuple[Path, PromptFile]], list[Imported]]:
    """Every ``NAME.md`` in ``directory`` (with its original and history), and a line per bad file."""
    from dynamic_prompt.store.sources import read_source

    if not directory.is_dir():
        raise TransferError(f"{directory} is not a directory.")

    def read(path: Path, limit: int) -> str:
        # A symlink could bring in any file this process may read (a CI runner's secrets) as a prompt.
        if path.is_symlink():
            raise TransferError(f"{path} is a symbolic link; import reads plain files only.")
        return read_source(str(path), max_bytes=limit, kind="file").text

    def present(path: Path) -> bool:
        return path.is_symlink() or path.exists()  # a symlink is refused by read(), never skipped

    found, bad = [], []
    for path in sorted(directory.glob("*.md")):
        if path.name.startswith(".") or "@" in path.name:
            continue
        original_of = path.name.endswith(".original.md")
        if original_of and present(directory / (path.name[: -len(".original.md")] + ".md")):
            continue  # NAME's original, read with NAME.md
        try:
            raw_md = read(path, max_bytes)
            if original_of and not raw_md.startswith((FENCE, "---\r\n")):
                continue  # an original left without its NAME.md; the prompt NAME.original has front matter
            prompt = parse(path, raw_md)
            original_path = directory / f"{prompt.name}.original.md"
            original = read(original_path, max_bytes) if present(original_path) else None
            history_path = directory / f"{prompt.name}.history.jsonl"
            history: list[str] = []
            if present(history_path) and (history_path.is_symlink() or history_path.stat().st_size > 0):
                raw = read(history_path, MAX_HISTORY_BYTES)
                # One entry per line; a CRLF checkout's "\r" is the line end's, not the entry's.
                history = [line.removesuffix("\r") for line in raw.split("\n")]
                history = [line for line in history if line][::-1]
            kept = {}
            for number in sorted(set(prompt.labels.values()) - {prompt.version}):
                kept_path = directory / f"{prompt.name}@v{number}.md"
                if present(kept_path):
                    other = parse(kept_path, read(kept_path, max_bytes), stem=prompt.name)
                    kept[number] = (other.text, other.config)
            found.append((path, PromptFile(prompt.name, prompt.text, prompt.version, prompt.labels,
                                           prompt.config, prompt.source, original, history, kept)))
        except DynamicPromptError as exc:
            bad.append(Imported(str(path), path.stem, "failed", message=" ".join(str(exc).split())))
    return found, bad


async def import_tree(store: PromptStore, directory: Path, *, dry_run: bool = False) -> list[Imported]:
    """Apply every ``NAME.md`` in ``directory`` (see the module's doc); one result per file."""
    found, out = read_tree(directory, store.settings.max_bytes)
    for path, prompt in found:
        try:
            out.append(await _apply(store, path, prompt, dry_run=dry_run))
        except DynamicPromptError as exc:
            out.append(Imported(str(path), prompt.name, "failed", message=" ".join(str(exc).split())))
    return out


async def _apply(store: PromptStore, path: Path, prompt: PromptFile, *, dry_run: bool) -> Imported:
    state = await store.state(prompt.name)
    source = f"import:{path.name}"
    if state.active is None:
        if await store.versions(prompt.name) or await store.changelog_raw(prompt.name, 1):
            raise TransferError(f"{prompt.name!r} has no text but keeps versions or a changelog in Redis; "
                                "left as it is.")
        version = prompt.version or 1
        if dry_run:
            return Imported(str(path), prompt.name, "created", version, "dry run: nothing written")
        history = list(prompt.history)
        if not history:
            history = [json.dumps({"timestamp": int(store.clock()), "action": "import", "user_id": store.user,
                                   "instruction": f"imported from {path.name}", "version": version,
                                   "metadata": {"source": source}})]
        newest = ChangeEntry.from_json(history[0])
        labels = {k: v for k, v in prompt.labels.items() if v == version or v in prompt.kept}
        try:
            await store.recreate(Recreation(
                prompt.name, version, prompt.text, prompt.original if prompt.original is not None else prompt.text,
                prompt.config, {}, prompt.source or source, newest.timestamp or store.clock(),
                newest.user_id or store.user, "import", prompt.kept, labels, history))
        except PromptExistsError:
            # Some key of it is there (written meanwhile, or labels another program left): never overwritten.
            raise TransferError(f"{prompt.name!r} has keys in Redis but no text (written meanwhile, or labels "
                                "left behind); left as it is.") from None
        return Imported(str(path), prompt.name, "created", version)
    if state.active == prompt.text and dict(state.config) == dict(prompt.config):
        return Imported(str(path), prompt.name, "unchanged", state.version)
    if dry_run:
        return Imported(str(path), prompt.name, "updated", state.version + 1, "dry run: nothing written")
    done = await store.import_text(prompt.name, prompt.text, prompt.config, expected_version=state.version,
                                   source=source)
    return Imported(str(path), prompt.name, "updated" if done.changed else "unchanged", done.version)


CHANGELOG_COLUMNS = ("name", "time", "timestamp", "version", "action", "user_id", "instruction", "note")


async def export_changelog(store: PromptStore, target: Path, fmt: str, names: Sequence[str] = ()) -> int:
    """Write every prompt's changelog (or ``names``') to ``target`` as JSON or CSV; the entry count.

    JSON is a list of the entries as stored, each with its prompt's ``name`` added; CSV has
    one row per entry with :data:`CHANGELOG_COLUMNS` (spreadsheet-safe: a cell that
    starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with ``'``).
    """
    import csv
    import io
    import time

    if fmt not in ("json", "csv"):
        raise TransferError(f"--format is json or csv (or files, for a directory), not {fmt!r}.")
    if target.is_dir():
        raise TransferError(f"{target} is a directory; --format {fmt} writes one file.")
    rows: list[tuple[str, str]] = []
    for name in list(names) or await store.names():
        for raw in await store.changelog_raw(name, max(store.settings.changelog_cap, 100)):
            rows.append((name, raw))
    if fmt == "json":
        data = []
        for name, raw in rows:
            try:
                entry = json.loads(raw)
            except ValueError:
                entry = {"unreadable": raw}
            if not isinstance(entry, dict):
                entry = {"unreadable": raw}
            data.append({"name": name, **entry})
        text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    else:
        buffer = io.StringIO()
        # CRLF (RFC 4180): the writer then quotes a cell holding a bare "\r", which with "\n" it
        # leaves as it is, and every reader takes for the end of the row.
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CHANGELOG_COLUMNS)
        for name, raw in rows:
            e = ChangeEntry.from_json(raw)
            try:
                when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(e.timestamp)) + "Z" if e.timestamp else ""
            except (OverflowError, OSError, ValueError):  # another program wrote a timestamp like 1e308
                when = ""
            writer.writerow([_cell(v) for v in (name, when, e.timestamp, "" if e.version is None else e.version,
                                                e.action, e.user_id, e.instruction, e.note)])
        text = buffer.getvalue()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _replace(target, text)
    except OSError as exc:
        raise TransferError(f"{target} cannot be written: {exc.strerror or exc}.") from None
    return len(rows)


def _cell(value: object) -> object:
    # A leading tab or carriage return is skipped by some spreadsheets, which then read a formula.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
