"""Labels, staged rollouts and experiments, as data (pure: no Redis here).

A *label* is a movable name for a kept version of a prompt:

* ``production`` is what agents read by default. It is the active text (the gem's
  ``prompt:active`` for ``default``), so every reader that knows nothing of labels
  sees exactly what ``production`` serves.
* ``latest`` follows the newest version, whichever label's edit made it.
* any other name (``staging``, ``canary``, ``exp-b``) points where a person put it,
  stored in the prompt's ``labels`` key as JSON ``{"staging": 7, "latest": 9}``.

A *release* changes how ``production`` readers are served without moving the label:

* a :class:`Rollout` serves version N to P% of the agents, chosen by a stable hash
  of the agent id (:func:`bucket`): the same agents at every percent, an agent never
  flips back and forth, and raising P only adds agents;
* an :class:`Experiment` serves weighted variants (each a label or a version), sticky
  per caller key: the same key gets the same variant in every process.

Both live in the prompt's ``release`` key (JSON), apart from ``labels``, so an ACL
can let a tuner move labels but keep production, rollouts and experiments to the
release user.
"""

from __future__ import annotations

import bisect
import json
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from dynamic_prompt.core.errors import DynamicPromptError

PRODUCTION = "production"
"""The label agents read by default: the active text."""

LATEST = "latest"
"""The label that follows the newest version."""

RESERVED = frozenset({PRODUCTION, LATEST})
"""Labels no one sets with ``label set``/``label rm`` (production moves by promote)."""

MAX_LABEL_LENGTH = 32
BUCKETS = 10_000
"""Hash buckets of a rollout or an experiment: percentages to two decimals."""

_LABEL_RE = re.compile(r"[a-z0-9][a-z0-9._-]*\Z")
_VERSION_LIKE = re.compile(r"v?[0-9]+\Z")
_MAX_VERSION = 10**18


class LabelError(DynamicPromptError):
    """A bad label, variant or percentage: one line, nothing written."""


def validate_label(label: object) -> str:
    """Return ``label`` if it is a usable label name, else raise :class:`LabelError`.

    1-32 characters of lower-case letters, digits, ``.``, ``_`` and ``-``, starting
    with a letter or digit: labels are typed in CI scripts and read in terminals,
    and ``Staging`` beside ``staging`` would be two labels no one meant.
    """
    if not isinstance(label, str) or not label:
        raise LabelError("A label must be a non-empty name such as 'staging'.")
    if _VERSION_LIKE.match(label):
        raise LabelError(f"{label!r} reads as a version number; give the label a name such as 'staging'.")
    if len(label) > MAX_LABEL_LENGTH:
        raise LabelError(f"The label is {len(label)} characters long; the limit is {MAX_LABEL_LENGTH}.")
    if not _LABEL_RE.match(label):
        shown = label.encode("unicode_escape").decode("ascii")
        raise LabelError(
            f"Bad label {shown!r}: use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit."
        )
    return label


def settable(label: object) -> str:
    """A label ``label set``/``label rm`` may move: valid and not ``production``/``latest``."""
    name = validate_label(label)
    if name == PRODUCTION:
        raise LabelError("production moves by promote: dprompt promote NAME LABEL|VERSION.")
    if name == LATEST:
        raise LabelError("latest follows the newest version by itself; it cannot be set or removed.")
    return name


def parse_version(value: object) -> int:
    """A version number from ``7``, ``"7"`` or ``"v7"``; :class:`LabelError` otherwise."""
    text = str(value).strip().lower().removeprefix("v")
    if not (0 < len(text) <= 18 and text.isascii() and text.isdigit()) or int(text) == 0:
        raise LabelError(f"{value!r} is not a version number (1, 2, ... or v1, v2, ...).")
    return int(text)


def _version(value: Any) -> int | None:
    """A version number another program may have written in any shape, else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 < value < _MAX_VERSION:
        return value
    # isascii: "²".isdigit() is true, and int("²") raises.
    if isinstance(value, str) and 0 < len(value) <= 18 and value.isascii() and value.isdigit() and int(value) > 0:
        return int(value)
    return None


def _seconds(value: Any) -> float:
    """A timestamp in any shape (a 400-digit integer overflows float()): 0 when unusable."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    try:
        number = float(value)
    except OverflowError:
        return 0.0
    return number if number == number and abs(number) < 1e12 else 0.0


def _loads(raw: bytes | str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


# -- labels -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelSet:
    """Where every label of one prompt points.

    Attributes:
        production: the version agents read by default (the active text's version; 0: none).
        named: every other label but ``latest``, label -> version.
        newest: the newest version a label edit made (0 if none did).
    """

    production: int = 0
    named: Mapping[str, int] = field(default_factory=dict)
    newest: int = 0

    @classmethod
    def parse(cls, raw: bytes | str | None, production: int) -> LabelSet:
        """The labels stored as ``raw`` (the labels key's JSON); anything unreadable is no label."""
        data = _loads(raw)
        named: dict[str, int] = {}
        newest = 0
        if isinstance(data, dict):
            for key, value in data.items():
                number = _version(value)
                if number is None or not isinstance(key, str) or not _LABEL_RE.match(key) \
                        or len(key) > MAX_LABEL_LENGTH or key == PRODUCTION:
                    continue
                if key == LATEST:
                    newest = number
                else:
                    named[key] = number
        return cls(production, dict(sorted(named.items())), newest)

    @property
    def latest(self) -> int:
        """The newest version: a label edit's, or production's after a write on it."""
        return max(self.production, self.newest, *self.named.values(), 0)

    def version_of(self, label: str) -> int | None:
        """The version ``label`` points at (``None``: no such label)."""
        if label == PRODUCTION:
            return self.production or None
        if label == LATEST:
            return self.latest or None
        return self.named.get(label)

    def all(self) -> dict[str, int]:
        """Every label with a version, production and latest first."""
        out = {PRODUCTION: self.production, LATEST: self.latest} if self.production or self.latest else {}
        out.update(self.named)
        return {k: v for k, v in out.items() if v}

    def labels_of(self, version: int) -> list[str]:
        """The labels that point at ``version`` (production and latest first)."""
        return [label for label, v in self.all().items() if v == version]


# -- assignment -------------------------------------------------------------------------


def bucket(*parts: str) -> int:
    """A stable bucket in ``[0, BUCKETS)`` for ``parts`` (the same in every process and run).

    CRC-32 of the parts joined by ``\\x1f``, modulo :data:`BUCKETS`: cheap enough
    to run on every read of an experiment, and unlike Python's ``hash`` not salted per
    process. :func:`seed` and :func:`bucket_after` compute the same in two steps.
    """
    return _finish(zlib.crc32("\x1f".join(parts).encode("utf-8", "surrogatepass")))


def seed(*parts: str) -> int:
    """The CRC-32 of ``parts`` and a trailing separator: :func:`bucket_after` goes on from it."""
    return zlib.crc32(("\x1f".join(parts) + "\x1f").encode("utf-8", "surrogatepass"))


def bucket_after(start: int, last: str) -> int:
    """``bucket(*parts, last)`` for ``start = seed(*parts)``: one CRC of ``last`` on a read."""
    return _finish(zlib.crc32(last.encode("utf-8", "surrogatepass"), start))


def _finish(crc: int) -> int:
    # CRC-32 mod 10,000, as Redis Cluster maps CRC16 to its slots: even to within 2e-6
    # (2**32 is not a multiple of 10,000), and one operation on a read's hot path.
    return crc % BUCKETS


def check_percent(value: object) -> float:
    """A rollout percentage in (0, 100] from ``40``, ``"40"`` or ``"40%"``, two decimals at most."""
    text = str(value).strip().removesuffix("%")
    try:
        # Decimal: 1.1 * 100 is 110.00000000000001 in floats, and 1.1 is a fine percentage.
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        raise LabelError(f"{value!r} is not a percentage (1 to 100).") from None
    if not number.is_finite() or not 0 < number <= 100 or number * 100 != (number * 100).to_integral_value():
        raise LabelError(f"A rollout percentage is above 0 and at most 100, in steps of 0.01, not {value!r}.")
    return float(number)


@dataclass(frozen=True)
class Rollout:
    """Version ``version`` served to ``percent`` % of the agents that read production.

    Attributes:
        version: the version rolled out.
        percent: the share of agents that get it (0 < percent <= 100).
        source: what was named: a label or ``vN``.
        base: production's version when the rollout began.
        by: who started or last changed it.
        at: when (unix seconds).
    """

    version: int
    percent: float
    source: str = ""
    base: int = 0
    by: str = ""
    at: float = 0.0

    def includes(self, name: str, agent_id: str) -> bool:
        """Whether agent ``agent_id`` reading ``name`` gets the rolled-out version."""
        return bucket(name, agent_id) < round(self.percent * 100)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "percent": self.percent, "source": self.source,
                "base": self.base, "by": self.by, "at": self.at}

    @classmethod
    def from_dict(cls, data: Any) -> Rollout | None:
        if not isinstance(data, dict):
            return None
        version = _version(data.get("version"))
        raw = data.get("percent")
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 < raw <= 100:
            return None  # compared before float(): a 400-digit integer overflows it
        percent = float(raw)
        if version is None:
            return None
        return cls(version, percent, str(data.get("source") or "")[:64], _version(data.get("base")) or 0,
                   str(data.get("by") or "")[:128], _seconds(data.get("at")))


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment: its name, what it serves (a label or ``vN``), its weight."""

    name: str
    target: str
    weight: int

    @classmethod
    def parse(cls, spec: str) -> Variant:
        """``a=production:50`` (name = label or vN : weight)."""
        name, sep, rest = spec.partition("=")
        target, sep2, weight = rest.rpartition(":")
        if not sep or not sep2:
            raise LabelError(f"Bad variant {spec!r}: write name=label:weight, e.g. a=production:50.")
        name = validate_label(name.strip())
        target = target.strip()
        if _VERSION_LIKE.match(target.lower()) and target[:1].lower() == "v":
            if _version(target[1:]) is None:
                raise LabelError(f"Bad variant {spec!r}: {target!r} is not a version number.")
        else:
            validate_label(target)
        try:
            number = int(weight)
        except ValueError:
            raise LabelError(f"Bad variant {spec!r}: its weight {weight!r} is not a whole number.") from None
        if not 0 < number <= BUCKETS:
            raise LabelError(f"Bad variant {spec!r}: a weight is 1 to {BUCKETS}.")
        return cls(name, target.lower() if target.lower().startswith("v") else target, number)

    @property
    def pinned_version(self) -> int | None:
        """The version this variant names directly (``None`` when it follows a label)."""
        return _version(self.target[1:]) if self.target.startswith("v") else None


@dataclass(frozen=True)
class Experiment:
    """Weighted variants of one prompt, sticky per caller key.

    Attributes:
        id: a token fixed when the experiment starts, so a new experiment reshuffles.
        variants: the arms, in order.
        by: who started it.
        at: when (unix seconds).
    """

    id: str
    variants: tuple[Variant, ...]
    by: str = ""
    at: float = 0.0

    @classmethod
    def build(cls, id: str, variants: Sequence[Variant], by: str = "", at: float = 0.0) -> Experiment:
        """An experiment from parsed variants: two or more, distinct names."""
        if len(variants) < 2:
            raise LabelError("An experiment needs at least two variants (--variant a=production:50 --variant b=exp-b:50).")
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise LabelError("Each variant of an experiment needs its own name.")
        return cls(id, tuple(variants), by, at)

    def thresholds(self) -> list[int]:
        """Cumulative bucket bounds, one per variant (the last is :data:`BUCKETS`)."""
        total = sum(v.weight for v in self.variants)
        out, running = [], 0
        for v in self.variants:
            running += v.weight
            out.append(running * BUCKETS // total)
        return out

    def choose(self, name: str, key: str) -> int:
        """The index of the variant caller ``key`` gets for prompt ``name``."""
        return bisect.bisect_right(self.thresholds(), bucket(name, self.id, key))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "by": self.by, "at": self.at,
                "variants": [{"name": v.name, "target": v.target, "weight": v.weight} for v in self.variants]}

    @classmethod
    def from_dict(cls, data: Any) -> Experiment | None:
        if not isinstance(data, dict) or not isinstance(data.get("variants"), list):
            return None
        variants = []
        for item in data["variants"]:
            if not isinstance(item, dict):
                return None
            try:
                variants.append(Variant.parse(f"{item.get('name')}={item.get('target')}:{item.get('weight')}"))
            except LabelError:
                return None
        try:
            return cls.build(str(data.get("id") or "")[:64], variants, str(data.get("by") or "")[:128],
                             _seconds(data.get("at")))
        except LabelError:
            return None


@dataclass(frozen=True)
class Release:
    """How production is served beyond its text: a rollout, an experiment, or neither."""

    rollout: Rollout | None = None
    experiment: Experiment | None = None

    @classmethod
    def parse(cls, raw: bytes | str | None) -> Release:
        """The release stored as ``raw`` (JSON); anything unreadable is no release."""
        data = _loads(raw)
        if not isinstance(data, dict):
            return cls()
        try:
            return cls(Rollout.from_dict(data.get("rollout")), Experiment.from_dict(data.get("experiment")))
        except (ValueError, OverflowError, TypeError):
            return cls()  # another program's data of a shape no check above foresaw: no release

    def to_json(self) -> str:
        """The stored form, with ``pins`` (the versions it names) for the server's retention."""
        data: dict[str, Any] = {"pins": self.pins()}
        if self.rollout is not None:
            data["rollout"] = self.rollout.to_dict()
        if self.experiment is not None:
            data["experiment"] = self.experiment.to_dict()
        return json.dumps(data, sort_keys=True)

    def pins(self) -> list[int]:
        """Versions retention must keep because this release serves them by number."""
        out = set()
        if self.rollout is not None:
            out.add(self.rollout.version)
        if self.experiment is not None:
            out |= {v for var in self.experiment.variants if (v := var.pinned_version) is not None}
        return sorted(out)

    def summary(self) -> str:
        """A few words for listings: ``rollout v5 40%``, ``experiment a/b``, or ""."""
        if self.rollout is not None:
            return f"rollout v{self.rollout.version} {self.rollout.percent:g}%"
        if self.experiment is not None:
            return "experiment " + "/".join(v.name for v in self.experiment.variants)
        return ""

    @property
    def active(self) -> bool:
        """Whether anything beyond the production text is being served."""
        return self.rollout is not None or self.experiment is not None
