"""The engine on the 98 consecutive real version pairs of the shared corpus."""

from __future__ import annotations

import os
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest

from policydiff.core.diff_model import DocumentDiff, SectionStatus
from policydiff.engine.compare import compare_texts

pytestmark = pytest.mark.corpus

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("POLICYDIFF_CORPUS", REPO.parent / "shared" / "corpus"))


def corpus_pairs() -> list[tuple[str, str, str]]:
    """(document, old date, new date) for every consecutive pair, in corpus order."""
    if not (CORPUS / "MANIFEST.tsv").exists():
        return []
    found: list[tuple[str, str, str]] = []
    for folder in sorted(p for p in CORPUS.glob("*/*") if p.is_dir()):
        dates = sorted(f.stem for f in folder.glob("*.md"))
        document = f"{folder.parent.name}/{folder.name}"
        found.extend((document, a, b) for a, b in pairwise(dates))
    return found


PAIRS = corpus_pairs()
needs_corpus = pytest.mark.skipif(not PAIRS, reason=f"no corpus at {CORPUS}")


def read(document: str, date: str) -> str:
    return (CORPUS / document / f"{date}.md").read_text(encoding="utf-8")


@cache
def compared(document: str, old: str, new: str) -> DocumentDiff:
    """One compare per pair for the whole module (the corpus runs take seconds)."""
    return compare_texts(read(document, old), read(document, new))


@needs_corpus
def test_corpus_has_98_pairs() -> None:
    assert len(PAIRS) == 98


@needs_corpus
@pytest.mark.parametrize(("document", "old", "new"), PAIRS, ids=[" ".join(p) for p in PAIRS])
def test_pair_rebuilds_both_versions(document: str, old: str, new: str) -> None:
    diff = compared(document, old, new)
    assert diff.old_text == read(document, old)
    assert diff.new_text == read(document, new)
    assert [s.new_index for s in diff.sections if s.new_index is not None] == sorted(
        s.new_index for s in diff.sections if s.new_index is not None
    )


NOT_SUBSTANTIVE = [
    # whitespace only (corpus README)
    ("chatgpt/privacy-policy", "2026-07-09", "2026-07-20"),
    ("bluesky/privacy-policy", "2025-09-16", "2025-10-23"),
    ("reddit/privacy-policy", "2022-07-11", "2022-09-20"),
    ("microsoft-copilot/privacy-policy", "2026-04-02", "2026-06-15"),
    ("snapchat/terms-of-service", "2025-08-08", "2025-10-03"),
    # markup only
    ("spotify/privacy-policy", "2022-12-30", "2023-02-01"),
    ("snapchat/terms-of-service", "2025-05-20", "2025-06-30"),
    ("instagram/privacy-policy", "2025-07-16", "2025-07-18"),
    ("tiktok/privacy-policy", "2023-08-10", "2023-08-17"),
    # every heading changes style and level
    ("twitch/privacy-policy", "2022-08-05", "2022-08-15"),
]


@needs_corpus
@pytest.mark.parametrize(
    ("document", "old", "new"), NOT_SUBSTANTIVE, ids=[" ".join(p) for p in NOT_SUBSTANTIVE]
)
def test_whitespace_and_markup_only_pairs_are_not_substantive(
    document: str, old: str, new: str
) -> None:
    diff = compared(document, old, new)
    assert not diff.summary.substantive
    assert diff.summary.cosmetic > 0
    assert (diff.summary.words_inserted, diff.summary.words_deleted) == (0, 0)


@needs_corpus
def test_twitch_heading_style_change_keeps_every_section_matched() -> None:
    diff = compared("twitch/privacy-policy", "2022-08-05", "2022-08-15")
    assert {s.status for s in diff.sections} <= {SectionStatus.COSMETIC, SectionStatus.UNCHANGED}
    assert diff.summary.cosmetic == 21  # every headed section: its heading line changed
    assert (diff.summary.added, diff.summary.removed, diff.summary.moved) == (0, 0, 0)


@needs_corpus
def test_tumblr_section_removed_then_renumbered() -> None:
    diff = compared("tumblr/terms-of-service", "2024-06-24", "2024-09-07")
    removed = [s for s in diff.sections if s.status is SectionStatus.REMOVED]
    assert removed[0].old_path is not None
    assert removed[0].old_path[-1] == "13. Special Provisions for Tipping"
    assert all(s.old_path and "Tipping" in " ".join(s.old_path) for s in removed)
    assert diff.summary.added == 0
    renumbered = [s for s in diff.sections if s.renumbered]
    assert len(renumbered) == 10  # 14-23 became 13-22
    assert all(s.status is SectionStatus.COSMETIC for s in renumbered)
    assert not any(s.moved for s in diff.sections)


@needs_corpus
def test_tumblr_section_inserted_then_renumbered() -> None:
    diff = compared("tumblr/terms-of-service", "2024-09-07", "2024-09-28")
    added = [s for s in diff.sections if s.status is SectionStatus.ADDED]
    assert [s.new_label for s in added] == ["8."]
    assert diff.summary.removed == 0
    renumbered = [s for s in diff.sections if s.renumbered]
    assert len(renumbered) == 15  # 8-22 became 9-23
    assert [(s.old_label, s.new_label) for s in renumbered][:2] == [("8.", "9."), ("9.", "10.")]
    assert not any(s.moved for s in diff.sections)


@needs_corpus
def test_chatgpt_data_controller_moved() -> None:
    diff = compared("chatgpt/privacy-policy", "2026-01-21", "2026-05-18")
    moved = [s for s in diff.sections if s.moved]
    assert [s.new_path[-1] if s.new_path else None for s in moved] == ["12. Data controller"]
    assert (moved[0].old_label, moved[0].new_label) == ("1.", "12.")
    assert diff.new_effective == "Updated: April 1, 2026"
    assert diff.effective_changed


@needs_corpus
def test_flip_flop_is_symmetric() -> None:
    forth = compared("le-chat/terms-of-service", "2026-03-26", "2026-04-02")
    back = compared("le-chat/terms-of-service", "2026-04-02", "2026-04-16")
    assert forth.summary.words_inserted == back.summary.words_deleted
    assert forth.summary.words_deleted == back.summary.words_inserted


@needs_corpus
def test_snapchat_has_no_headings_and_still_diffs_small() -> None:
    diff = compared("snapchat/terms-of-service", "2025-06-30", "2025-08-08")
    assert diff.paragraph_mode
    assert diff.summary.unchanged > 200
    assert diff.summary.modified + diff.summary.added + diff.summary.removed <= 3
