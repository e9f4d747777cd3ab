"""Sample values for templates: what the dashboard renders a prompt with.

A person tuning a template wants to see it filled in. The values come from a
sample-values file (``samples.json`` beside the config file, or ``dprompt tui
--samples PATH``)::

    {"*": {"company": "Northwind"}, "support": {"user": "Ada", "tier": "gold"}}

``"*"`` applies to every prompt, a prompt's own table on top of it. Below both come
the last values ``dprompt render --var`` was given for that prompt (kept in the data
dir, :func:`remember`), so what someone rendered last is what the dashboard shows
next. A file that is missing is no samples; one that is not JSON, or not of this shape,
is one clear line (:class:`SamplesError`) and no samples.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dynamic_prompt.core.atomic import write_atomically
from dynamic_prompt.core.config import config_path, data_dir
from dynamic_prompt.core.errors import DynamicPromptError

MAX_SAMPLES_BYTES = 1024 * 1024
"""The largest samples file read (values for a person's screen, not data)."""

EVERY = "*"
"""The table whose values apply to every prompt."""

LAST_KEPT = 200
"""Prompts whose last rendered values are remembered (the oldest go first)."""


class SamplesError(DynamicPromptError, ValueError):
    """A samples file that cannot be used (one line)."""


def samples_path() -> Path:
    """The default samples file: ``samples.json`` beside the config file."""
    return config_path().with_name("samples.json")


def last_values_path() -> Path:
    """Where the last values ``dprompt render`` was given are kept."""
    return data_dir() / "last-values.json"


@dataclass(frozen=True)
class Samples:
    """Values per prompt: from the samples file, over the last values rendered with."""

    tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    last: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = ""
    """Where the tables came from ("" when there is no file)."""

    def for_prompt(self, name: str) -> tuple[dict[str, Any], str]:
        """The values to render ``name`` with, and a few words on where they came from."""
        values: dict[str, Any] = dict(self.last.get(name, {}))
        origin = ["last dprompt render"] if values else []
        own = {**self.tables.get(EVERY, {}), **self.tables.get(name, {})}
        if own:
            values.update(own)
            origin.insert(0, Path(self.source).name or "samples")
        return values, " + ".join(origin) or "no sample values"


def _read_json(path: Path, what: str) -> Any:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SAMPLES_BYTES + 1)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise SamplesError(f"The {what} {path} is a directory, not a JSON file.") from None
    except OSError as exc:
        raise SamplesError(f"Cannot read the {what} {path}: {exc.strerror}.") from None
    if len(raw) > MAX_SAMPLES_BYTES:
        raise SamplesError(f"The {what} {path} is over {MAX_SAMPLES_BYTES:,} bytes.")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SamplesError(f"The {what} {path} is not UTF-8 text.") from None
    except (ValueError, RecursionError) as exc:
        raise SamplesError(f"The {what} {path} is not JSON: {exc}.") from None


def _tables(data: Any, path: Path, what: str) -> dict[str, dict[str, Any]]:
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise SamplesError(f"The {what} {path} must map prompt names (or \"*\") to objects of values, "
                           "e.g. {\"support\": {\"user\": \"Ada\"}}.")
    return data


def load(path: Path | None = None) -> Samples:
    """The samples file (``path`` or :func:`samples_path`) and the last values; :class:`SamplesError` for a bad file.

    The last-values file is this tool's own: one it cannot read is skipped, never an error.
    """
    path = path or samples_path()
    tables = _tables(_read_json(path, "samples file"), path, "samples file")
    try:
        last = _tables(_read_json(last_values_path(), "last-values file"), last_values_path(), "last-values file")
    except SamplesError:
        last = {}
    return Samples(tables, last, str(path) if tables else "")


def remember(name: str, values: Mapping[str, Any]) -> None:
    """Keep ``values`` as the last ones ``name`` was rendered with (best effort: never raises)."""
    if not values:
        return
    path = last_values_path()
    try:
        try:
            kept = _tables(_read_json(path, "last-values file"), path, "last-values file")
        except SamplesError:
            kept = {}
        kept.pop(name, None)
        kept[name] = dict(values)
        while len(kept) > LAST_KEPT:
            kept.pop(next(iter(kept)))
        encoded = json.dumps(kept, ensure_ascii=False).encode("utf-8")
        if len(encoded) > MAX_SAMPLES_BYTES:
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomically(path, encoded)  # 0600: the user's own
    except (OSError, TypeError, ValueError):
        return
