"""Finding the rule a topic names (``remove rule about <topic>``), within a work bound.

The engine runs on the event loops of the MCP server and the dashboard, on
prompts of up to 4 MB (100,000 rules and more) and with topics of up to
10,000 characters, so each tier below is linear in the rules' text and runs
in C where it can. The tiers, first decisive one wins (one hit: that rule;
several: ambiguous):

1. exact: the rule's whole text;
2. word: the topic as a whole word or phrase (plurals too);
3. substring: the topic anywhere in the rule;
4. stems: every word of the topic starts some word of the rule;
5. fuzzy: rapidfuzz ``partial_ratio`` / ``token_set_ratio`` over all rules at
   once, keeping scores above a cutoff.

Tiers 1-3 scan the rules joined into one string. A topic longer than
:data:`MAX_LOOSE_CHARS` or :data:`MAX_LOOSE_WORDS` is a rule's text (or
noise), not a topic: only tiers 1-3 apply to it. Fuzzy matching costs about
``len(topic) x len(rules)`` plus a fixed cost per rule; above
:data:`FUZZY_BUDGET` it is skipped and the caller says so.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import accumulate

from rapidfuzz import fuzz, process

# Fuzzy scores are 0-100: below THRESHOLD nothing matches; candidates within
# MARGIN of the best are too close to call.
THRESHOLD = 75.0
MARGIN = 5.0
MAX_LOOSE_CHARS = 200
MAX_LOOSE_WORDS = 20
# Work units of the fuzzy tier: one per (topic character x rules character),
# plus FUZZY_PER_RULE per rule (the scorers' fixed cost, measured at about
# 3,000 character pairs). 400 million is about 0.3 s of CPU.
FUZZY_BUDGET = 400_000_000
FUZZY_PER_RULE = 3_000
_STOPWORDS = frozenset(["a", "an", "and", "about", "any", "for", "in", "of", "on", "or", "the", "to", "with"])
_SPACES = re.compile(r"[^\S\n]+")


class Outcome(Enum):
    """What looking for a topic found."""

    FOUND = "found"
    AMBIGUOUS = "ambiguous"
    NO_MATCH = "no match"
    TOO_LONG = "too long"  # no cheap tier matched, and the topic is too long to match loosely
    OVER_BUDGET = "over budget"  # no cheap tier matched, and fuzzy matching would cost too much


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """The outcome and the candidate rules (indices into the texts, best first)."""

    outcome: Outcome
    indices: tuple[int, ...] = ()


def normalize_topic(topic: str) -> str:
    """Lower case, single spaces, no quotes or final punctuation, no leading article."""
    q = " ".join(topic.lower().split()).strip(" .!?\"'")
    return re.sub(r"^(?:the|a|an|any|all)\s+(?=\S)", "", q)


class RuleTexts:
    """The rules' texts in lower case with single spaces, also joined by new lines.

    Built from the whole list at once (one ``lower`` and one regex over the
    joined text rather than one per rule): a 4 MB prompt may hold a million
    rules. Texts never contain a new line, so no match crosses two rules.
    """

    def __init__(self, raw: Sequence[str]) -> None:
        joined = _SPACES.sub(" ", "\n".join(raw).lower())
        if " \n" in joined or "\n " in joined or joined[:1] == " " or joined[-1:] == " ":
            joined = "\n".join(line.strip(" ") for line in joined.split("\n"))
        self.joined = joined
        self.texts = joined.split("\n") if raw else []
        self.starts = list(accumulate((len(t) + 1 for t in self.texts[:-1]), initial=0))

    def __len__(self) -> int:
        return len(self.texts)

    def containing(self, needle: str) -> list[int]:
        """Indices of the texts that contain ``needle`` (not empty), ascending."""
        if self.joined.count(needle) * 8 > len(self.texts):
            return [k for k, t in enumerate(self.texts) if needle in t]  # common: one pass
        out: list[int] = []
        pos = self.joined.find(needle)
        while pos != -1:
            k = bisect_right(self.starts, pos) - 1
            out.append(k)
            if k + 1 >= len(self.starts):
                break
            pos = self.joined.find(needle, self.starts[k + 1])
        return out

    def matching(self, pattern: re.Pattern[str], among: Sequence[int]) -> list[int]:
        """The indices of ``among`` whose texts ``pattern`` matches."""
        search = pattern.search
        texts = self.texts
        return [k for k in among if search(texts[k])]


def find(topic: str, rules: RuleTexts) -> TopicMatch:
    """The rule(s) ``topic`` (already :func:`normalize_topic`-ed, not empty) names."""
    q = topic
    stem = q[:-1] if q.endswith("s") and len(q) > 3 else q
    key = q.rstrip(".!;")
    # Every hit of tiers 1-3 contains ``stem`` (or, for tier 1, ``key``):
    # find those with str.find over the joined text, then look closer.
    has_key = rules.containing(key) if key else list(range(len(rules)))
    exact = [k for k in has_key if rules.texts[k].rstrip(".!;") == key]
    if exact:
        return _decide(exact)
    substring = rules.containing(stem)  # "q in t or stem in t": stem starts q
    word = re.compile(r"\b(?:" + re.escape(q) + "|" + re.escape(stem) + r")(?:s|es)?\b")
    whole_word = rules.matching(word, substring)
    if whole_word:
        return _decide(whole_word)
    if substring:
        return _decide(substring)
    if len(q) > MAX_LOOSE_CHARS or word_count(q) > MAX_LOOSE_WORDS:
        return TopicMatch(Outcome.TOO_LONG)
    hits = _by_stems(q, rules)
    if hits:
        return _decide(hits)
    return _fuzzy(q, rules)


def word_count(q: str) -> int:
    """How many words a topic has (runs of word characters)."""
    return len(re.findall(r"\w+", q))


def _decide(hits: Sequence[int]) -> TopicMatch:
    return TopicMatch(Outcome.FOUND if len(hits) == 1 else Outcome.AMBIGUOUS, tuple(hits))


def _stem(word: str) -> str:
    """A crude stem, enough for "citing" to find "Cite" and "links" to find "link"."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def stems_of(q: str) -> list[str]:
    """The stems every word of which a rule must contain a word starting with.

    A stem that is the start of another stem is dropped (the longer one
    implies it), so no two stems can be satisfied by the same word.
    """
    stems = sorted({_stem(w) for w in re.findall(r"\w+", q) if w not in _STOPWORDS})
    return [s for k, s in enumerate(stems) if not (k + 1 < len(stems) and stems[k + 1].startswith(s))]


def _by_stems(q: str, rules: RuleTexts) -> list[int]:
    """Rules in which every word of ``q`` (stemmed) starts some word.

    The rarest stem goes first and each next stem only filters the rules that
    are left, with one compiled pattern per stem.
    """
    stems = stems_of(q)
    if not stems:
        return []
    counts = {s: rules.joined.count(s) for s in stems}
    if not all(counts.values()):
        return []
    texts = rules.texts
    survivors: list[int] | None = None
    for s in sorted(stems, key=counts.__getitem__):
        # A stem is all word characters: "starts a word" is "no word character before".
        search = re.compile(r"(?<!\w)" + re.escape(s)).search
        spaced = " " + s
        among = rules.containing(s) if survivors is None else survivors
        # After a space or at the start is the usual case and needs no regex.
        survivors = [
            k for k in among
            if texts[k].startswith(s) or spaced in texts[k] or (s in texts[k] and search(texts[k]))
        ]
        if not survivors:
            return []
    return survivors or []


def fuzzy_work(q: str, rules: RuleTexts) -> int:
    """The fuzzy tier's cost in work units (compared with :data:`FUZZY_BUDGET`)."""
    return len(q) * len(rules.joined) + FUZZY_PER_RULE * len(rules)


def _fuzzy(q: str, rules: RuleTexts) -> TopicMatch:
    """rapidfuzz over all rules in C; only scores that could matter are kept."""
    if fuzzy_work(q, rules) > FUZZY_BUDGET:
        return TopicMatch(Outcome.OVER_BUDGET)
    # A candidate must be within MARGIN of a best score of at least THRESHOLD.
    cutoff = THRESHOLD - MARGIN
    scores: dict[int, float] = {}
    for scorer in (fuzz.partial_ratio, fuzz.token_set_ratio):
        for _, score, k in process.extract(q, rules.texts, scorer=scorer, limit=None, score_cutoff=cutoff):
            if score > scores.get(k, -1.0):
                scores[k] = score
    best = max(scores.values(), default=0.0)
    if best < THRESHOLD:
        return TopicMatch(Outcome.NO_MATCH)
    close = sorted((k for k, s in scores.items() if s >= best - MARGIN), key=lambda k: (-scores[k], k))
    return _decide(close)
