"""Test helpers: hand-made diffs and compare reports, independent of the diff engine."""

from __future__ import annotations

from datetime import UTC, date, datetime

from policydiff.core.datetext import find_written_date
from policydiff.core.diff_model import (
    DocumentDiff,
    MovedBlock,
    Op,
    SectionDiff,
    SectionKind,
    SectionStatus,
    Segment,
    Summary,
)
from policydiff.engine.report import CompareReport, Side

EQ, INS, DEL = Op.EQUAL, Op.INSERT, Op.DELETE


def seg(op: Op, text: str, *, cosmetic: bool = False, move: int | None = None) -> Segment:
    """Return one diff run."""
    return Segment(op, text, cosmetic=cosmetic, move_id=move)


def section(
    status: SectionStatus,
    *segments: Segment,
    path: tuple[str, ...] = ("1. Intro",),
    old_path: tuple[str, ...] | None = None,
    renamed: bool = False,
    moved: bool = False,
    approximate: bool = False,
    kind: SectionKind = SectionKind.HEADING,
    labels: tuple[str | None, str | None] = (None, None),
    index: int = 0,
    moved_in: tuple[int, ...] = (),
    moved_out: tuple[int, ...] = (),
) -> SectionDiff:
    """Return a section diff; paths and indexes follow from the status."""
    has_old = status is not SectionStatus.ADDED
    has_new = status is not SectionStatus.REMOVED
    words = {
        op: sum(len(s.text.split()) for s in segments if s.op is op and not s.cosmetic)
        for op in (INS, DEL)
    }
    return SectionDiff(
        status=status,
        kind=kind,
        renamed=renamed,
        moved=moved,
        approximate=approximate,
        old_path=(old_path or path) if has_old else None,
        new_path=path if has_new else None,
        old_label=labels[0],
        new_label=labels[1],
        old_title=path[-1] if has_old and path else None,
        new_title=path[-1] if has_new and path else None,
        old_index=index if has_old else None,
        new_index=index if has_new else None,
        segments=segments,
        words_inserted=words[INS],
        words_deleted=words[DEL],
        moved_in=moved_in,
        moved_out=moved_out,
    )


def document(
    *sections: SectionDiff,
    moves: tuple[MovedBlock, ...] = (),
    effective: tuple[str | None, str | None] = (None, None),
) -> DocumentDiff:
    """Return a document diff whose summary is counted from its sections."""
    count = {status: sum(1 for s in sections if s.status is status) for status in SectionStatus}
    old, new = effective
    changed_date = " ".join((old or "").split()) != " ".join((new or "").split())
    summary = Summary(
        substantive=any(s.substantive for s in sections) or changed_date,
        unchanged=count[SectionStatus.UNCHANGED],
        cosmetic=count[SectionStatus.COSMETIC],
        modified=count[SectionStatus.MODIFIED],
        added=count[SectionStatus.ADDED],
        removed=count[SectionStatus.REMOVED],
        renamed=sum(1 for s in sections if s.renamed),
        moved=sum(1 for s in sections if s.moved),
        moved_blocks=len(moves),
        approximate=sum(1 for s in sections if s.approximate),
        words_inserted=sum(s.words_inserted for s in sections),
        words_deleted=sum(s.words_deleted for s in sections),
    )
    identical = all(s.status is SectionStatus.UNCHANGED for s in sections) and not changed_date
    return DocumentDiff(
        sections=sections,
        summary=summary,
        moves=moves,
        old_effective=old,
        new_effective=new,
        old_effective_date=find_written_date(old) if old else None,
        new_effective_date=find_written_date(new) if new else None,
        identical=identical,
    )


def report(diff: DocumentDiff, old: str = "old.md", new: str = "new.md") -> CompareReport:
    """Return a report on ``diff`` between two file-like sides."""
    return CompareReport(
        Side(label=old, sha256="a" * 64),
        Side(
            label=new,
            sha256="b" * 64,
            policy="example/privacy",
            version=2,
            captured_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
            effective_date=date(2024, 5, 1),
        ),
        diff,
    )


def sample() -> CompareReport:
    """Return a report with one section of every kind of change."""
    intro = section(
        SectionStatus.UNCHANGED,
        seg(EQ, "# 1. Intro\n\nWe care.\n\n"),
        path=("1. Intro",),
        index=0,
    )
    data = section(
        SectionStatus.MODIFIED,
        seg(EQ, "## 2. Data we collect\n\nWe collect your "),
        seg(DEL, "name "),
        seg(INS, "name, email "),
        seg(EQ, "and address.\n\nWe keep it safe.\n\nWe never sell it.\n\n"),
        path=("1. Intro", "2. Data we collect"),
        old_path=("1. Intro", "2. Data"),
        renamed=True,
        labels=("2.", "2."),
        index=1,
    )
    cookies = section(
        SectionStatus.ADDED,
        seg(INS, "## 3. Cookies\n\nWe use cookies.\n\n"),
        path=("1. Intro", "3. Cookies"),
        index=2,
    )
    style = section(
        SectionStatus.COSMETIC,
        seg(EQ, "## 4. Contact\n\nWrite to us at "),
        seg(DEL, "\u201cprivacy\u201d", cosmetic=True),
        seg(INS, '"privacy"', cosmetic=True),
        seg(EQ, ".\n\n"),
        path=("1. Intro", "4. Contact"),
        labels=("3.", "4."),
        index=3,
    )
    gone = section(
        SectionStatus.REMOVED,
        seg(DEL, "## Old terms\n\nThese terms are gone.\n"),
        path=("1. Intro", "Old terms"),
        index=4,
    )
    return report(
        document(
            intro,
            data,
            cookies,
            style,
            gone,
            effective=("Last updated: 1 January 2024", "Last updated: 1 May 2024"),
        )
    )
