"""The auditor's history views: blame by paragraph or sentence, section timelines, change stats.

Everything here follows a policy through its versions with the section/word diff engine
(``compare_texts`` of consecutive versions), never with git's line blame: re-wrapping,
quote style and other cosmetic edits do not make a clause new, a paragraph moved to
another place keeps its age, and a renamed section keeps its history.

The core (``split_units``, ``blame_texts``, ``find_section``, ``change_stats``) is pure:
texts and diffs in, values out. ``Timeline`` reads versions from the store and computes
each diff once; ``version_stats`` keeps per-version stats in a rebuildable cache under
the store's git directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import importlib.util
import io
import itertools
import json
import os
import pickle
import re
import shutil
import tempfile
import zlib
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policydiff import __version__
from policydiff.core.diff_model import DocumentDiff, MovedBlock, Op, SectionDiff, SectionStatus
from policydiff.core.errors import UsageError
from policydiff.engine.normalize import normalize_text, title_key
from policydiff.engine.report import is_notable, join_path
from policydiff.engine.sections import Section, split_sections
from policydiff.engine.worddiff import count_words

if TYPE_CHECKING:
    from policydiff.core.model import Version
    from policydiff.store.gitstore import GitStore

# --------------------------------------------------------------------------- units


class Granularity(Enum):
    """What blame annotates."""

    PARAGRAPH = "paragraph"
    SENTENCE = "sentence"


@dataclass(frozen=True, slots=True)
class Unit:
    """A heading, paragraph, list item or sentence of a text, located by its span."""

    # text[start:end] is the unit without surrounding whitespace.
    start: int
    end: int
    # Index of the section (split_sections order) the unit belongs to.
    section: int
    heading: bool
    # Normalised words: two units with equal keys say the same thing.
    key: str


# A blank line ends a paragraph; a list marker at a line start begins a new item (a
# bullet is a clause of its own even without a blank line before it).
_UNIT_BREAK = re.compile(r"\n[ \t]*\n\s*|\n(?=[ \t]{0,3}(?:[-*+]|\d{1,9}\\?[.)])[ \t])")
# End of a sentence: . ! or ? (and closing quotes or brackets), spaces, then what looks
# like the start of the next one.
_SENTENCE_END = re.compile(
    r"[.!?][\"'\u201d\u2019)\]*_]*\s+(?=[\"'\u201c\u2018(\[*_]*[A-Z0-9\u00c0-\u024f])"
)
_LAST_WORD = re.compile(r"([\w.]+)[.!?]$")
# Words whose final period does not end a sentence.
_ABBREVIATIONS = frozenset(
    {
        "e.g", "i.e", "etc", "inc", "ltd", "co", "corp", "llc", "no", "nr", "mr", "mrs",
        "ms", "dr", "st", "vs", "cf", "art", "sec", "para", "approx", "u.s", "u.k", "e.u",
    }
)  # fmt: skip
# A unit the diff did not link keeps its age if an old unit had the same words and it
# has at least this many: shorter ones ("None.", "Yes") say too little to be the same.
MOVED_MIN_WORDS = 3
# A heading key never equals a paragraph key.
_HEADING_KEY = "\x00"


def _stripped(text: str, start: int, end: int) -> tuple[int, int]:
    """Return the span without leading and trailing whitespace."""
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece) - len(piece.rstrip())
    return start + lead, end - trail


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut text[start:end] into sentence spans."""
    spans: list[tuple[int, int]] = []
    begin = start
    for match in _SENTENCE_END.finditer(text, start, end):
        word = _LAST_WORD.search(text, begin, match.start() + 1)
        if word is not None:
            stem = word.group(1).lower().rstrip(".")
            if stem in _ABBREVIATIONS or (len(stem) == 1 and stem.isalpha()):
                continue
        spans.append((begin, match.start() + 1))
        begin = match.end()
    spans.append((begin, end))
    return [_stripped(text, a, b) for a, b in spans if text[a:b].strip()]


def split_units(
    text: str, by: Granularity = Granularity.PARAGRAPH, sections: Sequence[Section] | None = None
) -> tuple[Unit, ...]:
    """Cut a text into headings and paragraphs (or sentences), in document order."""
    if sections is None:
        sections = split_sections(text)
    units: list[Unit] = []
    for index, section in enumerate(sections):
        if section.content_start > section.start:
            a, b = _stripped(text, section.start, section.content_start)
            if a < b:
                key = title_key(section.title) or normalize_text(text[a:b])
                units.append(Unit(a, b, index, heading=True, key=_HEADING_KEY + key))
        begin = section.content_start
        pieces: list[tuple[int, int]] = []
        for match in _UNIT_BREAK.finditer(text, section.content_start, section.end):
            pieces.append((begin, match.start()))
            begin = match.end()
        pieces.append((begin, section.end))
        for piece_start, piece_end in pieces:
            a, b = _stripped(text, piece_start, piece_end)
            if a >= b:
                continue
            spans = _sentences(text, a, b) if by is Granularity.SENTENCE else [(a, b)]
            units.extend(
                Unit(s, e, index, heading=False, key=normalize_text(text[s:e])) for s, e in spans
            )
    return tuple(units)


# --------------------------------------------------------------------------- blame core


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a unit's present form comes from, as positions in the chain of versions."""

    # The version since which the unit has stood substantively unchanged.
    since: int
    # The version in which its exact text last changed (cosmetic edits included).
    edited: int


@dataclass(frozen=True, slots=True)
class _Link:
    """Old text range [old_start, old_end) that became new range [new_start, new_end)."""

    old_start: int
    old_end: int
    new_start: int
    new_end: int
    # Equal text: offsets map one to one (else the whole ranges correspond).
    exact: bool


def _links(
    diff: DocumentDiff, old_sections: Sequence[Section], new_sections: Sequence[Section]
) -> list[_Link]:
    """Return the ranges the diff keeps: equal runs, cosmetic edits and moved blocks."""
    links: list[_Link] = []
    moved_old: dict[int, list[tuple[int, int]]] = {}
    moved_new: dict[int, list[tuple[int, int]]] = {}
    for section in diff.sections:
        old = old_sections[section.old_index].start if section.old_index is not None else 0
        new = new_sections[section.new_index].start if section.new_index is not None else 0
        cosmetic_delete: tuple[int, int] | None = None
        for segment in section.segments:
            size = len(segment.text)
            if segment.op is Op.EQUAL:
                links.append(_Link(old, old + size, new, new + size, exact=True))
                old += size
                new += size
                cosmetic_delete = None
            elif segment.op is Op.DELETE:
                if segment.move_id is not None:
                    moved_old.setdefault(segment.move_id, []).append((old, old + size))
                elif segment.cosmetic:
                    cosmetic_delete = (old, old + size)
                old += size
            else:
                if segment.move_id is not None:
                    moved_new.setdefault(segment.move_id, []).append((new, new + size))
                elif segment.cosmetic and cosmetic_delete is not None:
                    links.append(_Link(*cosmetic_delete, new, new + size, exact=False))
                    cosmetic_delete = None
                new += size
    for move_id, targets in moved_new.items():
        for old_start, old_end in moved_old.get(move_id, ()):
            links.extend(_Link(old_start, old_end, a, b, exact=False) for a, b in targets)
    return links


def _overlapping(units: Sequence[Unit], ends: list[int], start: int, end: int) -> Iterable[int]:
    """Yield indexes of units overlapping [start, end) (units are sorted and disjoint)."""
    index = bisect_right(ends, start)
    while index < len(units) and units[index].start < end:
        yield index
        index += 1


def _carry_origins(
    old_text: str,
    old_units: Sequence[Unit],
    old_origins: Sequence[Origin],
    new_text: str,
    new_units: Sequence[Unit],
    links: Sequence[_Link],
    step: int,
) -> tuple[Origin, ...]:
    """Give each new unit the origin of the old unit(s) it still says, else ``step``.

    The diff says which old units a new unit comes from (equal runs, cosmetic edits,
    moved blocks); normalised words say whether it still says the same thing: one to
    one, several old paragraphs joined, or one old paragraph split. A unit the diff did
    not link (a paragraph moved within a section shows as delete + insert) keeps its
    origin if an old unit had the same words, at least ``MOVED_MIN_WORDS`` of them.
    """
    old_ends = [u.end for u in old_units]
    new_ends = [u.end for u in new_units]
    candidates: list[dict[int, int]] = [{} for _ in new_units]
    for link in links:
        for j in _overlapping(new_units, new_ends, link.new_start, link.new_end):
            unit = new_units[j]
            a, b = max(link.new_start, unit.start), min(link.new_end, unit.end)
            if link.exact:
                mapped = (link.old_start + a - link.new_start, link.old_start + b - link.new_start)
            else:
                mapped = (link.old_start, link.old_end)
            for i in _overlapping(old_units, old_ends, *mapped):
                overlap = min(mapped[1], old_units[i].end) - max(mapped[0], old_units[i].start)
                candidates[j][i] = candidates[j].get(i, 0) + min(overlap, b - a)

    result: list[Origin | None] = [None] * len(new_units)
    used: set[int] = set()

    def carry(j: int, i: int) -> Origin:
        old, new = old_units[i], new_units[j]
        same = old_text[old.start : old.end] == new_text[new.start : new.end]
        used.add(i)
        return Origin(old_origins[i].since, old_origins[i].edited if same else step)

    # One to one: the linked old unit with the same words and the largest overlap.
    for j, found in enumerate(candidates):
        same = [i for i in found if old_units[i].key == new_units[j].key]
        if same:
            result[j] = carry(j, max(same, key=lambda i: (found[i], -i)))
    # Split: the new units linked to one old unit say, together, what it said.
    children: dict[int, list[int]] = {}
    for j, found in enumerate(candidates):
        if result[j] is None and len(found) == 1:
            children.setdefault(next(iter(found)), []).append(j)
    for i, js in children.items():
        if len(js) > 1 and " ".join(new_units[j].key for j in js) == old_units[i].key:
            for j in js:
                result[j] = Origin(old_origins[i].since, step)
    # Merge: consecutive old units joined into one new unit.
    for j, found in enumerate(candidates):
        if result[j] is not None or len(found) < 2:
            continue
        olds = sorted(found)
        contiguous = olds[-1] - olds[0] == len(olds) - 1
        if contiguous and " ".join(old_units[i].key for i in olds) == new_units[j].key:
            result[j] = Origin(max(old_origins[i].since for i in olds), step)
    # Moved without a link: the same words elsewhere in the old text.
    by_key: dict[str, list[int]] = {}
    for i, unit in enumerate(old_units):
        if unit.key.count(" ") + 1 >= MOVED_MIN_WORDS:
            by_key.setdefault(unit.key, []).append(i)
    for j, unit in enumerate(new_units):
        if result[j] is None and unit.key in by_key:
            olds = by_key[unit.key]
            result[j] = carry(j, next((i for i in olds if i not in used), olds[0]))
    return tuple(origin or Origin(step, step) for origin in result)


def _carry_through(
    text: str,
    sections: Sequence[Section],
    units: tuple[Unit, ...],
    origins: tuple[Origin, ...],
    steps: Iterable[tuple[int, str, Sequence[Section], DocumentDiff]],
    by: Granularity,
) -> tuple[tuple[Unit, ...], tuple[Origin, ...]]:
    """Carry a text's blame through later versions: (position, text, sections, diff) each."""
    for step, new_text, new_sections, diff in steps:
        new_units = split_units(new_text, by, new_sections)
        links = _links(diff, sections, new_sections)
        origins = _carry_origins(text, units, origins, new_text, new_units, links, step)
        text, sections, units = new_text, new_sections, new_units
    return units, origins


def blame_texts(
    texts: Sequence[str],
    by: Granularity = Granularity.PARAGRAPH,
    diffs: Sequence[DocumentDiff] | None = None,
    sections: Sequence[Sequence[Section]] | None = None,
) -> tuple[tuple[Unit, ...], tuple[Origin, ...]]:
    """Blame the last text: its units and, for each, origin positions in ``texts``.

    ``diffs[k]`` may give ``compare_texts(texts[k], texts[k + 1])`` and ``sections[k]``
    ``split_sections(texts[k])``, if already computed.
    """
    if not texts:
        return (), ()

    def sections_of(index: int) -> Sequence[Section]:
        return sections[index] if sections is not None else split_sections(texts[index])

    def diff_of(index: int) -> DocumentDiff:
        if diffs is not None:
            return diffs[index - 1]
        from policydiff.engine.compare import compare_texts

        return compare_texts(texts[index - 1], texts[index])

    first = sections_of(0)
    units = split_units(texts[0], by, first)
    steps = ((k, texts[k], sections_of(k), diff_of(k)) for k in range(1, len(texts)))
    return _carry_through(texts[0], first, units, tuple(Origin(0, 0) for _ in units), steps, by)


# --------------------------------------------------------------------------- timeline


class Timeline:
    """One policy's versions with their texts and diffs, each read or computed once."""

    def __init__(self, store: GitStore, policy: str, *, remember_diffs: bool = False) -> None:
        self.store = store
        self.policy = policy
        self.versions: tuple[Version, ...] = tuple(store.versions(policy))
        self._texts: dict[str, str] = {}
        self._sections: dict[str, tuple[Section, ...]] = {}
        self._diffs: dict[tuple[str, str], DocumentDiff] = {}
        # Diffs kept across runs (``site``: a re-run with nothing new computes none).
        self.remembered = DiffCache(store) if remember_diffs else None

    def text(self, version: Version | None) -> str:
        """Return a version's text ("" for None, the state before the first version)."""
        if version is None:
            return ""
        cached = self._texts.get(version.commit)
        if cached is None:
            cached = self._texts[version.commit] = self.store.text(version)
        return cached

    def sections(self, version: Version | None) -> tuple[Section, ...]:
        """Return a version's sections."""
        if version is None:
            return ()
        cached = self._sections.get(version.commit)
        if cached is None:
            cached = self._sections[version.commit] = split_sections(self.text(version))
        return cached

    def diff(self, old: Version | None, new: Version) -> DocumentDiff:
        """Return the diff from ``old`` (None: an empty text) to ``new``."""
        key = (old.commit if old is not None else "", new.commit)
        cached = self._diffs.get(key)
        if cached is None and self.remembered is not None:
            cached = self.remembered.get(_text_sha(old), _text_sha(new))
            if cached is not None:
                self._diffs[key] = cached
        if cached is None:
            # The engine loads on first use: `log` with warm stats never needs it.
            from policydiff.engine.compare import compare_texts, sections_of

            cached = self._diffs[key] = compare_texts(self.text(old), self.text(new))
            # The engine has just parsed both texts: keep its sections rather than parse again.
            for version in (old, new):
                if version is not None and version.commit not in self._sections:
                    self._sections[version.commit] = sections_of(self.text(version))
            if self.remembered is not None:
                self.remembered.put(_text_sha(old), _text_sha(new), cached)
        return cached

    def chain(
        self, upto: Version | None = None, *, include_technical: bool = False
    ) -> list[Version]:
        """Return the versions up to ``upto`` (default: the latest) that history follows.

        Technical re-extractions are left out unless asked for; ``upto`` itself always
        counts, so that the version asked about is the one described.
        """
        last = upto.number if upto is not None else len(self.versions)
        return [
            v
            for v in self.versions[:last]
            if include_technical or not v.technical or v.number == last
        ]


# --------------------------------------------------------------------------- blame


@dataclass(frozen=True, slots=True)
class BlameEntry:
    """One unit of the blamed version with the versions it dates from."""

    text: str
    path: tuple[str, ...]
    heading: bool
    start: int
    end: int
    since: Version
    edited: Version


@dataclass(frozen=True, slots=True)
class Blame:
    """A version's text annotated unit by unit."""

    policy: str
    version: Version
    by: Granularity
    include_technical: bool
    # The versions followed, oldest first (the blamed version last).
    chain: tuple[Version, ...]
    entries: tuple[BlameEntry, ...]
    # The blamed version's text (entries are spans of it).
    text: str


def blame(
    timeline: Timeline,
    version: Version | None = None,
    *,
    by: Granularity = Granularity.PARAGRAPH,
    include_technical: bool = False,
    use_cache: bool = True,
    rebuild: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Blame:
    """Annotate each unit of ``version`` (default: latest) with the version it stands since.

    The blame of a version depends only on its commit (which fixes the history before
    it), so results are remembered in the store's git directory: a version blamed before
    costs one parse, and after new versions are recorded only those are diffed, from the
    latest remembered blame on. ``rebuild`` recomputes from the first version;
    ``progress`` gets (versions diffed, versions to diff).
    """
    chain = timeline.chain(version, include_technical=include_technical)
    target = chain[-1]
    cache = BlameCache.load(timeline.store, timeline.policy) if use_cache else None
    start, origins = 0, None
    if cache is not None and not rebuild:
        positions = {v.commit: i for i, v in enumerate(chain)}
        for index in range(len(chain) - 1, -1, -1):
            origins = cache.get(by, include_technical, chain[index].commit, positions)
            if origins is not None:
                start = index
                break
    units = split_units(timeline.text(chain[start]), by, timeline.sections(chain[start]))
    if origins is None or len(origins) != len(units):
        if start:
            units = split_units(timeline.text(chain[0]), by, timeline.sections(chain[0]))
        start, origins = 0, tuple(Origin(0, 0) for _ in units)

    def steps() -> Iterator[tuple[int, str, Sequence[Section], DocumentDiff]]:
        total = len(chain) - 1 - start
        for done, index in enumerate(range(start + 1, len(chain)), start=1):
            # The diff first: it parses both texts, and sections() then reuses the parse.
            diff = timeline.diff(chain[index - 1], chain[index])
            yield index, timeline.text(chain[index]), timeline.sections(chain[index]), diff
            if progress is not None:
                progress(done, total)

    first = chain[start]
    units, origins = _carry_through(
        timeline.text(first), timeline.sections(first), units, origins, steps(), by
    )
    if cache is not None:
        cache.put(
            by,
            include_technical,
            target.commit,
            [(chain[o.since].commit, chain[o.edited].commit) for o in origins],
        )
        cache.save()
    sections = timeline.sections(target)
    text = timeline.text(target)
    entries = tuple(
        BlameEntry(
            text=text[unit.start : unit.end],
            path=sections[unit.section].path,
            heading=unit.heading,
            start=unit.start,
            end=unit.end,
            since=chain[origin.since],
            edited=chain[origin.edited],
        )
        for unit, origin in zip(units, origins, strict=True)
    )
    return Blame(timeline.policy, target, by, include_technical, tuple(chain), entries, text)


class BlameCache:
    """A policy's remembered blames, in a rebuildable file under the store's git directory.

    Keyed by (granularity, technical versions followed, blamed commit); each holds, per
    unit of that version, the commits it stands since and was last edited in. Only the
    ``BLAME_KEEP`` most recently used are kept, so the file stays small.
    """

    def __init__(self, path: Path, policy: str, fingerprint: str, key: bytes | None) -> None:
        self.path = path
        self.policy = policy
        self.fingerprint = fingerprint
        self.key = key  # the store's cache key; None: nothing is read or written
        self.entries: dict[str, Any] = {}
        self.changed = False
        self.altered = 0  # entries dropped because their seal did not match

    @classmethod
    def load(cls, store: GitStore, policy: str) -> BlameCache:
        """Return the policy's cache (empty if absent, stale or malformed; bad seals dropped)."""
        cache = cls(
            _cache_path(store, BLAME_DIR, policy), policy, engine_fingerprint(), store.cache_key()
        )
        data = _read_json(cache.path) if cache.key is not None else None
        if (
            isinstance(data, dict)
            and data.get("format") == BLAME_FORMAT
            and data.get("engine") == cache.fingerprint
            and data.get("policy") == policy
            and isinstance(data.get("blames"), dict)
        ):
            for name, entry in data["blames"].items():
                if cache._sealed(name, entry):
                    cache.entries[name] = entry
                else:
                    cache.altered += 1
                    cache.changed = True  # saving drops it from the file
        return cache

    def _seal(self, name: str, entry: dict[str, Any]) -> str:
        """Return the seal of one remembered blame (its key, commits and origins)."""
        content = {"commits": entry.get("commits"), "origins": entry.get("origins")}
        return _seal(self.key, "blame", self.policy, self.fingerprint, name, content)

    def _sealed(self, name: str, entry: object) -> bool:
        """Whether a remembered blame is as this store's policydiff wrote it."""
        return (
            isinstance(entry, dict)
            and isinstance(entry.get("seal"), str)
            and hmac.compare_digest(entry["seal"], self._seal(name, entry))
        )

    @staticmethod
    def _key(by: Granularity, technical: bool, commit: str) -> str:
        return f"{by.value}:{int(technical)}:{commit}"

    def get(
        self, by: Granularity, technical: bool, commit: str, positions: dict[str, int]
    ) -> tuple[Origin, ...] | None:
        """Return a remembered blame as positions in the chain, or None if absent or unusable."""
        key = self._key(by, technical, commit)
        entry = self.entries.get(key)
        if not isinstance(entry, dict):
            return None
        try:
            commits = [positions[c] for c in entry["commits"]]
            origins = tuple(Origin(commits[a], commits[b]) for a, b in entry["origins"])
        except (KeyError, IndexError, TypeError, ValueError):
            return None
        # Most recently used last: eviction drops from the front.
        self.entries[key] = self.entries.pop(key)
        return origins

    def put(
        self, by: Granularity, technical: bool, commit: str, origins: list[tuple[str, str]]
    ) -> None:
        """Remember a blame: (since commit, edited commit) per unit."""
        commits = list(dict.fromkeys(c for pair in origins for c in pair))
        number = {c: i for i, c in enumerate(commits)}
        key = self._key(by, technical, commit)
        entry: dict[str, Any] = {
            "commits": commits,
            "origins": [[number[a], number[b]] for a, b in origins],
        }
        entry["seal"] = self._seal(key, entry)
        if self.entries.get(key) != entry:
            self.entries.pop(key, None)
            self.entries[key] = entry
            self.changed = True
        while len(self.entries) > BLAME_KEEP:
            del self.entries[next(iter(self.entries))]

    def save(self) -> None:
        """Write the cache if it changed (atomically; a read-only store skips it)."""
        if self.changed and self.key is not None:
            document = {
                "format": BLAME_FORMAT,
                "engine": self.fingerprint,
                "policy": self.policy,
                "blames": self.entries,
            }
            _write_json(self.path, document)
            self.changed = False


def _text_sha(version: Version | None) -> str:
    """Return the SHA-256 of a version's text (of the empty text for None)."""
    return version.text_sha256 if version is not None else hashlib.sha256(b"").hexdigest()


DIFF_DIR = ("policydiff", "diffs")
DIFF_FORMAT = 1
# Classes a remembered diff may be made of: nothing else is ever built when reading one.
_DIFF_GLOBALS = {("datetime", "date")}


class _DiffUnpickler(pickle.Unpickler):
    """Unpickler that builds only the diff model's classes (and dates)."""

    def find_class(self, module: str, name: str) -> type:
        """Return an allowed class; refuse every other global."""
        if module == "policydiff.core.diff_model" or (module, name) in _DIFF_GLOBALS:
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"not part of a diff: {module}.{name}")


class DiffCache:
    """Diffs of text pairs kept under ``.git/policydiff/diffs``, by the two texts' SHA-256s.

    One file per pair in a folder per engine fingerprint (other engines' folders are
    removed on the first write); each file is sealed with the store's cache key, as the
    stats and blame caches are, and read back only into the diff model's classes.
    """

    def __init__(self, store: GitStore) -> None:
        self.fingerprint = engine_fingerprint()
        self.key = store.cache_key()  # None: nothing is read or written
        self.root = Path(store.repo.git_dir).joinpath(*DIFF_DIR)
        self.folder = self.root / f"{DIFF_FORMAT}-{self.fingerprint}"
        self.swept = False

    def _path(self, name: str) -> Path:
        return self.folder / f"{hashlib.sha256(name.encode()).hexdigest()[:40]}.bin"

    def _seal(self, name: str, payload: bytes) -> str:
        digest = hashlib.sha256(payload).hexdigest()
        return _seal(self.key, "diff", "", self.fingerprint, name, digest)

    def read(self, name: str) -> bytes | None:
        """Return the payload remembered under ``name`` if this store sealed it, else None."""
        if self.key is None:
            return None
        try:
            data = self._path(name).read_bytes()
        except OSError:
            return None
        seal, _, payload = data.partition(b"\n")
        if not hmac.compare_digest(seal, self._seal(name, payload).encode("ascii")):
            return None
        return payload

    def write(self, name: str, payload: bytes) -> None:
        """Remember ``payload`` under ``name``, sealed (nothing without a key)."""
        if self.key is None:
            return
        if not self.swept:
            self.swept = True
            with contextlib.suppress(OSError):
                for stale in self.root.iterdir():
                    if stale != self.folder and stale.is_dir() and not stale.is_symlink():
                        shutil.rmtree(stale, ignore_errors=True)
        _write_bytes(self._path(name), self._seal(name, payload).encode("ascii") + b"\n" + payload)

    def get(self, old_sha: str, new_sha: str) -> DocumentDiff | None:
        """Return the remembered diff of two texts, or None (absent, altered or unreadable)."""
        payload = self.read(f"{old_sha}..{new_sha}")
        if payload is None:
            return None
        try:
            found = _DiffUnpickler(io.BytesIO(zlib.decompress(payload))).load()
        except Exception:  # noqa: BLE001 - a cache that cannot be read is recomputed
            return None
        return found if isinstance(found, DocumentDiff) else None

    def put(self, old_sha: str, new_sha: str, diff: DocumentDiff) -> None:
        """Remember the diff of two texts (nothing without a key or on an unwritable store)."""
        if self.key is not None:
            payload = zlib.compress(pickle.dumps(diff, protocol=pickle.HIGHEST_PROTOCOL), 1)
            self.write(f"{old_sha}..{new_sha}", payload)


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True, slots=True)
class SectionChange:
    """A version in which a section changed, with its diff against the version before."""

    version: Version
    # None: the first version followed (the section is shown as added).
    previous: Version | None
    section: SectionDiff
    # The whole document diff (for move notes and renderers).
    document: DocumentDiff

    @property
    def kind(self) -> str:
        """What happened: initial, added, removed, modified, cosmetic, renamed, (text_)moved."""
        status = self.section.status
        if status is SectionStatus.ADDED:
            return "initial" if self.previous is None else "added"
        if status in {SectionStatus.UNCHANGED, SectionStatus.COSMETIC} and self.section.renamed:
            return "renamed"
        if status is SectionStatus.UNCHANGED:
            return "moved"
        if status is SectionStatus.COSMETIC and (self.section.moved_in or self.section.moved_out):
            # Text moved in or out unchanged: not a change of its words, but of its content.
            return "text_moved"
        return str(status.value)

    @property
    def moves(self) -> tuple[MovedBlock, ...]:
        """Blocks of text moved into or out of the section in this version."""
        ids = set(self.section.moved_in) | set(self.section.moved_out)
        return tuple(m for m in self.document.moves if m.id in ids)


@dataclass(frozen=True, slots=True)
class SectionHistory:
    """One section followed through the versions (renames and moves included)."""

    policy: str
    # Path in each version it appears in, oldest first: (version, path).
    paths: tuple[tuple[Version, tuple[str, ...]], ...]
    changes: tuple[SectionChange, ...]
    # The version that removed it, if it is gone.
    removed_in: Version | None
    include_technical: bool

    @property
    def path(self) -> tuple[str, ...]:
        """The section's latest path."""
        return self.paths[-1][1]

    @property
    def first(self) -> Version:
        """The first version it appears in."""
        return self.paths[0][0]

    @property
    def last(self) -> Version:
        """The last version it appears in."""
        return self.paths[-1][0]

    @property
    def names(self) -> tuple[tuple[str, ...], ...]:
        """Its distinct paths, oldest first."""
        return tuple(dict.fromkeys(path for _, path in self.paths))


@dataclass
class _Lineage:
    """A section being followed (mutable while building)."""

    paths: list[tuple[Version, tuple[str, ...]]] = field(default_factory=list)
    changes: list[SectionChange] = field(default_factory=list)
    removed_in: Version | None = None


def section_histories(
    timeline: Timeline, *, include_technical: bool = False
) -> list[SectionHistory]:
    """Follow every section through the versions: one history per section lineage.

    Sections are matched across consecutive versions by the diff engine (titles,
    numbering stripped, fuzzy titles and content), so renamed and moved sections keep
    their history. Histories come in order of first appearance.
    """
    chain = timeline.chain(include_technical=include_technical)
    lineages: list[_Lineage] = []
    alive: dict[int, _Lineage] = {}
    previous: Version | None = None
    for version in chain:
        diff = timeline.diff(previous, version)
        now: dict[int, _Lineage] = {}
        for section in diff.sections:
            if section.old_index is None:
                lineage = _Lineage()
                lineages.append(lineage)
            else:
                lineage = alive[section.old_index]
            change = SectionChange(version, previous, section, diff)
            if section.new_index is None:
                lineage.removed_in = version
                lineage.changes.append(change)
                continue
            now[section.new_index] = lineage
            lineage.paths.append((version, section.new_path or ()))
            if section.old_index is None or is_notable(section):
                lineage.changes.append(change)
        alive = now
        previous = version
    return [
        SectionHistory(
            timeline.policy,
            tuple(lineage.paths),
            tuple(lineage.changes),
            lineage.removed_in,
            include_technical,
        )
        for lineage in lineages
    ]


def _needle(text: str) -> str:
    """Return text folded for matching section paths."""
    return normalize_text(text).casefold()


def find_section(histories: Sequence[SectionHistory], text: str) -> SectionHistory:
    """Return the one section whose path contains ``text`` (case-insensitively).

    Paths in the latest version are tried first, then paths the section had in any
    version. Several matches are narrowed to those whose own title contains ``text``,
    then to an exact title; otherwise the candidates are listed in the error.
    """
    needle = _needle(text)
    if not needle:
        raise UsageError("--section needs some words of a section title")
    latest = max((h.last.number for h in histories), default=0)

    def matches(path: tuple[str, ...]) -> bool:
        return needle in _needle(join_path(path))

    current = [h for h in histories if h.removed_in is None and h.last.number == latest]
    found = [h for h in current if matches(h.path)]
    where = "the latest version"
    if not found:
        found = [h for h in histories if any(matches(path) for path in h.names)]
        where = "any version"
    if len(found) > 1:
        own = [h for h in found if any(path and needle in _needle(path[-1]) for path in h.names)]
        exact = [h for h in own if any(path and title_key(path[-1]) == needle for path in h.names)]
        found = exact if len(exact) == 1 else own or found
    if len(found) == 1:
        return found[0]
    if not found:
        known = "; ".join(join_path(h.path) for h in current[:12])
        raise UsageError(
            f"no section matches {text!r} in {where} (sections now: {known or 'none'})"
        )
    listed = "; ".join(_describe(h) for h in found[:12])
    more = f" and {len(found) - 12} more" if len(found) > 12 else ""
    raise UsageError(
        f"{text!r} matches {len(found)} sections in {where}: {listed}{more}; give more of the title"
    )


def _describe(history: SectionHistory) -> str:
    """Return a section's path, with the versions it was in if it is gone."""
    path = join_path(history.path)
    if history.removed_in is not None:
        return f"{path} (until version {history.last.number})"
    return path


def section_history(
    timeline: Timeline, text: str, *, include_technical: bool = False
) -> SectionHistory:
    """Return the history of the one section whose path contains ``text``."""
    return find_section(section_histories(timeline, include_technical=include_technical), text)


# --------------------------------------------------------------------------- stats


@dataclass(frozen=True, slots=True)
class ChangeStats:
    """How much one version changed from the version before it."""

    sections_added: int
    sections_removed: int
    sections_changed: int
    sections_cosmetic: int
    sections_renamed: int
    sections_moved: int
    words_inserted: int
    words_deleted: int
    # Words in cosmetic runs (quotes, dashes, markup) on both sides.
    cosmetic_words: int
    substantive: bool
    identical: bool
    # Text moved between or within sections, as compare's summary counts it: the moved
    # words are not in words_inserted/deleted (only the edits made inside them are).
    moved_blocks: int
    words_moved: int

    @property
    def cosmetic_only(self) -> bool:
        """Whether the texts differ, but only cosmetically (or by moves and renumbering).

        A section renamed is not cosmetic, though not substantive either: it is reported.
        """
        return not self.substantive and not self.identical and not self.sections_renamed

    @property
    def substantive_words(self) -> int:
        """Words inserted plus words deleted."""
        return self.words_inserted + self.words_deleted

    def to_json(self) -> dict[str, Any]:
        """Return the stats as the documented JSON object (also the cache's form)."""
        return {
            "sections_added": self.sections_added,
            "sections_removed": self.sections_removed,
            "sections_changed": self.sections_changed,
            "sections_cosmetic": self.sections_cosmetic,
            "sections_renamed": self.sections_renamed,
            "sections_moved": self.sections_moved,
            "words_inserted": self.words_inserted,
            "words_deleted": self.words_deleted,
            "cosmetic_words": self.cosmetic_words,
            "substantive": self.substantive,
            "identical": self.identical,
            "cosmetic_only": self.cosmetic_only,
            "moved_blocks": self.moved_blocks,
            "words_moved": self.words_moved,
        }

    @classmethod
    def from_json(cls, data: object) -> ChangeStats | None:
        """Rebuild stats from ``to_json`` output; None if anything is missing or mistyped."""
        if not isinstance(data, dict):
            return None
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            value = data.get(name)
            wanted = bool if name in {"substantive", "identical"} else int
            if type(value) is not wanted or (wanted is int and value < 0):
                return None
            values[name] = value
        return cls(**values)


def change_stats(diff: DocumentDiff) -> ChangeStats:
    """Count what a diff changed, per section and in words: read from its ``summary``.

    Every count but ``cosmetic_words`` is the diff summary's own, so ``log`` says what
    ``compare`` says for the same pair of versions.
    """
    summary = diff.summary
    cosmetic_words = sum(
        count_words(segment.text)
        for section in diff.sections
        for segment in section.segments
        if segment.cosmetic and segment.op is not Op.EQUAL
    )
    return ChangeStats(
        sections_added=summary.added,
        sections_removed=summary.removed,
        sections_changed=summary.modified,
        sections_cosmetic=summary.cosmetic,
        sections_renamed=summary.renamed,
        sections_moved=summary.moved,
        words_inserted=summary.words_inserted,
        words_deleted=summary.words_deleted,
        cosmetic_words=cosmetic_words,
        substantive=summary.substantive,
        identical=diff.identical,
        moved_blocks=summary.moved_blocks,
        words_moved=summary.words_moved,
    )


STATS_FORMAT = 3  # 2: every entry sealed; 3: moved_blocks and words_moved
STATS_DIR = ("policydiff", "stats")
BLAME_FORMAT = 2  # 2: every entry sealed
BLAME_DIR = ("policydiff", "blame")
BLAME_KEEP = 16  # blamed versions remembered per policy
# Modules whose code decides the stats: a change to any of them invalidates the cache.
_ENGINE_MODULES = (
    "policydiff.engine.compare",
    "policydiff.engine.align",
    "policydiff.engine.worddiff",
    "policydiff.engine.sections",
    "policydiff.engine.blockscan",
    "policydiff.engine.normalize",
    "policydiff.core.diff_model",
    "policydiff.engine.history",
)


def engine_fingerprint() -> str:
    """Return a hash of the package version and the diff engine's source code."""
    digest = hashlib.sha256(f"{__version__}\0{STATS_FORMAT}".encode())
    for name in _ENGINE_MODULES:
        # find_spec locates the file without importing the module (log stays fast).
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        with contextlib.suppress(OSError, TypeError):
            digest.update(Path(origin or "").read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def _cache_path(store: GitStore, folder: tuple[str, ...], policy: str) -> Path:
    """Return a policy's file in one of the caches inside the store's git directory."""
    name = hashlib.sha256(policy.encode("utf-8")).hexdigest()[:24]
    return Path(store.repo.git_dir).joinpath(*folder, f"{name}.json")


def stats_cache_path(store: GitStore, policy: str) -> Path:
    """Return the cache file of a policy's stats, inside the store's git directory."""
    return _cache_path(store, STATS_DIR, policy)


def _pair_key(old: Version, new: Version) -> str:
    """Return the cache key of a pair of consecutive versions."""
    return f"{old.commit}..{new.commit}"


def _seal(
    key: bytes | None, kind: str, policy: str, fingerprint: str, name: str, value: object
) -> str:
    """Return the MAC sealing one cache entry to what it was computed from and says.

    The entry's name carries the commits it was computed from, the fingerprint the engine
    that computed it; the key is the store's own (``GitStore.cache_key``), so an entry
    edited by hand or brought from another store does not match and is recomputed.
    """
    if key is None:
        return ""
    content = json.dumps([kind, policy, fingerprint, name, value], sort_keys=True)
    return hmac.new(key, content.encode("utf-8"), hashlib.sha256).hexdigest()


def _stats_sealed(
    key: bytes | None, policy: str, fingerprint: str, name: str, value: object
) -> bool:
    """Whether a cached stats entry is as this store's policydiff wrote it."""
    if key is None or not isinstance(value, dict) or not isinstance(value.get("seal"), str):
        return False
    content = {k: v for k, v in value.items() if k != "seal"}
    return hmac.compare_digest(
        value["seal"], _seal(key, "stats", policy, fingerprint, name, content)
    )


def _load_cache(
    path: Path, policy: str, fingerprint: str, key: bytes | None
) -> tuple[dict[str, ChangeStats], int]:
    """Return the cached stats and how many entries were dropped as not matching their seal.

    Nothing is read if the file is absent, stale or malformed, or without a key.
    """
    data = _read_json(path) if key is not None else None
    if (
        not isinstance(data, dict)
        or data.get("format") != STATS_FORMAT
        or data.get("engine") != fingerprint
        or data.get("policy") != policy
        or not isinstance(data.get("pairs"), dict)
    ):
        return {}, 0
    found: dict[str, ChangeStats] = {}
    altered = 0
    for name, value in data["pairs"].items():
        stats = ChangeStats.from_json(value)
        if stats is not None and _stats_sealed(key, policy, fingerprint, name, value):
            found[name] = stats
        else:
            altered += 1
    return found, altered


def _save_cache(
    path: Path, policy: str, fingerprint: str, key: bytes | None, pairs: dict[str, ChangeStats]
) -> None:
    """Write the stats cache, each entry sealed (nothing without a key)."""
    if key is None:
        return
    sealed = {}
    for name, stats in sorted(pairs.items()):
        value = stats.to_json()
        sealed[name] = {**value, "seal": _seal(key, "stats", policy, fingerprint, name, value)}
    document = {"format": STATS_FORMAT, "engine": fingerprint, "policy": policy, "pairs": sealed}
    _write_json(path, document)


def _read_json(path: Path) -> object:
    """Return a cache file's JSON, or None if it is absent or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None


def _write_json(path: Path, document: dict[str, Any]) -> None:
    """Write a cache file atomically (temporary file, then rename); a read-only store skips it."""
    _write_bytes(path, json.dumps(document, indent=1, sort_keys=False).encode("utf-8"))


def _write_bytes(path: Path, data: bytes) -> None:
    """Write a cache file atomically (temporary file, then rename); a read-only store skips it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".cache-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        # The cache is an optimisation: an unwritable git dir only costs the next run time.
        return


def check_caches(store: GitStore, policy: str | None = None) -> list[str]:
    """Check the seals of the change-stats and blame caches; drop every entry that fails.

    For one policy its two files are checked, else every file of both caches. Returns a
    problem line per file that held altered or damaged entries (or another policy's
    cache); those entries are removed, so no later read can use them. Files written by
    another engine version are stale, not altered: reads ignore them already.
    """
    key = store.cache_key()
    if key is None:
        return []
    fingerprint = engine_fingerprint()
    problems: list[str] = []
    for folder, kind, form in (
        (STATS_DIR, "change-stats", STATS_FORMAT),
        (BLAME_DIR, "blame", BLAME_FORMAT),
    ):
        if policy is not None:
            paths = [_cache_path(store, folder, policy)]
        else:
            paths = sorted(Path(store.repo.git_dir).joinpath(*folder).glob("*.json"))
        for path in paths:
            if not path.is_file():
                continue
            data = _read_json(path)
            owner = data.get("policy") if isinstance(data, dict) else None
            shown = owner if isinstance(owner, str) and owner.isprintable() else ascii(owner)
            if not isinstance(data, dict) or not isinstance(owner, str):
                problems.append(f"{kind} cache {path.name} is unreadable (damaged): removed")
                path.unlink(missing_ok=True)
                continue
            if _cache_path(store, folder, owner) != path:
                problems.append(f"{kind} cache {path.name} holds the cache of {shown}: removed")
                path.unlink(missing_ok=True)
                continue
            if data.get("format") != form or data.get("engine") != fingerprint:
                continue
            if folder == STATS_DIR:
                good, altered = _load_cache(path, owner, fingerprint, key)
                if altered:
                    _save_cache(path, owner, fingerprint, key, good)
            else:
                cache = BlameCache.load(store, owner)
                altered = cache.altered
                cache.save()
            if altered:
                problems.append(
                    f"{kind} cache of {shown}: {altered} entr{'y' if altered == 1 else 'ies'} "
                    "did not match their seal (altered or damaged): dropped, recomputed on use"
                )
    return problems


def version_stats(
    timeline: Timeline,
    *,
    rebuild: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[ChangeStats | None]:
    """Return each version's change stats against the version before it (None for the first).

    Stats are cached per (old commit, new commit) pair in the store's git directory and
    recomputed when missing, when the engine changed, or with ``rebuild``. ``progress``
    gets (pairs computed, pairs to compute) after each computed pair.
    """
    versions = timeline.versions
    path = stats_cache_path(timeline.store, timeline.policy)
    fingerprint = engine_fingerprint()
    key = timeline.store.cache_key()
    cached, altered = ({}, 0) if rebuild else _load_cache(path, timeline.policy, fingerprint, key)
    pairs = list(itertools.pairwise(versions))
    missing = [(a, b) for a, b in pairs if _pair_key(a, b) not in cached]
    for done, (old, new) in enumerate(missing, start=1):
        cached[_pair_key(old, new)] = change_stats(timeline.diff(old, new))
        if progress is not None:
            progress(done, len(missing))
    wanted = {_pair_key(a, b) for a, b in pairs}
    if missing or rebuild or altered or set(cached) != wanted:
        # Pairs no longer in the history (after a backfill rewrite) are dropped.
        _save_cache(path, timeline.policy, fingerprint, key, {k: cached[k] for k in wanted})
    return [None, *(cached[_pair_key(a, b)] for a, b in pairs)] if versions else []
