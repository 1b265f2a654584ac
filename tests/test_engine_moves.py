"""Text that moves and changes at once is one piece of text (issue 13, item 1).

A paragraph that leaves one section for another, with light edits or a rewritten
sentence, is paired as a moved block by word-sequence similarity; it carries its own word
diff; only the edits inside it count as changed words; a section made of text from another
is reported as split from (or merged into) it; every view says "moved from/to" and shows the
inner edits. The repro pair is the one of the issue (payments paragraph leaving "Forums").
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from helpers import run_cli
from policydiff.core.diff_model import DocumentDiff, Op, SectionStatus
from policydiff.engine.align import Block, pair_moved_blocks
from policydiff.engine.compare import compare_texts
from policydiff.engine.report import CompareReport, View, side_from_text
from policydiff.publish.announce import build_announcement, describe_changes, render_announcement
from policydiff.publish.changelog import _item

FORUM = (
    "Our forums are open to everyone. When you post in the forums, your user name and the "
    "content of your posts are public, and we keep them for as long as the forum exists."
)
PAYMENT = (
    "When you register for services from Koozali Inc. (Including donations), we may ask for "
    "information such as your email address, billing address, and credit card information. "
    "Credit card information is only used in processing your transaction. Please note that we "
    "may use a third party payment processing merchant to process your payments."
)
LAST_SENTENCE = (
    "Please note that we may use a third party payment processing merchant to process your "
    "payments."
)
NEW_LAST_SENTENCE = (
    "We use a third party payment processor to handle your payments and we never store your "
    "card number."
)
CONTACT = "Write to us at privacy@example.org if you have questions about this policy."
OLD = f"# Privacy policy\n\n## Forums\n\n{FORUM}\n\n{PAYMENT}\n\n## Contact\n\n{CONTACT}\n"


def split_off(payment: str) -> str:
    """The new text: the payment paragraph under a new section of its own."""
    return (
        f"# Privacy policy\n\n## Forums\n\n{FORUM}\n\n## Payments and donations\n\n{payment}\n\n"
        f"## Contact\n\n{CONTACT}\n"
    )


LIGHT = split_off(PAYMENT.replace("(Including", "(including"))
REWRITTEN = split_off(
    PAYMENT.replace("(Including", "(including").replace(LAST_SENTENCE, NEW_LAST_SENTENCE)
)


def compare_json(tmp_path: Path, old: str, new: str, *args: str) -> dict[str, Any]:
    """Run the real CLI's JSON format on two files."""
    (tmp_path / "old.md").write_text(old, encoding="utf-8")
    (tmp_path / "new.md").write_text(new, encoding="utf-8")
    result = run_cli(
        ["--store", str(tmp_path / "none"), "compare", str(tmp_path / "old.md"),
         str(tmp_path / "new.md"), "--format", "json", *args]
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def changes(runs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The non-equal runs of a JSON diff, as (op, text)."""
    return [(r["op"], r["text"]) for r in runs if r["op"] != "equal"]


def sections_verdict(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Each section's status, last title, words and move facts."""
    return [
        (
            s["status"],
            (s["new_path"] or s["old_path"] or ["(start)"])[-1],
            s["words_inserted"],
            s["words_deleted"],
            s["moved_out"],
            s["moved_in"],
            s["split_from"],
            s["merged_into"],
        )
        for s in doc["sections"]
    ]


def assert_rebuilds(diff: DocumentDiff, old: str, new: str) -> None:
    """The reconstruction rule, for the sections and for each move's own diff."""
    assert diff.old_text == old
    assert diff.new_text == new
    for move in diff.moves:
        assert "".join(s.text for s in move.segments if s.op is not Op.INSERT) == move.old_text
        assert "".join(s.text for s in move.segments if s.op is not Op.DELETE) == move.new_text
        origin, target = diff.sections[move.old_section], diff.sections[move.new_section]
        assert [s.text for s in origin.segments if s.move_id == move.id and s.op is Op.DELETE] == [
            move.old_text
        ]
        assert [s.text for s in target.segments if s.move_id == move.id and s.op is Op.INSERT] == [
            move.new_text
        ]


# --------------------------------------------------------------------------- the repro


SPLIT_SECTIONS = [
    ("unchanged", "Privacy policy", 0, 0, [], [], None, None),
    # Only a paragraph moved out: no words changed here.
    ("cosmetic", "Forums", 0, 0, [0], [], None, None),
    ("added", "Payments and donations", None, None, [], [0], ["Privacy policy", "Forums"], None),
    ("unchanged", "Contact", 0, 0, [], [], None, None),
]


@pytest.mark.parametrize(
    ("new", "words", "similarity", "inner", "summary_words"),
    [
        pytest.param(
            LIGHT,
            (1, 1),
            (97.0, 99.5),
            [("delete", "Including "), ("insert", "including ")],
            # The heading's 3 words and the one edited word.
            (4, 1, 52),
            id="light-edit",
        ),
        pytest.param(
            REWRITTEN,
            (12, 10),
            (75.0, 88.0),
            [
                ("delete", "Including "),
                ("insert", "including "),
                ("delete", "Please note that we may "),
                ("insert", "We "),
                ("delete", "processing merchant to process "),
                ("insert", "processor to handle "),
                ("insert", " "),
                ("insert", "and we never store your card number"),
            ],
            (15, 10, 54),
            id="last-sentence-rewritten",
        ),
    ],
)
def test_the_payments_paragraph_moves_with_its_edits(
    tmp_path: Path,
    new: str,
    words: tuple[int, int],
    similarity: tuple[float, float],
    inner: list[tuple[str, str]],
    summary_words: tuple[int, int, int],
) -> None:
    doc = compare_json(tmp_path, OLD, new)
    (move,) = doc["moves"]
    assert move["id"] == 0
    assert (move["old_path"], move["new_path"]) == (
        ["Privacy policy", "Forums"],
        ["Privacy policy", "Payments and donations"],
    )
    assert similarity[0] <= move["similarity"] <= similarity[1]
    assert (move["words_inserted"], move["words_deleted"]) == words
    assert changes(move["diff"]) == inner
    expected = [
        (*row[:2], *(summary_words[:2] if row[2] is None else row[2:4]), *row[4:])
        for row in SPLIT_SECTIONS
    ]
    assert sections_verdict(doc) == expected
    inserted, deleted, moved = summary_words
    assert doc["summary"] == {
        "added": 1, "removed": 0, "modified": 0, "cosmetic": 1, "renamed": 0, "moved": 0,
        "unchanged": 2, "words_inserted": inserted, "words_deleted": deleted,
        "substantive": True, "moved_blocks": 1, "approximate": 0, "renumbered": 0, "words_moved": moved,
    }  # fmt: skip
    # The sections' own runs still rebuild both texts; the move's diff is extra.
    diff = compare_texts(OLD, new)
    assert_rebuilds(diff, OLD, new)
    assert move["words"] == summary_words[2]


def test_a_paragraph_moved_verbatim_counts_no_words(tmp_path: Path) -> None:
    doc = compare_json(tmp_path, OLD, split_off(PAYMENT))
    (move,) = doc["moves"]
    assert move["similarity"] == 100.0
    assert (move["words_inserted"], move["words_deleted"], move["words"]) == (0, 0, 52)
    assert changes(move["diff"]) == []
    # Only the new heading's three words are new wording.
    assert (doc["summary"]["words_inserted"], doc["summary"]["words_deleted"]) == (3, 0)


def test_a_paragraph_moved_between_existing_sections_is_not_substantive(tmp_path: Path) -> None:
    old = f"# P\n\n## Forums\n\n{FORUM}\n\n{PAYMENT}\n\n## Contact\n\n{CONTACT}\n"
    new = f"# P\n\n## Forums\n\n{FORUM}\n\n## Contact\n\n{CONTACT}\n\n{PAYMENT}\n"
    doc = compare_json(tmp_path, old, new, "--exit-code")
    assert [(s[0], s[1], s[4], s[5]) for s in sections_verdict(doc)] == [
        ("unchanged", "P", [], []),
        ("cosmetic", "Forums", [0], []),
        ("cosmetic", "Contact", [], [0]),
    ]
    assert doc["summary"]["substantive"] is False
    assert (doc["summary"]["words_inserted"], doc["summary"]["words_deleted"]) == (0, 0)
    assert (doc["summary"]["moved_blocks"], doc["summary"]["words_moved"]) == (1, 52)


# --------------------------------------------------------------------------- split, merge


COOKIES = (
    "We use cookies to remember your preferences and to keep you signed in. You can refuse "
    "cookies in your browser settings, but some parts of the forums may then stop working."
)


def test_a_section_split_out_of_another_says_where_from(tmp_path: Path) -> None:
    old = f"# P\n\n## Forums and payments\n\n{FORUM}\n\n{COOKIES}\n\n{PAYMENT}\n"
    edited = PAYMENT.replace("credit card", "payment card")
    new = f"# P\n\n## Forums and payments\n\n{FORUM}\n\n{COOKIES}\n\n## Payments\n\n{edited}\n"
    doc = compare_json(tmp_path, old, new)
    assert sections_verdict(doc) == [
        ("unchanged", "P", 0, 0, [], [], None, None),
        ("cosmetic", "Forums and payments", 0, 0, [0], [], None, None),
        # Its heading word, and the one word edited on the way.
        ("added", "Payments", 2, 1, [], [0], ["P", "Forums and payments"], None),
    ]
    (move,) = doc["moves"]
    assert changes(move["diff"]) == [("delete", "credit "), ("insert", "payment ")]


def test_a_section_merged_into_another_says_where_to(tmp_path: Path) -> None:
    old = f"# P\n\n## Forums\n\n{FORUM}\n\n## Payments\n\n{PAYMENT}\n\n## Contact\n\n{CONTACT}\n"
    merged = PAYMENT.replace(LAST_SENTENCE, NEW_LAST_SENTENCE)
    new = f"# P\n\n## Forums\n\n{FORUM}\n\n{merged}\n\n## Contact\n\n{CONTACT}\n"
    doc = compare_json(tmp_path, old, new)
    assert sections_verdict(doc) == [
        ("unchanged", "P", 0, 0, [], [], None, None),
        # The paragraph came in edited: those edits are this section's changed words.
        ("modified", "Forums", 18, 16, [], [0], None, None),
        # Only its heading word is gone; its paragraph moved.
        ("removed", "Payments", 0, 1, [0], [], None, ["P", "Forums"]),
        ("unchanged", "Contact", 0, 0, [], [], None, None),
    ]
    assert doc["summary"]["words_moved"] == 54
    (move,) = doc["moves"]
    assert changes(move["diff"]) == [
        ("delete", LAST_SENTENCE[:-1]),
        ("insert", NEW_LAST_SENTENCE[:-1]),
    ]


# --------------------------------------------------------------------------- negatives


SIMILAR_LENGTH = (
    "When you contact our support team, we may ask for information such as your name, your "
    "account name, the device you use and a description of the problem. Support requests are "
    "kept for two years and are only read by the support staff who answer them, never by "
    "advertisers or by anyone outside the company."
)


def test_different_paragraphs_of_similar_length_do_not_pair(tmp_path: Path) -> None:
    old = f"# P\n\n## Forums\n\n{FORUM}\n\n{PAYMENT}\n\n## Contact\n\n{CONTACT}\n"
    new = f"# P\n\n## Forums\n\n{FORUM}\n\n## Contact\n\n{CONTACT}\n\n{SIMILAR_LENGTH}\n"
    assert abs(len(SIMILAR_LENGTH) - len(PAYMENT)) < 0.15 * len(PAYMENT)
    doc = compare_json(tmp_path, old, new)
    assert doc["moves"] == []
    assert [s[0] for s in sections_verdict(doc)] == ["unchanged", "modified", "modified"]


@pytest.mark.parametrize(
    ("deleted", "inserted"),
    [
        # Template sentences a word or two apart: short, so they need 85.
        (
            "What happens to my data when I use Google Pay in Gemini?",
            "What happens to my data when when I use Notebooks in Gemini?",
        ),
        # Same topic, same length, different text.
        (PAYMENT, SIMILAR_LENGTH),
        (FORUM, COOKIES),
    ],
)
def test_unrelated_blocks_are_not_paired(deleted: str, inserted: str) -> None:
    assert pair_moved_blocks([Block(0, deleted)], [Block(1, inserted)]) == []


def test_a_sentence_reworded_in_place_is_not_a_move() -> None:
    old = f"# P\n\n## Forums\n\n{FORUM}\n\n{PAYMENT}\n\n{CONTACT}\n"
    new = old.replace(
        LAST_SENTENCE, "Please note that we may use another company to take your payments."
    )
    diff = compare_texts(old, new)
    assert diff.moves == ()
    assert diff.summary.modified == 1


def test_a_paragraph_moved_within_a_section_past_others_is_a_move() -> None:
    old = f"# P\n\n## Forums\n\n{PAYMENT}\n\n{FORUM}\n\n{COOKIES}\n"
    new = f"# P\n\n## Forums\n\n{FORUM}\n\n{COOKIES}\n\n{PAYMENT.replace('(Including', '(including')}\n"
    diff = compare_texts(old, new)
    (move,) = diff.moves
    assert move.old_section == move.new_section == 1
    assert (move.words_inserted, move.words_deleted) == (1, 1)
    assert (diff.summary.words_inserted, diff.summary.words_deleted) == (1, 1)
    assert_rebuilds(diff, old, new)


# --------------------------------------------------------------------------- views


def report_of(old: str, new: str) -> CompareReport:
    return CompareReport(
        side_from_text("old.md", old), side_from_text("new.md", new), compare_texts(old, new)
    )


def compare_out(tmp_path: Path, fmt: str, new: str = REWRITTEN) -> str:
    (tmp_path / "old.md").write_text(OLD, encoding="utf-8")
    (tmp_path / "new.md").write_text(new, encoding="utf-8")
    result = run_cli(
        ["--store", str(tmp_path / "none"), "compare", str(tmp_path / "old.md"),
         str(tmp_path / "new.md"), "--format", fmt]
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_terminal_shows_a_stub_at_the_origin_and_the_edits_at_the_destination(
    tmp_path: Path,
) -> None:
    out = compare_out(tmp_path, "term")
    assert "Words: 15 inserted, 10 deleted; 54 moved in 1 block (not counted)" in out
    assert re.search(r"text moved +Privacy policy > Forums +\+0 \u22120", out)
    origin = out[
        out.index("Privacy policy > Forums \u2500") : out.index(
            "Privacy policy > Payments and donations \u2500"
        )
    ]
    assert "\u27e8moved to \u201cPrivacy policy > Payments and donations\u201d\u27e9" in origin
    assert "When you register" not in origin  # a stub, not the struck-out paragraph
    target = out[out.index("Privacy policy > Payments and donations \u2500") :]
    flat = " ".join(target.split())
    assert "split from \u201cPrivacy policy > Forums\u201d" in flat
    assert "edited (+12 \u221210 words)" in flat
    assert (
        "\u27e8moved from \u201cPrivacy policy > Forums\u201d\u27e9 When you register for services "
        "from Koozali Inc. ([-Including-]{+including+} donations)"
    ) in flat
    assert "[-Please note that we may-]{+We+} use a third party payment" in flat


def test_markdown_shows_the_notes_and_the_inner_edits(tmp_path: Path) -> None:
    out = compare_out(tmp_path, "markdown")
    assert "*\u27e8moved to \u201cPrivacy policy &gt; Payments and donations\u201d\u27e9*" in out
    assert (
        "*\u27e8moved from \u201cPrivacy policy &gt; Forums\u201d\u27e9* When you register for "
        "services from Koozali Inc. (<del>Including</del><ins>including</ins> donations)"
    ) in out
    assert "| text moved | Privacy policy &gt; Forums | +0 \u22120 |" in out


def test_html_links_both_ends_of_a_move(tmp_path: Path) -> None:
    out = compare_out(tmp_path, "html")
    assert (
        '<a class="pd-move-note" id="pd-move-0-to" href="#pd-move-0-from">moved to '
        "\u201cPrivacy policy &gt; Payments and donations\u201d</a>"
    ) in out
    assert (
        '<a class="pd-move-note" id="pd-move-0-from" href="#pd-move-0-to">moved from '
        '\u201cPrivacy policy &gt; Forums\u201d</a></p>\n<p><span class="pd-moved">When you register'
    ) in out
    # The edit inside the moved text (a thin separator may stand between the two words).
    assert re.search(
        r'<del>Including</del>(<span class="pd-sep">[^<]*</span>)?<ins>including</ins>', out
    )
    # With only one end shown, the note is not a dangling link.
    (tmp_path / "only.html").write_text("", encoding="utf-8")
    result = run_cli(
        ["--store", str(tmp_path / "none"), "compare", str(tmp_path / "old.md"),
         str(tmp_path / "new.md"), "--format", "html", "--section", "Payments"]
    )  # fmt: skip
    assert '<span class="pd-move-note" id="pd-move-0-from">' in result.stdout
    assert 'href="#pd-move-0-to"' not in result.stdout


def test_announcement_says_which_paragraph_moved_where_and_what_changed() -> None:
    announcement = build_announcement(report_of(OLD, REWRITTEN), policy="p")
    (change,) = announcement.changes
    assert change.line == (
        "Moved and edited text: the paragraph \u201cWhen you register for services from "
        "Koozali Inc. (including donations), \u2026\u201d moved from Forums to a new section, "
        "Payments and donations; 2 of its 3 sentences changed"
    )
    assert [(q.kind.value, q.old, q.new) for q in change.quotes][1] == (
        "changed",
        LAST_SENTENCE,
        NEW_LAST_SENTENCE,
    )
    text = render_announcement(announcement.as_context(), "text")
    assert "New section" not in text
    assert "Removed" not in text
    assert f"Now:    \u201c{NEW_LAST_SENTENCE[:40]}" in text


def test_announcement_names_the_one_changed_sentence() -> None:
    new = split_off(PAYMENT.replace(LAST_SENTENCE, NEW_LAST_SENTENCE))
    (change,) = describe_changes(compare_texts(OLD, new))
    assert change.line.endswith("; its last sentence changed")
    assert change.content_changed


def test_changelog_item_reads_as_a_sentence() -> None:
    (change,) = describe_changes(compare_texts(OLD, REWRITTEN))
    assert _item(change).startswith(
        "- The paragraph \u201cWhen you register for services from Koozali Inc. "
        "(including donations), \u2026\u201d moved from Forums to a new section, "
        "Payments and donations; 2 of its 3 sentences changed"
    )


def test_moves_fields_are_documented() -> None:
    docs = (Path(__file__).parent.parent / "docs" / "json-schemas.md").read_text(encoding="utf-8")
    section = docs[docs.index("## compare") : docs.index("## blame")]
    for key in ("words_moved", "split_from", "merged_into", "words", "words_inserted", "diff"):
        assert f"`{key}`" in section, key
    assert "`text_moved`" in docs


def test_ignore_cosmetic_keeps_sections_that_only_moved_text(tmp_path: Path) -> None:
    doc = compare_json(tmp_path, OLD, LIGHT, "--ignore-cosmetic")
    assert [s["new_path"][-1] for s in doc["sections"] if s["moved_out"]] == ["Forums"]
    assert View(ignore_cosmetic=True).ignore_cosmetic


# --------------------------------------------------------------------------- property

VOCABULARY = (
    "account advertising aggregate analytics browser collect consent contact cookies "
    "data delete device disclose email identify information location marketing partners "
    "payment personal policy privacy process profile provide request retain rights "
    "security service settings share storage third transfer update usage children "
    "controller court deadline encryption erase export finance government hosting law "
    "merger minors network object officer portability purpose recipient region sale "
    "supplier tracking vendor warranty"
)
WORDS = st.sampled_from(VOCABULARY.split())
# Distinct words in each paragraph: two random paragraphs share few words in order, as real
# ones do (a paragraph made of one repeated word is the same text as any other such one).
PARAGRAPH = st.lists(WORDS, min_size=20, max_size=40, unique=True).map(
    lambda words: " ".join(words).capitalize() + "."
)


@st.composite
def moved_pair(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """Sections of random paragraphs; one paragraph moves to another section, lightly edited."""
    count = draw(st.integers(2, 5))
    sections = [
        [
            f"Section {n} opening words stay the same here, numbered {n}.",
            *draw(st.lists(PARAGRAPH, min_size=1, max_size=3)),
        ]
        for n in range(count)
    ]
    source = draw(st.integers(0, count - 1))
    target = draw(st.integers(0, count - 1).filter(lambda t: t != source))
    index = draw(st.integers(1, len(sections[source]) - 1))
    moved = sections[source][index]
    words = moved.split(" ")
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(words) - 1))
        edit = draw(st.sampled_from(["upper", "replace", "insert"]))
        if edit == "upper":
            words[at] = words[at].upper()
        elif edit == "replace":
            words[at] = "zeta"
        else:
            words.insert(at, "kappa")
    edited = " ".join(words)
    # The moved paragraph is a different text from every other one (under half of the
    # words in common, in order): a near-copy elsewhere could rightly be taken for it, and
    # the word diff may align a long shared opening with it.
    others = [
        p
        for n, paragraphs in enumerate(sections)
        for k, p in enumerate(paragraphs[1:], 1)
        if (n, k) != (source, index)
    ]
    assume(all(fuzz.ratio(moved.split(), p.split()) < 50 for p in others))
    new_sections = [list(s) for s in sections]
    del new_sections[source][index]
    new_sections[target].insert(draw(st.integers(1, len(new_sections[target]))), edited)

    def text(parts: list[list[str]]) -> str:
        return "# Policy\n\n" + "".join(
            f"## Part {n}\n\n" + "".join(p + "\n\n" for p in paragraphs)
            for n, paragraphs in enumerate(parts)
        )

    return text(sections), text(new_sections), moved, edited


@given(moved_pair())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_randomly_moved_and_lightly_edited_paragraph_is_found(
    pair: tuple[str, str, str, str],
) -> None:
    old, new, moved, edited = pair
    diff = compare_texts(old, new)
    assert_rebuilds(diff, old, new)
    found = [m for m in diff.moves if m.old_text.strip() == moved and m.new_text.strip() == edited]
    assert len(found) == 1, [(m.old_text, m.new_text) for m in diff.moves]
    move = found[0]
    assert diff.sections[move.old_section].old_path != diff.sections[move.new_section].new_path
    # Only the edits inside the moved paragraph are changed words.
    assert (diff.summary.words_inserted, diff.summary.words_deleted) == (
        move.words_inserted,
        move.words_deleted,
    )
    assert diff.summary.moved_blocks == 1
    assert diff.summary.substantive == move.edited
    statuses = {s.status for s in diff.sections}
    assert statuses <= {SectionStatus.UNCHANGED, SectionStatus.COSMETIC, SectionStatus.MODIFIED}
