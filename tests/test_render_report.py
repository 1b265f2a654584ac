"""The pure report helpers every renderer shares: selection, excerpts, runs and wording."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from policydiff.core.diff_model import Op, SectionKind, SectionStatus, Segment
from policydiff.engine.report import (
    Elided,
    Run,
    View,
    display_segments,
    effective_line,
    empty_note,
    escape_controls,
    excerpt,
    hidden_changes,
    is_substantive,
    join_path,
    matches_section,
    redline_runs,
    section_notes,
    select_sections,
    verdict_line,
)
from report_factory import DEL, EQ, INS, document, report, sample, section, seg


def paths(sections: tuple[object, ...]) -> list[str]:
    return [join_path(s.path) for s in sections]  # type: ignore[attr-defined]


def test_default_view_shows_only_sections_with_something_to_report() -> None:
    shown = select_sections(sample(), View())
    assert paths(shown) == [
        "1. Intro > 2. Data we collect",
        "1. Intro > 3. Cookies",
        "1. Intro > 4. Contact",
        "1. Intro > Old terms",
    ]


def test_context_and_keep_unchanged_show_every_section() -> None:
    assert len(select_sections(sample(), View(context=True))) == 5
    assert len(select_sections(sample(), View(), keep_unchanged=True)) == 5


def test_section_filter_is_a_case_insensitive_substring_of_either_path() -> None:
    assert paths(select_sections(sample(), View(section="COOKIES"))) == ["1. Intro > 3. Cookies"]
    renamed = sample().diff.sections[1]
    assert matches_section(renamed, "intro > 2. data")  # either path would do
    assert matches_section(renamed, "data we")
    # A removed section has only an old path.
    assert paths(select_sections(sample(), View(section="old terms"))) == ["1. Intro > Old terms"]
    assert select_sections(sample(), View(section="no such")) == ()


def test_ignore_cosmetic_hides_cosmetic_sections() -> None:
    shown = paths(select_sections(sample(), View(ignore_cosmetic=True)))
    assert "1. Intro > 4. Contact" not in shown
    assert len(shown) == 3


def test_substantive_follows_the_filter() -> None:
    assert is_substantive(sample(), View())
    assert is_substantive(sample(), View(section="cookies"))
    assert not is_substantive(sample(), View(section="contact"))
    assert not is_substantive(sample(), View(section="intro > 1"))


def test_effective_date_change_alone_is_substantive_without_a_filter() -> None:
    diff = document(
        section(SectionStatus.UNCHANGED, seg(EQ, "Hi\n")),
        effective=("Valid from 1 May 2020", "Valid from 2 May 2020"),
    )
    assert is_substantive(report(diff), View())
    assert "Valid from 1 May 2020 \u2192 Valid from 2 May 2020" in effective_line(report(diff))


def test_hidden_changes_counts_what_the_filters_hide() -> None:
    assert hidden_changes(sample(), View()) == 0
    assert hidden_changes(sample(), View(section="cookies")) == 3
    assert hidden_changes(sample(), View(ignore_cosmetic=True)) == 1


def test_excerpt_keeps_changed_paragraphs_and_folds_the_rest() -> None:
    data = sample().diff.sections[1]
    pieces = excerpt(data, View())
    # The unchanged heading paragraph goes silently: the section title shows it.
    assert len(pieces) == 2
    changed, folded = pieces
    assert isinstance(changed, tuple)
    assert [(r.op, r.text) for r in changed] == [
        (EQ, "We collect your "),
        (DEL, "name"),
        (INS, "name, email"),
        (EQ, " and address.\n\n"),
    ]
    assert folded == Elided(2)


def test_excerpt_is_whole_with_context_and_for_added_or_removed_sections() -> None:
    data = sample().diff.sections[1]
    (whole,) = excerpt(data, View(context=True))
    assert isinstance(whole, tuple)
    assert "".join(r.text for r in whole if r.op is not DEL).startswith("## 2. Data we collect")
    added = sample().diff.sections[2]
    (body,) = excerpt(added, View())
    assert isinstance(body, tuple)
    assert [(r.op, r.text) for r in body] == [
        (INS, "## 3. Cookies"),
        (EQ, "\n\n"),
        (INS, "We use cookies."),
        (EQ, "\n\n"),
    ]


def test_excerpt_of_a_paragraph_section_keeps_its_first_paragraph() -> None:
    unit = section(
        SectionStatus.MODIFIED,
        seg(EQ, "First words here.\n\nSecond "),
        seg(INS, "new "),
        seg(EQ, "words.\n"),
        kind=SectionKind.PARAGRAPH,
    )
    assert excerpt(unit, View())[0] == Elided(1)


def test_whitespace_only_changes_leave_an_empty_excerpt() -> None:
    spacing = section(
        SectionStatus.COSMETIC,
        seg(EQ, "## T\n\nSome"),
        seg(DEL, " ", cosmetic=True),
        seg(INS, "\n", cosmetic=True),
        seg(EQ, "text.\n"),
    )
    assert excerpt(spacing, View()) == []
    assert empty_note(spacing) == "(only spacing or layout changed)"


def test_runs_keep_layout_out_of_changes() -> None:
    runs = redline_runs(
        (
            seg(EQ, "Valid from "),
            seg(DEL, "8 February 2016 \n\n"),
            seg(INS, "1 March 2017 \n\n"),
            seg(EQ, "Text "),
            seg(INS, "  "),
            seg(DEL, "\n"),
            seg(DEL, "one\n  two "),
            seg(EQ, "end"),
        )
    )
    assert runs == (
        Run(EQ, "Valid from "),
        Run(DEL, "8 February 2016"),
        Run(INS, "1 March 2017"),
        Run(EQ, " \n\nText   "),
        Run(DEL, "one"),
        Run(EQ, "\n  "),
        Run(DEL, "two"),
        Run(EQ, " end"),
    )


def test_runs_carry_cosmetic_and_move_flags() -> None:
    runs = redline_runs((seg(DEL, "a", cosmetic=True), seg(INS, "b", move=0)))
    assert runs == (Run(DEL, "a", cosmetic=True), Run(INS, "b", moved=True))


def test_ignore_cosmetic_shows_cosmetic_runs_as_the_new_text() -> None:
    contact = sample().diff.sections[3]
    shown = display_segments(contact, View(ignore_cosmetic=True))
    assert [s.op for s in shown] == [EQ, EQ, EQ]
    assert "".join(s.text for s in shown) == contact.new_text


_TEXT = st.text(alphabet=st.sampled_from(list("ab \n\t.")), max_size=12)


@given(st.lists(st.tuples(st.sampled_from([EQ, INS, DEL]), _TEXT), max_size=8))
def test_runs_show_every_word_of_both_sides(pairs: list[tuple[Op, str]]) -> None:
    segments = tuple(Segment(op, text) for op, text in pairs if text)
    runs = redline_runs(segments)

    def words(text: str) -> str:
        return "".join(text.split())

    old = "".join(s.text for s in segments if s.op is not INS)
    new = "".join(s.text for s in segments if s.op is not DEL)
    assert words("".join(r.text for r in runs if r.op is not INS)) == words(old)
    assert words("".join(r.text for r in runs if r.op is not DEL)) == words(new)
    for run in runs:
        assert run.text
        if run.op is not EQ:
            assert "\n" not in run.text
            assert run.text == run.text.strip()


def test_section_notes_say_status_rename_numbering_moves_and_words() -> None:
    data, contact = sample().diff.sections[1], sample().diff.sections[3]
    assert section_notes(data, sample().diff) == [
        "changed",
        "renamed from \u201c1. Intro > 2. Data\u201d",
        "+2 \u22121 words",
    ]
    assert section_notes(contact, sample().diff) == ["cosmetic", "renumbered 3. \u2192 4."]


def test_verdicts() -> None:
    assert verdict_line(sample()) == "Substantive changes in 3 of 5 sections."
    same = report(document(section(SectionStatus.UNCHANGED, seg(EQ, "x\n"))))
    assert verdict_line(same) == "The texts are identical."
    # No phrase in either text: the recorded dates stand in.
    assert effective_line(same) == "Effective date: not stated \u2192 2024-05-01"


def test_escape_controls_makes_terminal_and_bidi_controls_visible() -> None:
    assert escape_controls("a\x1b[2Jb\rc\u202ed\te\nf") == "a\\x1b[2Jb\\x0dc\\u202ed\te\nf"


def test_every_format_says_what_its_filters_hide_in_the_same_words() -> None:
    """Terminal, markdown and HTML print ``hidden_lines`` as they are, one per filter."""
    import html as html_lib

    from policydiff.engine.report import hidden_lines
    from policydiff.publish.render import html, markdown, terminal

    view = View(section="co", ignore_cosmetic=True)
    lines = hidden_lines(sample(), view)
    assert lines == [
        "1 cosmetic section(s) hidden (--ignore-cosmetic)",
        "1 other section(s) with changes not matching --section",
    ]
    page = html_lib.unescape(html.render(sample(), view))
    shown = {
        "terminal": terminal.render(sample(), view, width=200),
        "markdown": markdown.render(sample(), view).replace("\\", ""),
        "html": page,
    }
    for name, text in shown.items():
        for line in lines:
            assert line in text, (name, line)
        assert "changed section(s) hidden" not in text, name
    assert hidden_lines(sample(), View()) == []
    assert "section(s)" not in html.render(sample(), View())
