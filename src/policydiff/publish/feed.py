"""An Atom feed of a policy's substantive versions, built with feedgen."""

from __future__ import annotations

import html
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator

from policydiff import __version__
from policydiff.publish.announce import ChangeKind, display_day, one_line, safe_url
from policydiff.publish.changelog import EntryKind, HistoryEntry, changelog_title

ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
# Ids are name-based UUIDs of policy id and commit: stable across runs, machines and
# config changes (a feed reader keys "already seen" on them), and a registered URN form.
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://policydiff.invalid/atom")
_COUNT_WORDS = (
    (ChangeKind.ADDED, "added"),
    (ChangeKind.CHANGED, "changed"),
    (ChangeKind.REMOVED, "removed"),
    (ChangeKind.RENAMED, "renamed"),
    (ChangeKind.MOVED, "moved"),
)


def feed_id(policy: str) -> str:
    """Return the feed's stable id: a ``urn:uuid:`` of the policy id."""
    return f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, policy)}"


def entry_id(policy: str, commit: str) -> str:
    """Return a version's stable id: a ``urn:uuid:`` of policy id and commit."""
    return f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, f'{policy}@{commit}')}"


def entry_title(entry: HistoryEntry) -> str:
    """Return an entry title such as ``Version 4: 1 section added, 2 changed``."""
    number = entry.version.number
    if entry.kind is EntryKind.FIRST:
        return f"Version {number}: first recorded version"
    if entry.kind is EntryKind.TECHNICAL:
        return f"Version {number}: technical re-extraction (not a policy change)"
    counts = [(_count(entry, kind), word) for kind, word in _COUNT_WORDS]
    parts = [f"{count} {word}" for count, word in counts if count]
    if not parts:
        return f"Version {number}: sections reordered"
    # "1 section added, 2 changed": the noun goes with the first count only.
    count, _, word = parts[0].partition(" ")
    parts[0] = f"{count} section{'' if count == '1' else 's'} {word}"
    return f"Version {number}: {', '.join(parts)}"


def _count(entry: HistoryEntry, kind: ChangeKind) -> int:
    """Return how many sections of an entry changed in the way ``kind`` names.

    Text moved in with edits counts as its section changed, as ``compare`` counts it
    (the section it moved into is modified by those edits, the move itself by 0 words);
    a section already counted (its own edits, or added, renamed...) counts once.
    """
    found = sum(1 for c in entry.changes if c.kind is kind)
    if kind is ChangeKind.CHANGED:
        counted = {k for k, _ in _COUNT_WORDS}
        changed = {c.section for c in entry.changes if c.kind in counted}
        found += len(
            {
                c.section
                for c in entry.changes
                if c.kind is ChangeKind.TEXT_MOVED and c.content_changed
            }
            - changed
        )
    return found


def _paragraphs(entry: HistoryEntry) -> list[str]:
    """Return what an entry says besides its change lines: the effective date, "first"."""
    version = entry.version
    effective = display_day(version.effective_date) if version.effective_date else "not stated"
    lines = [f"Effective date: {effective}."]
    if entry.kind is EntryKind.FIRST:
        lines.append("First recorded version.")
    if entry.kind is EntryKind.TECHNICAL:
        lines.append(
            "A technical re-extraction: the same policy read again from its stored source with "
            "newer extraction rules; the changes listed are the extractor's, not the policy's."
        )
    editorial = sum(1 for c in entry.changes if c.kind is ChangeKind.EDITORIAL)
    if editorial:
        lines.append(f"Editorial changes (wording unchanged) in {editorial} other section(s).")
    return lines


def _lines(entry: HistoryEntry) -> list[str]:
    """Return one line per section change, safe for XML (no control characters)."""
    return [
        one_line(change.line, limit=400)
        for change in entry.changes
        if change.kind is not ChangeKind.EDITORIAL
    ]


def _summary(entry: HistoryEntry) -> str:
    """Return the plain-text summary: the change lines, then the other facts."""
    return "\n".join([*_lines(entry), *_paragraphs(entry)])


def _content(entry: HistoryEntry) -> str:
    """Return the entry as HTML for readers that show content: a list of changes."""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in _lines(entry))
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in _paragraphs(entry))
    return (f"<ul>{items}</ul>" if items else "") + paragraphs


def _source_links(entries: Sequence[HistoryEntry]) -> dict[int, str]:
    """Return each version's source URL, or the latest one recorded before it.

    A policy's address rarely changes, and many versions are recorded without one.
    """
    links: dict[int, str] = {}
    latest: str | None = None
    for entry in sorted(entries, key=lambda e: e.version.number):
        latest = safe_url(entry.version.source_url) or latest
        if latest is not None:
            links[entry.version.number] = latest
    return links


@dataclass(frozen=True, slots=True)
class FeedLinks:
    """Where the feed and its entries point, besides the policy's own address."""

    # The feed's own address (rel="self"), as RFC 4287 recommends.
    self_url: str | None = None
    # The policy's page on the published site (the feed's rel="alternate" without announce.url).
    home: str | None = None
    # Version number -> its page on the published site: the entry's rel="alternate".
    pages: Mapping[int, str] = field(default_factory=dict)


def build_feed(
    policy: str,
    entries: Sequence[HistoryEntry],
    *,
    link: str | None = None,
    author: str | None = None,
    links: FeedLinks | None = None,
    include_technical: bool = False,
) -> bytes:
    """Return the Atom feed (UTF-8 XML) of the entries, newest first.

    One entry per substantive version (and the first one; technical re-extractions too,
    labelled, with ``include_technical``); ``link`` is where to read the policy
    (``announce.url``), else each version's source URL. With site pages in ``links``, an
    entry's alternate link is its page on the site (the redline of that version) and the
    policy's address becomes a related link. The feed's ``updated`` is the newest capture
    time, never "now", so the same store gives the same feed.
    """
    links = links or FeedLinks()
    kinds = {EntryKind.FIRST, EntryKind.SUBSTANTIVE}
    if include_technical:
        kinds.add(EntryKind.TECHNICAL)
    shown = [e for e in entries if e.kind in kinds]
    title = changelog_title(policy, entries)
    generator = FeedGenerator()
    generator.id(feed_id(policy))
    generator.title(f"{title}: changes")
    generator.subtitle(f"Substantive changes to {policy}, recorded by policydiff.")
    generator.author({"name": one_line(author) if author else title})
    generator.generator("policydiff", version=__version__)
    generator.language("en")
    feed_link = safe_url(link)
    sources = _source_links(entries)
    newest = (
        feed_link
        or safe_url(links.home)
        or (sources.get(shown[0].version.number) if shown else None)
    )
    if newest:
        generator.link(href=newest, rel="alternate")
    self_url = safe_url(links.self_url)
    if self_url:
        generator.link(href=self_url, rel="self", type="application/atom+xml")
    updated = max((e.version.captured_at for e in entries), default=None)
    if updated is None:
        # An empty feed still needs a date; the epoch says "nothing yet" and stays stable.
        updated = datetime(1970, 1, 1, tzinfo=UTC)
    generator.updated(updated)
    entry_links: dict[str, list[dict[str, str]]] = {}
    for entry in shown:
        version = entry.version
        item = generator.add_entry(order="append")
        item.id(entry_id(policy, version.commit))
        item.title(entry_title(entry))
        item.updated(version.captured_at)
        item.published(version.captured_at)
        item.summary(_summary(entry), type="text")
        item.content(_content(entry), type="html")
        href = feed_link or sources.get(version.number)
        page = safe_url(links.pages.get(version.number))
        found: list[dict[str, str]] = []
        if page:
            found.append({"href": page, "rel": "alternate", "type": "text/html"})
            if href:
                found.append({"href": href, "rel": "related"})
        elif href:
            found.append({"href": href, "rel": "alternate"})
        entry_links[entry_id(policy, version.commit)] = found
    data: bytes = generator.atom_str(pretty=True, encoding="UTF-8")
    return _add_entry_links(data, entry_links)


def _add_entry_links(data: bytes, entry_links: Mapping[str, list[dict[str, str]]]) -> bytes:
    """Return the feed with each entry's links (entry id -> attributes) added.

    feedgen writes an entry's links without their ``rel`` and ``type`` (its serialiser
    reads them from the new element instead of the link given), which makes a related
    link a second alternate one: the links are added here instead, escaped by the
    serialiser like every other attribute.
    """
    ET.register_namespace("", ATOM_NAMESPACE)
    root = ET.fromstring(data)  # noqa: S314 - our own feedgen output, not outside input
    for element in root.findall(f"{{{ATOM_NAMESPACE}}}entry"):
        for attributes in entry_links.get(element.findtext(f"{{{ATOM_NAMESPACE}}}id", ""), []):
            ET.SubElement(element, f"{{{ATOM_NAMESPACE}}}link", attributes)
    ET.indent(root, space="  ")
    out: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return out + b"\n"
