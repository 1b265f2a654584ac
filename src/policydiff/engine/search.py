"""Search through history: when a phrase entered each policy, left, came back, and if it stands.

Every recorded text of every policy is read (each distinct text once, by its hash) and
matched after cosmetic normalisation: quotes, dashes, markup, case and line wrapping do
not matter, so "IP address you registered from" finds "IP address you
_registered_ from" across a line break. A phrase matches whole words within one
paragraph. Answers come from recorded texts only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING

from policydiff.core.errors import UsageError
from policydiff.engine.normalize import normalize_text

if TYPE_CHECKING:
    from policydiff.core.model import Version
    from policydiff.store.gitstore import GitStore

# A quote longer than this is cut around the match: the sentence is context, not the text.
CONTEXT_MAX = 300
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[\W_]*[A-Z0-9])")
# Letters and digits: normalisation never joins or creates them (markup becomes spaces,
# NFKC is applied first), so each run in the phrase is in any text holding the phrase.
_LETTERS = re.compile(r"[^\W_]+")


class EventKind(Enum):
    """What happened to the phrase in a version."""

    APPEARED = "appeared"  # present for the first time
    REMOVED = "removed"  # absent after being present
    RETURNED = "returned"  # present again after a removal


@dataclass(frozen=True, slots=True)
class Event:
    """One change of presence, in the version where it happened."""

    kind: EventKind
    version: Version


@dataclass(frozen=True, slots=True)
class PolicyHits:
    """The phrase's history in one policy that has it in at least one version."""

    policy: str
    events: tuple[Event, ...]
    latest: Version
    in_latest: bool
    # The sentence around the phrase, in ``context_version`` (the latest version having it).
    context: str
    context_version: Version
    versions_searched: int

    @property
    def first(self) -> Version:
        """The first version that has the phrase."""
        return self.events[0].version


class Matcher:
    """A phrase or regular expression, matched against normalised text."""

    def __init__(self, pattern: str, *, regex: bool = False) -> None:
        if not pattern.strip():
            raise UsageError("the search phrase is empty")
        self.pattern = pattern
        self.regex = regex
        if regex:
            try:
                self._compiled = re.compile(pattern, re.IGNORECASE)
            except re.error as err:
                raise UsageError(f"invalid regular expression {pattern!r}: {err}") from None
        else:
            phrase = normalize_text(pattern).casefold()
            if not phrase:
                raise UsageError(f"the search phrase {pattern!r} has no words")
            # Whole words: "ip address" must not match "ship address".
            self._compiled = re.compile(rf"(?<![^\W_]){re.escape(phrase)}(?![^\W_])")
        # Each letter run of a phrase stands as a whole word in any text holding it, raw
        # or normalised; the longest are the rarest, so they are tried first.
        self._needles: tuple[str, ...] = (
            () if regex else tuple(sorted(set(_LETTERS.findall(phrase)), key=len, reverse=True))
        )

    def may_be_in(self, text: str) -> bool:
        """Cheap pre-check: False only when the text cannot hold the phrase."""
        if not self._needles:
            return True
        folded = _letters_folded(text)
        return all(_has_word(folded, needle) for needle in self._needles)

    def found_in_text(self, text: str) -> bool:
        """Whether a raw text holds the phrase, within one of its paragraphs."""
        if self.regex:
            return self.found_in(normalise(text))
        if not self.may_be_in(text):
            return False
        # Normalising is the costly step: only paragraphs that hold every word get it.
        return any(
            self.may_be_in(paragraph) and self.found_in(normalise(paragraph))
            for paragraph in _PARAGRAPH_BREAK.split(text)
        )

    def found_in(self, normalised: str) -> bool:
        """Whether the phrase occurs in a text already passed through ``normalise``."""
        return self._compiled.search(normalised) is not None

    def span_in(self, normalised: str) -> tuple[int, int] | None:
        """Return where the phrase occurs in a normalised text, if it does."""
        match = self._compiled.search(normalised)
        return None if match is None else match.span()


@lru_cache(maxsize=4096)
def _changes_letters(char: str) -> bool:
    """Whether NFKC makes other letters or digits of ``char`` (a ligature, a superscript)."""
    folded = unicodedata.normalize("NFKC", char)
    return unicodedata.combining(char) != 0 or (folded != char and any(c.isalnum() for c in folded))


def _letters_folded(text: str) -> str:
    """Return the text with its letters as normalisation leaves them (NFKC, casefolded).

    NFKC runs only when some character needs it: most policies are already normalised
    in every letter, and NFKC of a large text costs more than the whole search.
    """
    if not text.isascii() and any(_changes_letters(c) for c in set(text) if ord(c) > 127):
        text = unicodedata.normalize("NFKC", text)
    return text.casefold()


def _has_word(text: str, word: str) -> bool:
    """Whether ``word`` occurs in ``text`` with no letter or digit right before or after it."""
    # str.find and two character checks: a regex with look-arounds scans far slower.
    at = text.find(word)
    while at >= 0:
        end = at + len(word)
        if (at == 0 or not text[at - 1].isalnum()) and (
            end == len(text) or not text[end].isalnum()
        ):
            return True
        at = text.find(word, at + 1)
    return False


def normalise(text: str) -> str:
    """Reduce a text as search compares it: words only, quotes and dashes folded, casefolded."""
    return normalize_text(text).casefold()


def context_of(text: str, matcher: Matcher) -> str:
    """Return the sentence holding the phrase (or its paragraph, if it spans sentences)."""
    # Paragraphs are cut at blank lines; no markdown parse is needed to quote one.
    for paragraph in _PARAGRAPH_BREAK.split(text):
        if not matcher.may_be_in(paragraph):
            continue
        words = normalise(paragraph)
        span = matcher.span_in(words)
        if span is None:
            continue
        for sentence in _SENTENCE_BREAK.split(paragraph):
            sentence_words = normalise(sentence)
            sentence_span = matcher.span_in(sentence_words)
            if sentence_span is not None:
                return _cut(" ".join(sentence.split()), sentence_words, sentence_span)
        return _cut(" ".join(paragraph.split()), words, span)
    return ""


def _cut(sentence: str, words: str, span: tuple[int, int]) -> str:
    """Shorten a long sentence to a window around the match (positions are approximate)."""
    if len(sentence) <= CONTEXT_MAX:
        return sentence
    # The normalised text is close in length to the sentence: scale the match position.
    middle = (span[0] + span[1]) // 2 * len(sentence) // max(len(words), 1)
    start = max(0, min(middle - CONTEXT_MAX // 2, len(sentence) - CONTEXT_MAX))
    end = start + CONTEXT_MAX
    # Whole words only: move each cut to the nearest space inside the window.
    if start:
        start = sentence.find(" ", start, end) + 1 or start
    if end < len(sentence):
        space = sentence.rfind(" ", start, end)
        end = space if space > start else end
    window = sentence[start:end].strip()
    return ("\u2026 " if start else "") + window + (" \u2026" if end < len(sentence) else "")


def search_history(
    history: Sequence[Version],
    text_of: Callable[[Version], str],
    matcher: Matcher,
    seen: dict[str, bool] | None = None,
) -> PolicyHits | None:
    """Follow the phrase through one policy's versions; None if no version has it.

    ``seen`` remembers the answer per text hash across policies and calls (identical texts
    are read and matched once).
    """
    seen = {} if seen is None else seen
    events: list[Event] = []
    present = False
    last_with: Version | None = None
    for version in history:
        has = seen.get(version.text_sha256)
        if has is None:
            has = seen[version.text_sha256] = matcher.found_in_text(text_of(version))
        if has and not present:
            kind = EventKind.RETURNED if events else EventKind.APPEARED
            events.append(Event(kind, version))
        elif present and not has:
            events.append(Event(EventKind.REMOVED, version))
        present = has
        if has:
            last_with = version
    if last_with is None or not history:
        return None
    return PolicyHits(
        policy=history[0].policy,
        events=tuple(events),
        latest=history[-1],
        in_latest=present,
        context=context_of(text_of(last_with), matcher),
        context_version=last_with,
        versions_searched=len(history),
    )


def search_store(
    store: GitStore,
    matcher: Matcher,
    policies: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[PolicyHits], int]:
    """Search every version of the given policies (all when None); also count versions read."""
    names = list(policies) if policies else store.policies()
    seen: dict[str, bool] = {}
    found: list[PolicyHits] = []
    searched = 0
    for done, policy in enumerate(names, start=1):
        history = store.versions(policy)
        searched += len(history)
        hits = search_history(history, store.text, matcher, seen)
        if hits is not None:
            found.append(hits)
        if progress is not None:
            progress(done, len(names))
    return found, searched
