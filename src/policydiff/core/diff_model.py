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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # A value type only: the engine reads no clock.
    from datetime import date


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
    # Bodies differ only in quotes, dashes, spacing, markup, numbering label, or in the
    # heading's title (see SectionDiff.title_change: a rename alone is COSMETIC); or the
    # section exists on one side only and holds no words (a `* * *` rule, stray markup).
    COSMETIC = "cosmetic"
    # Words changed under the heading. Text moved in or out (MovedBlock) is not a change
    # of words: a section whose only difference is moved text is COSMETIC.
    MODIFIED = "modified"
    ADDED = "added"  # only in the new document
    REMOVED = "removed"  # only in the old document


class TitleChange(Enum):
    """How a matched section's own heading title changed (the heading is not its words)."""

    NONE = "none"  # same heading, or only its numbering label changed (see renumbered)
    # Same title but for spacing (inside words too), markup, case, quotes or dashes, or a
    # site name added to or dropped from the document's title ("Privacy - Example").
    COSMETIC = "cosmetic"
    RENAMED = "renamed"  # the title's words changed


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
    """A paragraph-sized block deleted in one place and inserted in another, maybe edited.

    ``old_section`` / ``new_section`` index :attr:`DocumentDiff.sections` (the section
    holding the DELETE run and the one holding the INSERT run; the same one for a
    paragraph moved within a section). ``similarity`` (0-100) compares the two texts'
    word sequences; 100 means the same words (punctuation, markup and spacing aside).

    ``segments`` is the word diff of ``old_text`` against ``new_text``: the edits made
    to the text on its way (EQUAL + DELETE rebuild ``old_text``, EQUAL + INSERT
    ``new_text``). It is extra information: the section segments already hold both texts
    as the DELETE run at the origin and the INSERT run at the destination.
    ``words_inserted`` / ``words_deleted`` count the words of its non-cosmetic edits:
    the only words a move counts as changed (the section holding the INSERT run
    carries them).
    """

    id: int
    old_section: int
    new_section: int
    old_path: tuple[str, ...]
    new_path: tuple[str, ...]
    old_text: str
    new_text: str
    similarity: float
    segments: tuple[Segment, ...] = ()
    words_inserted: int = 0
    words_deleted: int = 0

    @property
    def edited(self) -> bool:
        """Whether the text changed on its way (a non-cosmetic edit inside it)."""
        return any(s.op is not Op.EQUAL and not s.cosmetic for s in self.segments)


@dataclass(frozen=True, slots=True)
class TableRows:
    """What changed in the markdown tables of a section, counted in rows and columns.

    Rows are diffed as units: a row is *added* or *removed* whole, or *changed* (paired
    with its old version and word-diffed cell by cell). Only rows holding words count;
    delimiter rows (`| --- |`) never do, and a row whose edits are all cosmetic (padding,
    alignment, quotes) is not changed. A column added or removed is counted once, from
    the table's delimiter row; the rows it changed count as changed rows too.
    """

    added: int = 0
    removed: int = 0
    changed: int = 0
    columns_added: int = 0
    columns_removed: int = 0


@dataclass(frozen=True, slots=True)
class SectionDiff:
    """Everything a renderer needs to show one section's change."""

    # -- verdict and flags ----------------------------------------------------------
    status: SectionStatus
    kind: SectionKind
    # The section's own title was renamed: exactly ``title_change is TitleChange.RENAMED``
    # (also set for a heading matched to a paragraph unit or the preamble).
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
    # Words (tokens that are not pure punctuation or markup) in non-cosmetic runs, the
    # heading line left out (a rename is told by title_change, not counted as words).
    words_inserted: int
    words_deleted: int
    # Ids (into DocumentDiff.moves) of blocks moved out of / into this section. Their
    # runs (segments with that move_id) are not counted in words_inserted/deleted: the
    # words changed inside blocks moved in are (MovedBlock.words_inserted/deleted).
    moved_out: tuple[int, ...] = ()
    moved_in: tuple[int, ...] = ()
    # How the section's own heading title changed (NONE for one-sided sections).
    title_change: TitleChange = TitleChange.NONE
    # A section found only in the new text whose words came mostly (at least half) from
    # blocks moved out of one old section: that section's old path (a section split out).
    split_from: tuple[str, ...] | None = None
    # A section found only in the old text whose words went mostly into one new section:
    # that section's new path (sections merged).
    merged_into: tuple[str, ...] | None = None
    # Row counts when either body holds a markdown table and the bodies differ (each row
    # is then a diff unit: no change run spans two rows); None otherwise.
    table_rows: TableRows | None = None

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
    def only_renumbered(self) -> bool:
        """Whether the numbering label is all that changed (reported once per range)."""
        if not (
            self.renumbered
            and self.status is SectionStatus.COSMETIC
            and self.title_change is TitleChange.NONE
            and not (self.moved or self.moved_in or self.moved_out)
        ):
            return False
        # The label sits on the heading's first line: the rest must be byte-identical.
        return self.old_text.partition("\n")[2] == self.new_text.partition("\n")[2]

    @property
    def substantive(self) -> bool:
        """Whether this section changes words (not only cosmetics, renames or numbering)."""
        return self.status in {SectionStatus.MODIFIED, SectionStatus.ADDED, SectionStatus.REMOVED}


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts over the whole diff, for headers and exit codes."""

    # True when any section is modified, added or removed (words changed somewhere), or
    # the effective date changed. Renames, renumbering, moves and cosmetic edits alone are
    # not substantive: a section whose heading alone changed is COSMETIC, with its
    # title_change saying whether it was renamed.
    substantive: bool
    unchanged: int
    cosmetic: int
    modified: int
    added: int
    removed: int
    renamed: int
    moved: int
    # Number of MovedBlocks (text moved between or within sections).
    moved_blocks: int
    # Sections whose word diff was replaced by a whole delete + insert.
    approximate: int
    words_inserted: int
    words_deleted: int
    # Words in moved blocks (as they now read): moved, so not counted above.
    words_moved: int = 0
    # Sections whose numbering label changed (see DocumentDiff.renumbered for the ranges).
    renumbered: int = 0


@dataclass(frozen=True, slots=True)
class RenumberedRange:
    """Consecutive sections whose labels shifted alike ("sections 3-45 renumbered by +1")."""

    # Old labels of the first and last section of the range, and their new labels.
    from_label: str
    to_label: str
    new_from_label: str
    new_to_label: str
    count: int
    # How much the number that changed moved (+1 after an insertion); None when the
    # labels do not differ by one number of the same kind ("3.2" -> "4.1").
    shift: int | None


@dataclass(frozen=True, slots=True)
class DocumentDiff:
    """The section-level diff of two texts."""

    # New-document order; removed sections where they stood in the old document.
    sections: tuple[SectionDiff, ...]
    summary: Summary
    moves: tuple[MovedBlock, ...] = ()
    # Effective-date phrases found in each text ("Valid from 8 February 2016",
    # "Last updated: May 1, 2024"): the first one, as written but with emphasis markers
    # and escapes dropped and spacing collapsed; None if none found. Only statements
    # about the policy itself count (see compare.find_effective_date).
    old_effective: str | None = None
    new_effective: str | None = None
    # The dates those phrases state, when written in a form read without guessing
    # ("8 February 2016", "February 8, 2016", "2016-02-08"); None otherwise.
    old_effective_date: date | None = None
    new_effective_date: date | None = None
    # The texts are byte-identical.
    identical: bool = False
    # A side had no headings and was cut into paragraph units instead.
    paragraph_mode: bool = False
    # Renumbered sections grouped into ranges, in new-document order.
    renumbered: tuple[RenumberedRange, ...] = ()

    @property
    def effective_changed(self) -> bool:
        """Whether the stated effective date changed.

        Compared as dates when both phrases state one ("28 August 2025" -> "August 28,
        2025" is no change), else as phrases with spacing ignored.
        """
        if self.old_effective_date is not None and self.new_effective_date is not None:
            return self.old_effective_date != self.new_effective_date
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
