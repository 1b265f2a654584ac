"""Matching sections across versions: titles, renames, moves, removed placement, moved text."""

from __future__ import annotations

from policydiff.engine.align import Block, _heaviest_increasing, align_sections, pair_moved_blocks
from policydiff.engine.sections import split_sections

BODY = "This paragraph has enough distinct words to be recognised as the same body {}."


def doc(*headings: str, bodies: dict[str, str] | None = None) -> str:
    bodies = bodies or {}
    return "".join(
        f"## {h}\n\n{bodies.get(h, BODY.format(h.split('. ')[-1]))}\n\n" for h in headings
    )


def pairs(old: str, new: str) -> dict[int, tuple[int, bool, bool]]:
    alignment = align_sections(split_sections(old), split_sections(new))
    return {m.old: (m.new, m.renamed, m.moved) for m in alignment.matches}


def test_same_titles_match_in_place() -> None:
    text = doc("A", "B", "C")
    assert pairs(text, text) == {0: (0, False, False), 1: (1, False, False), 2: (2, False, False)}


def test_renumbered_sections_match_by_title_without_label() -> None:
    old = doc("1. Intro", "2. Tipping", "3. Warranty", "4. Liability")
    new = doc("1. Intro", "2. Warranty", "3. Liability")
    assert pairs(old, new) == {0: (0, False, False), 2: (1, False, False), 3: (2, False, False)}


def test_insertion_shift_is_not_a_move() -> None:
    old = doc("A", "B", "C", "D")
    new = doc("A", "New", "B", "C", "D")
    assert not any(moved for _, _, moved in pairs(old, new).values())


def test_moved_section_is_the_one_that_jumped() -> None:
    old = doc("1. Data controller", "2. Collect", "3. Use", "4. Share", "5. Rights")
    new = doc("1. Collect", "2. Use", "3. Share", "4. Rights", "5. Data controller")
    result = pairs(old, new)
    assert result[0] == (4, False, True)
    assert [result[i][2] for i in range(1, 5)] == [False] * 4


def test_moves_weigh_by_size() -> None:
    big = "word " * 500
    old = doc("Big", "Small", bodies={"Big": big})
    new = doc("Small", "Big", bodies={"Big": big})
    result = pairs(old, new)
    assert result[1] == (0, False, True)  # the small one moved, not the big one
    assert result[0] == (1, False, False)


def test_renamed_section_keeps_its_body() -> None:
    old = doc("What we collect", "Sharing")
    new = doc(
        "Information we gather", "Sharing", bodies={"Information we gather": BODY.format("collect")}
    )
    assert pairs(old, new)[0] == (0, True, False)


def test_similar_title_with_new_body_is_renamed() -> None:
    old = doc("How we use data", bodies={"How we use data": "Old words entirely."})
    new = doc("How we use your data", bodies={"How we use your data": "Totally different."})
    assert pairs(old, new) == {0: (0, True, False)}


def test_unrelated_sections_stay_added_and_removed() -> None:
    old = doc("Cookies", bodies={"Cookies": "We use cookies for analytics."})
    new = doc("Arbitration", bodies={"Arbitration": "Disputes go to binding arbitration."})
    assert pairs(old, new) == {}


def test_child_follows_renamed_parent_by_own_title() -> None:
    old = "# Privacy\n\n## Contact\n\nmail us\n"
    new = "# Privacy Notice\n\n## Contact\n\nmail us at\n"
    result = pairs(old, new)
    assert result[1] == (1, False, False)


def test_duplicate_titles_pair_identical_bodies_first() -> None:
    old = "# A\n\n## Details\n\none\n\n# B\n\n## Details\n\ntwo\n"
    new = "# B\n\n## Details\n\ntwo\n"
    alignment = align_sections(split_sections(old), split_sections(new))
    matched = {(m.old, m.new) for m in alignment.matches}
    assert (3, 1) in matched  # B's Details, not A's


def test_removed_sections_are_placed_where_they_stood() -> None:
    old = doc("A", "B", "C", "D")
    new = doc("A", "C", "X", "D", bodies={"X": "Completely new text about arbitration."})
    alignment = align_sections(split_sections(old), split_sections(new))
    assert alignment.order == ((0, 0), (1, None), (2, 1), (None, 2), (3, 3))


def test_removed_first_section_goes_first() -> None:
    alignment = align_sections(split_sections(doc("A", "B")), split_sections(doc("B")))
    assert alignment.order == ((0, None), (1, 0))


def test_paragraph_units_match_when_edited_in_place() -> None:
    old = "First paragraph here.\n\nShort one.\n\nLast paragraph here.\n"
    new = "First paragraph here.\n\nShort two.\n\nLast paragraph here.\n"
    assert pairs(old, new) == {0: (0, False, False), 1: (1, False, False), 2: (2, False, False)}


def test_heaviest_increasing_subsequence() -> None:
    assert _heaviest_increasing([], []) == set()
    assert _heaviest_increasing([(0, 0), (1, 1), (2, 2)], [1, 1, 1]) == {0, 1, 2}
    # old order 2, 0, 1 by new position: the chain 0, 1 outweighs 2 unless 2 is heavy.
    assert _heaviest_increasing([(2, 0), (0, 1), (1, 2)], [1, 1, 1]) == {1, 2}
    assert _heaviest_increasing([(2, 0), (0, 1), (1, 2)], [10, 1, 1]) == {0}


def test_moved_blocks_pair_verbatim_and_near_copies() -> None:
    paragraph = "Credit card information is only used in processing your transaction today."
    deleted = [
        Block(0, paragraph),
        Block(0, "short"),
        Block(1, "Something else entirely, long enough to count here."),
    ]
    inserted = [
        Block(2, "Unrelated inserted paragraph about cookies and other trackers."),
        Block(3, paragraph.replace("only ", "")),
        Block(3, "short"),
    ]
    assert [(d, i) for d, i, _ in pair_moved_blocks(deleted, inserted)] == [(0, 1)]


def test_moved_blocks_prefer_exact_copies() -> None:
    paragraph = "A paragraph that moved somewhere else in the document, verbatim."
    deleted = [Block(0, paragraph)]
    inserted = [Block(1, paragraph + " More."), Block(2, "  " + paragraph + "\n\n")]
    assert pair_moved_blocks(deleted, inserted) == [(0, 1, 100.0)]
