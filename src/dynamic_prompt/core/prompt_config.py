"""A version's config: the JSON object (model, temperature, tools, anything) kept with its text (pure).

Every version of a prompt has a config, ``{}`` unless someone set one. It is stored
beside the version's text in the same hash (field ``c<N>``, see ``store/lua/prelude.lua``)
and production's is copied into the prompt's meta, so an agent gets it in the same read
as the version number. One canonical encoding (:func:`encode`: sorted keys, no spaces)
makes "same config" a string comparison in Lua and in Python.

For people, a config reads as lines of pretty JSON (:func:`config_lines`), appended to
a version's text under :data:`CONFIG_RULE` when two versions are compared
(:func:`with_config`): the diff, the changelog's +/- and the dashboard all count and
show a config change the way they show a text change.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from dynamic_prompt.core.errors import DynamicPromptError


class PromptConfigError(DynamicPromptError, ValueError):
    """A config that is not a JSON object this tool can keep (one line)."""


MAX_CONFIG_BYTES = 64 * 1024
"""The largest config accepted (encoded): settings, not a second prompt."""

MAX_DEPTH = 16
"""How deeply a config may nest (a bound for every reader of it, in any language)."""

CONFIG_RULE = "── config ──"
"""The line between a version's text and its config when two versions are compared."""


def _check(value: Any, depth: int, where: str) -> None:
    if depth > MAX_DEPTH:
        raise PromptConfigError(f"The config nests deeper than {MAX_DEPTH} levels (at {where}).")
    if isinstance(value, float) and not math.isfinite(value):
        raise PromptConfigError(f"The config's {where} is {value}: JSON has no such number.")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise PromptConfigError(f"The config's keys must be strings ({key!r} at {where} is not).")
            _check(item, depth + 1, f"{where}.{key}" if where != "top" else key)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check(item, depth + 1, f"{where}[{i}]")
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise PromptConfigError(f"The config's {where} is a {type(value).__name__}, which JSON cannot hold.")


def encode(config: Mapping[str, Any]) -> str:
    """The canonical JSON of ``config`` ("" for an empty one); :class:`PromptConfigError` when it cannot be kept."""
    if not isinstance(config, Mapping):
        raise PromptConfigError(f"A config is a JSON object, not a {type(config).__name__}.")
    _check(config, 1, "top")
    if not config:
        return ""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        # A lone surrogate ("\ud800" in JSON) is no text: neither Redis' readers nor ours could show it.
        raise PromptConfigError("The config holds a lone UTF-16 surrogate (\\ud800...), which is not text.") from None
    if size > MAX_CONFIG_BYTES:
        raise PromptConfigError(f"The config is {size:,} bytes; at most {MAX_CONFIG_BYTES:,} are kept with a version.")
    return text


def parse(text: str) -> dict[str, Any]:
    """A person's JSON object (``dprompt config --json``); :class:`PromptConfigError` naming what is wrong."""
    if len(text.encode("utf-8", "replace")) > MAX_CONFIG_BYTES:
        raise PromptConfigError(f"The config is over {MAX_CONFIG_BYTES:,} bytes.")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except PromptConfigError:
        raise
    except (ValueError, RecursionError) as exc:
        raise PromptConfigError(f"The config is not JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise PromptConfigError(f"A config is a JSON object ({{...}}), not a {type(data).__name__}.")
    encode(data)  # every other check, once
    return data


def _no_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity; no other JSON reader does.
    raise PromptConfigError(f"The config holds {name}, which is not JSON (write a number or null).")


def read(raw: str | bytes | None) -> FrozenConfig:
    """The config stored at ``raw`` ({} for none), read-only.

    Never raises: what another program left there that this tool would not keep (not
    JSON, not an object, too big or deep, NaN, a lone surrogate) reads as no config, so
    every reader, writer and screen after it meets only configs :func:`encode` accepts.
    """
    if not raw:
        return EMPTY
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if len(raw) > MAX_CONFIG_BYTES:
        return EMPTY
    try:
        data = json.loads(raw, parse_constant=_no_constant)
        if not isinstance(data, dict):
            return EMPTY
        encode(data)
    except (ValueError, RecursionError):  # PromptConfigError is a ValueError
        return EMPTY
    return freeze(data)


def _refuse(*_: object, **__: object) -> Any:
    raise TypeError("A prompt's config is read-only here: copy it (copy.deepcopy won't; "
                    "json.loads(json.dumps(read.config)) will) to change it.")


class FrozenConfig(dict[str, Any]):
    """A config as readers get it: a ``dict`` (JSON, pickle and comparisons work) that refuses changes.

    One object is shared by every read of a cached version, so a caller's change must not
    reach the next caller: nested objects are frozen too (arrays as :class:`FrozenList`).
    """

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenConfig, (dict(self),))

    def __copy__(self) -> FrozenConfig:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenConfig:
        return self

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(self, sort_keys=True))


class FrozenList(list[Any]):
    """An array inside a :class:`FrozenConfig`: a ``list`` (it compares equal to one) that refuses changes."""

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))

    def __copy__(self) -> FrozenList:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenList:
        return self

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(self, sort_keys=True))


def freeze(value: Any) -> Any:
    """``value`` with every object a :class:`FrozenConfig` and every array a :class:`FrozenList`."""
    if isinstance(value, dict):
        return FrozenConfig((k, freeze(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return FrozenList(freeze(v) for v in value)
    return value


EMPTY = FrozenConfig()
"""The config of a version that has none (shared)."""


def value_of(text: str) -> Any:
    """A ``--set KEY=VALUE`` value: JSON when it reads as JSON (0.2, true, ["a"]), else the string."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError, PromptConfigError):
        return text


def updated(config: Mapping[str, Any], assignments: Iterable[str] = (),
            removals: Iterable[str] = ()) -> dict[str, Any]:
    """``config`` with ``KEY=VALUE`` items set and ``KEY`` items removed; :class:`PromptConfigError` for a bad item."""
    out = dict(config)
    for item in assignments:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise PromptConfigError(f"Bad config item {item!r}: write KEY=VALUE (VALUE as JSON, or plain text).")
        out[key] = value_of(value)
    for key in removals:
        if key not in out:
            raise PromptConfigError(f"The config has no key {key!r} to remove (it has: {', '.join(sorted(out)) or 'none'}).")
        del out[key]
    encode(out)
    return out


def config_lines(config: Mapping[str, Any]) -> list[str]:
    """``config`` as pretty JSON lines (sorted keys): how people read and diff it (``{}`` for an empty one)."""
    return json.dumps(dict(config), sort_keys=True, indent=2, ensure_ascii=False).splitlines()


def with_config(text: str, config: Mapping[str, Any], *, show_empty: bool = False) -> str:
    """``text`` followed by its config under :data:`CONFIG_RULE`; ``text`` itself for an empty config
    unless ``show_empty``."""
    if not config and not show_empty:
        return text
    head = text if not text or text.endswith("\n") else text + "\n"
    return head + CONFIG_RULE + "\n" + "\n".join(config_lines(config)) + "\n"


def compared(old_text: str, old_config: Mapping[str, Any], new_text: str,
             new_config: Mapping[str, Any]) -> tuple[str, str]:
    """Two versions as they are compared: each text with its config below it, when either has one.

    Both sides then end in the same shape (text, rule, JSON), so a config change shows, and
    counts, as the changed JSON lines alone; two versions without config compare as their texts.
    """
    if not old_config and not new_config:
        return old_text, new_text
    return (with_config(old_text, old_config, show_empty=True),
            with_config(new_text, new_config, show_empty=True))


def describe(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """A change of config in a few words: ``model gpt-4 -> gpt-5, +tools, -seed`` ("" when none)."""
    parts = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            parts.append(f"+{key}")
        elif key not in new:
            parts.append(f"-{key}")
        elif old[key] != new[key]:
            a, b = (json.dumps(v, ensure_ascii=False) for v in (old[key], new[key]))
            parts.append(f"{key} {_short(a)} -> {_short(b)}")
    return ", ".join(parts)


def _short(text: str) -> str:
    return text if len(text) <= 30 else text[:27] + "..."


_INSTRUCTION = re.compile(r"\s*(?:set\s+)?config\b\s*:?\s*(?P<rest>.*)\Z", re.IGNORECASE | re.DOTALL)


def instruction(text: str, config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The config an instruction like ``config model=gpt-5 temperature=0.2 unset seed`` makes of ``config``.

    ``None`` when ``text`` is no config instruction (it is then one for the text). Items
    are separated by spaces (quote one that holds spaces: ``config "greeting=Hello there"``);
    ``unset KEY`` or ``-KEY`` removes a key; ``config {...}`` replaces the whole config.
    A bad item is a :class:`PromptConfigError` naming it.
    """
    found = _INSTRUCTION.match(text)
    if found is None:
        return None
    rest = found.group("rest").strip()
    if not rest:
        raise PromptConfigError("Say what to set: config model=gpt-5 temperature=0.2, config unset seed, "
                                "or config {...} for the whole of it.")
    if rest.startswith("{"):
        return parse(rest)
    first = rest.split(None, 1)[0].lower()
    if "=" not in rest and first not in ("unset", "remove", "drop") and not first.startswith("-"):
        return None  # "set config to terse", "Config: terse": an edit of a field the text calls Config
    try:
        items = shlex.split(rest)
    except ValueError as exc:
        raise PromptConfigError(f"The config instruction does not read: {exc}.") from None
    assignments: list[str] = []
    removals: list[str] = []
    words = iter(items)
    for word in words:
        if word.lower() in ("unset", "remove", "drop"):
            key = next(words, "")
            if not key:
                raise PromptConfigError(f"Say which key to {word.lower()}: config {word.lower()} KEY.")
            removals.append(key)
        elif word.startswith("-") and "=" not in word and len(word) > 1:
            removals.append(word[1:])
        else:
            assignments.append(word)
    return updated(config, assignments, removals)


def reverted(before: Mapping[str, Any], after: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any] | None:
    """``current`` with the change from ``before`` to ``after`` taken out; ``None`` when it changed no key.

    Like a revert of text: each key the change set, added or removed goes back to what it
    was before, as long as no later change touched it again; one that was is a
    :class:`PromptConfigError` naming it (nothing is reverted then).
    """
    changed = sorted(k for k in set(before) | set(after) if before.get(k, _ABSENT) != after.get(k, _ABSENT))
    # A key already back at what it was before needs nothing (reverted already, or set back by hand).
    keys = [k for k in changed if current.get(k, _ABSENT) != before.get(k, _ABSENT)]
    if not keys:
        return None
    moved = [k for k in keys if current.get(k, _ABSENT) != after.get(k, _ABSENT)]
    if moved:
        raise PromptConfigError(f"The change also set the config's {', '.join(map(repr, moved))}, which a later "
                                "change set again; nothing was reverted.")
    out = dict(current)
    for key in keys:
        if key in before:
            out[key] = before[key]
        else:
            out.pop(key, None)
    return out


_ABSENT = object()
