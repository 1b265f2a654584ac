"""Frozen value types for a section-level diff of two texts: what renderers consume.

Reconstruction rule (the contract every renderer may rely on):

* A document is cut into consecutive *sections* that tile it exactly: section ``i``'s
  *body* is the source text from the first character of its heading line(s) (or of the
  document, for the preamble) up to the first character of the next section's heading.
  So a body includes its own heading line(s) and the blank lines after its content,
  and concatenating all bodies in document order gives the text back byte for byte.
* In each :class:`SectionDiff`, joining the texts of the ``EQUAL`` and ``DELETE``
  segments gives the section's old body, and joining ``EQUAL`` and ``INSERT`` gives its
  new body (see :attr:`SectionDiff.old_text` / :attr:`SectionDiff.new_text`).
* Sections come in the new document's order; a removed section sits where it stood in
  the old document. Concatenating ``old_text`` of the sections sorted by ``old_index``
  gives the old document; ``new_text`` sorted by ``new_index`` gives the new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Op(Enum):
    """What a segment of a section diff does."""

    EQUAL = "equal"
    INSERT = "insert"
    DELETE = "delete"


class SectionStatus(Enum):
    """Verdict for one section."""

    # Bodies byte-identical, or differing only in the blank lines that end them (a
    # section gains a blank line when another is added after it): the segments still
    # rebuild each body exactly, the trailing spacing as a cosmetic pair.
    UNCHANGED = "unchanged"
    # Bodies differ only in quotes, dashes, spacing, markup, numbering label; or the
    # section exists on one side only and holds no words (a `* * *` rule, stray markup).
    COSMETIC = "cosmetic"
    MODIFIED = "modified"  # words changed
    ADDED = "added"  # only in the new document
    REMOVED = "removed"  # only in the old document


class SectionKind(Enum):
    """What a section unit was cut at."""

    PREAMBLE = "preamble"  # text before the first heading; path is ()
    HEADING = "heading"  # an ATX/setext heading or a bold/italic pseudo-heading
    PARAGRAPH = "paragraph"  # fallback unit for documents without headings


@dataclass(frozen=True, slots=True)
class Segment:
    """One run of text in a section diff.

    ``cosmetic`` marks an INSERT/DELETE run that differs from its counterpart only by
    whitespace, quote/dash style or markdown markup: renderers may hide or dim it (the
    INSERT and DELETE of a cosmetic change come as an adjacent pair, DELETE first).
    ``move_id`` is set on INSERT/DELETE runs that are part of a block of text moved
    between sections; it indexes :attr:`DocumentDiff.moves`.
    ``note`` says in words what a cosmetic change does that its text cannot show
    ("invisible character U+2060 removed", "link target changed: a → b"); it is set on
    the first run (the DELETE, if any) of that change only.
    """

    op: Op
    text: str
    cosmetic: bool = False
    move_id: int | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class MovedBlock:
    """A paragraph-sized block deleted in one section and inserted in another (split/merge).

    ``old_section`` / ``new_section`` index :attr:`DocumentDiff.sections` (the section
    holding the DELETE run and the one holding the INSERT run). ``similarity`` is the
    rapidfuzz ratio (0-100) between the two texts; 100 means moved verbatim.
    """

    id: int
    old_section: int
    new_section: int
    old_path: tuple[str, ...]
    new_path: tuple[str, ...]
    old_text: str
    new_text: str
    similarity: float


@dataclass(frozen=True, slots=True)
class SectionDiff:
    """Everything a renderer needs to show one section's change."""

    # -- verdict and flags ----------------------------------------------------------
    status: SectionStatus
    kind: SectionKind
    # Matched by content or fuzzy title although the normalised titles differ.
    renamed: bool
    # Its place among the matched sections changed (not a mere shift by insertions).
    moved: bool
    # The word diff hit its cost bound: shown as whole delete + insert, not word-level.
    approximate: bool

    # -- identity on each side (None on the side where the section does not exist) --
    # Path of plain-text heading titles from the top, as written (numbering included);
    # () for the preamble. Paragraph units get an excerpt of their first words.
    old_path: tuple[str, ...] | None
    new_path: tuple[str, ...] | None
    # Numbering label of the section's own heading ("1.", "2.3", "Section 3",
    # "Article IV", "§ 5", "(a)"), None if unnumbered; differs when renumbered.
    old_label: str | None
    new_label: str | None
    # Heading title with the label stripped, as written (not casefolded).
    old_title: str | None
    new_title: str | None
    # Position of the section in the old / new document's section list (0-based).
    old_index: int | None
    new_index: int | None

    # -- content ----------------------------------------------------------------------
    # Word-level diff of the bodies (headings included, see module docstring).
    segments: tuple[Segment, ...]
    # Words (tokens that are not pure punctuation or markup) in non-cosmetic runs.
    words_inserted: int
    words_deleted: int
    # Ids (into DocumentDiff.moves) of blocks moved out of / into this section.
    moved_out: tuple[int, ...] = ()
    moved_in: tuple[int, ...] = ()

    @property
    def old_text(self) -> str:
        """The old body: EQUAL + DELETE segments joined."""
        return "".join(s.text for s in self.segments if s.op is not Op.INSERT)

    @property
    def new_text(self) -> str:
        """The new body: EQUAL + INSERT segments joined."""
        return "".join(s.text for s in self.segments if s.op is not Op.DELETE)

    @property
    def path(self) -> tuple[str, ...]:
        """The path to show: new if the section exists in the new document, else old."""
        if self.new_path is not None:
            return self.new_path
        return self.old_path if self.old_path is not None else ()

    @property
    def renumbered(self) -> bool:
        """Whether both sides carry a numbering label and the labels differ."""
        return (
            self.old_label is not None
            and self.new_label is not None
            and self.old_label != self.new_label
        )

    @property
    def substantive(self) -> bool:
        """Whether this section changes words (not only cosmetics)."""
        return self.status in {SectionStatus.MODIFIED, SectionStatus.ADDED, SectionStatus.REMOVED}


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts over the whole diff, for headers and exit codes."""

    # True when any section is modified, added or removed (words changed somewhere).
    # Renumbering, moves and cosmetic edits alone are not substantive; a rename changes
    # heading words, so a renamed section is MODIFIED.
    substantive: bool
    unchanged: int
    cosmetic: int
    modified: int
    added: int
    removed: int
    renamed: int
    moved: int
    # Number of MovedBlocks (text moved between sections).
    moved_blocks: int
    # Sections whose word diff was replaced by a whole delete + insert.
    approximate: int
    words_inserted: int
    words_deleted: int


@dataclass(frozen=True, slots=True)
class DocumentDiff:
    """The section-level diff of two texts."""

    # New-document order; removed sections where they stood in the old document.
    sections: tuple[SectionDiff, ...]
    summary: Summary
    moves: tuple[MovedBlock, ...] = ()
    # Effective-date phrases found in each text ("Valid from 8 February 2016",
    # "Last updated: May 1, 2024"): the first one, as written but with emphasis markers
    # and escapes dropped and spacing collapsed; None if none found. Not parsed into a
    # date: "28 August 2025" -> "August 28, 2025" counts as a change.
    old_effective: str | None = None
    new_effective: str | None = None
    # The texts are byte-identical.
    identical: bool = False
    # A side had no headings and was cut into paragraph units instead.
    paragraph_mode: bool = False

    @property
    def effective_changed(self) -> bool:
        """Whether the detected effective-date phrase changed (ignoring spacing)."""
        old = " ".join((self.old_effective or "").split())
        new = " ".join((self.new_effective or "").split())
        return old != new

    @property
    def old_text(self) -> str:
        """The old document, rebuilt from the sections."""
        ordered = sorted(
            (s for s in self.sections if s.old_index is not None),
            key=lambda s: s.old_index or 0,
        )
        return "".join(s.old_text for s in ordered)

    @property
    def new_text(self) -> str:
        """The new document, rebuilt from the sections."""
        ordered = sorted(
            (s for s in self.sections if s.new_index is not None),
            key=lambda s: s.new_index or 0,
        )
        return "".join(s.new_text for s in ordered)
