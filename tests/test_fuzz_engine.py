"""Fuzzing the diff engine with adversarial markdown: no crash, bounded time, exact rebuild.

Hypothesis builds documents from hostile pieces: headings at every level (ATX, closed ATX,
setext, bold and italic pseudo-headings, levels past 6), nesting in quotes and lists,
mixed scripts (Latin, Cyrillic, Greek, Arabic, Hebrew, CJK, Devanagari, Thai), bidi
controls and marks, emoji (ZWJ sequences, flags, tags, skin tones), zero-width characters,
stacked combining marks, noncharacters, private-use and other odd code points (never lone
surrogates: they cannot be encoded as UTF-8), unbalanced emphasis and code spans, HTML
blocks, long lists, tables, fences, entities, CR and CRLF. New versions are the old one
edited (blocks inserted, deleted, replaced, swapped, characters changed) or an unrelated
document. Each example checks the contracts of the section parser, the alignment, the
word diff and ``compare_texts`` (the reconstruction rule in diff_model), and a smaller
run checks the same rule on the ``compare --format json`` output of the real CLI.

Examples per run (fixed: ``derandomize=True``, no example database): 400 parser, 300 word
diff (each diffed twice, with and without ``cosmetic``), 200 alignment, 300 compare (each
pair compared both ways), 40 CLI: 1,240 in all, about 25 s.

Big inputs run ``python -m policydiff compare OLD NEW --format json -o FILE`` in a
subprocess with a 60 s timeout (a hang fails the test instead of stalling the run) and
rebuild both texts from the JSON. Measured on the development machine (2 cores shared with
other work, CPython 3.11), engine time (``compare_texts`` alone) / whole CLI run including
interpreter start-up, file decoding and JSON output, two runs each:

* 10,000 headings, one removed, one edited, one added: 1.2-1.7 s / 1.7-1.9 s
* 10,000 headings nested six levels deep, a new top heading in the middle: 1.2-2.1 s /
  1.8 s
* 10,000 headings all titled the same, 50 bodies edited: 1.2-2.2 s / 1.6-2.1 s
* a 5 MB single line with one word inserted in the middle: 0.5-0.7 s / 1.2-1.3 s
* a 5 MB single line of mixed scripts, emoji, bidi controls, zero-width characters and
  combining marks, one word inserted: 1.6-1.8 s / 2.5-2.9 s
* a short text against the same plus a 5 MB single line: 0.6-0.8 s / 1.1-1.2 s
* 100,000 list items, every seventh removed: 6.6-10.4 s / 9.2-9.6 s

So the 60 s bound leaves a margin of 6x over the slowest case on a loaded machine.

Bounded move search (``test_move_search_work_is_bounded``): the search for text moved
between sections (``align.pair_moved_blocks``) compares candidate blocks with rapidfuzz's
ratio, whose cost grows with the product of the two lengths. Before its budget counted
character cells (``MOVE_MAX_CELLS``) rather than pairs, a 5 MB single line replaced by
another took 226 s and a 5 MB document of 250 rewritten 20 KB paragraphs 115 s. The test
counts the character pairs handed to rapidfuzz and fails fast past the budget.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import rapidfuzz.process
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import run_cli
from policydiff.core.diff_model import DocumentDiff, Op, SectionKind, SectionStatus
from policydiff.engine.align import align_sections
from policydiff.engine.compare import compare_texts
from policydiff.engine.sections import split_sections
from policydiff.engine.worddiff import diff_words

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BOUND_SECONDS = 60

# --------------------------------------------------------------------------- strategies

SCRIPTS = (
    "privacy policy",
    "\u041f\u043e\u043b\u0438\u0442\u0438\u043a\u0430",
    "\u0391\u03c0\u03cc\u03c1\u03c1\u03b7\u03c4\u03bf",
    "\u0633\u064a\u0627\u0633\u0629 \u0627\u0644\u062e\u0635\u0648\u0635\u064a\u0629",
    "\u05de\u05d3\u05d9\u05e0\u05d9\u05d5\u05ea \u05e4\u05e8\u05d8\u05d9\u05d5\u05ea",
    "\u9690\u79c1\u653f\u7b56",
    "\u30d7\u30e9\u30a4\u30d0\u30b7\u30fc",
    "\u0917\u094b\u092a\u0928\u0940\u092f\u0924\u093e",
    "\u0e19\u0e42\u0e22\u0e1a\u0e32\u0e22",
)
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"
COMBINING = "\u0300\u0301\u0308\u0327\u0336\u0489\u20dd\u0f35"
EMOJI = (
    "\U0001f600",
    "\U0001f469\u200d\U0001f4bb",
    "\U0001f1eb\U0001f1f7",
    "\U0001f44d\U0001f3fd",
    "\u2764\ufe0f",
    "#\ufe0f\u20e3",
    "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
)
ODD = (
    "\ufdd0\ufffe\uffff\U0010ffff\U0001fffe\ue000\U000f0000\u2028\u2029\x85\x0b\x0c\x1b"
    "\x7f\x00\u00a0\u3000\ufff9\ufffa\ufffb\ufffd\U0001d400\u0345\u1100\u115f\u3164"
)
MARKUP = "*_`[]()<>!#|~\\&=-+.:"

WORD = st.sampled_from(SCRIPTS) | st.sampled_from(EMOJI) | st.text(max_size=6)
INLINE = st.lists(
    WORD
    | st.sampled_from(BIDI + ZERO_WIDTH + ODD + MARKUP)
    | st.tuples(WORD, st.text(alphabet=COMBINING, min_size=1, max_size=8)).map("".join)
    | st.sampled_from([" ", "  ", "\t", "**", "__", "***", "`", "``", "~~", "&amp;", "&#x202e;"]),
    max_size=10,
).map("".join)
HTML_BLOCKS = (
    "<div>\n",
    "</div>\n",
    "<div>\n# not a heading\n</div>\n",
    "<!-- \n# commented\n",
    "-->\n",
    "<script>\n## in script\n</script>\n",
    "<pre>\n# in pre\n</pre>\n",
    "<table><tr><td>\n",
    "<?php echo 1; ?>\n",
    "<![CDATA[\n# cdata\n]]>\n",
    "<details><summary>x</summary>\n",
)
FIXED_BLOCKS = (
    "\n",
    "\n\n",
    "\r\n",
    "\r",
    "---\n",
    "* * *\n",
    "```\n",
    "~~~~python\n",
    "    indented code\n",
    "[ref]: <http://x> 'title'\n",
    "\\# escaped\n",
    "1\\. escaped label\n",
    "Last updated: 1 May 2024\n",
)


def nested(text: str, depth: int, marker: str) -> str:
    return marker * depth + text


HEADING = st.one_of(
    st.builds(lambda n, t: "#" * n + " " + t + "\n", st.integers(1, 8), INLINE),
    st.builds(lambda n, t: "#" * n + " " + t + " " + "#" * n + "\n", st.integers(1, 6), INLINE),
    st.builds(lambda t, c, n: f"{t}\n{c * n}\n", INLINE, st.sampled_from("=-"), st.integers(1, 5)),
    st.builds(lambda m, t: f"{m}{t}{m}\n", st.sampled_from(["**", "*", "__", "_", "***"]), INLINE),
    st.builds(
        nested,
        st.builds(lambda n, t: "#" * n + " " + t + "\n", st.integers(1, 6), INLINE),
        st.integers(1, 60),
        st.sampled_from(["> ", "* ", "  ", "1. ", ">"]),
    ),
)
BLOCK = st.one_of(
    HEADING,
    st.builds(lambda t: t + "\n", INLINE),
    st.builds(
        lambda items, marker: "".join(f"{marker} {item}\n" for item in items),
        st.lists(INLINE, max_size=30),
        st.sampled_from(["-", "*", "+", "1.", "1)"]),
    ),
    st.builds(lambda n: "".join(f"- item {i}\n" for i in range(n)), st.integers(50, 400)),
    st.builds(
        lambda cells, rows: "| a | b |\n|---|:-:|\n" + "".join(f"| {c} |\n" for c in cells) * rows,
        st.lists(INLINE, max_size=5),
        st.integers(1, 20),
    ),
    st.sampled_from(HTML_BLOCKS),
    st.sampled_from(FIXED_BLOCKS),
)
# A heading and what follows it: most documents are mostly sections.
SECTION = st.builds(lambda h, b: h + "\n" + "".join(b), HEADING, st.lists(BLOCK, max_size=3))
BLOCKS = st.lists(SECTION | BLOCK, max_size=30)
DOCUMENT = BLOCKS.map("".join)


@st.composite
def edited(draw: st.DrawFn) -> tuple[str, str]:
    """An old document and a new one: the old one edited, or an unrelated one."""
    # A third of the documents are many sections long, where alignment has work to do.
    blocks = draw(BLOCKS if draw(st.integers(0, 2)) else st.lists(SECTION, min_size=8, max_size=40))
    if draw(st.integers(0, 9)) == 0:
        return "".join(blocks), draw(DOCUMENT)
    new = list(blocks)
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "swap", "chars"]))
        at = draw(st.integers(0, len(new)))
        if kind == "insert" or not new:
            new.insert(at, draw(SECTION | BLOCK))
            continue
        at = min(at, len(new) - 1)
        if kind == "delete":
            del new[at]
        elif kind == "replace":
            new[at] = draw(SECTION | BLOCK)
        elif kind == "swap":
            other = draw(st.integers(0, len(new) - 1))
            new[at], new[other] = new[other], new[at]
        else:
            text = new[at]
            cut = draw(st.integers(0, len(text)))
            new[at] = text[:cut] + draw(INLINE) + text[cut + draw(st.integers(0, 3)) :]
    return "".join(blocks), "".join(new)


PAIRS = edited()


# --------------------------------------------------------------------------- contracts


def check_rebuild(diff: DocumentDiff, old: str, new: str) -> None:
    """The reconstruction rule and the shape of a document diff."""
    assert diff.old_text == old
    assert diff.new_text == new
    assert diff.identical == (old == new)
    olds = sorted(s.old_index for s in diff.sections if s.old_index is not None)
    news = [s.new_index for s in diff.sections if s.new_index is not None]
    assert olds == list(range(len(olds)))
    assert news == list(range(len(news)))  # sections come in the new document's order
    for section in diff.sections:
        assert section.old_index is not None or section.new_index is not None
        assert all(segment.text for segment in section.segments)
        if section.old_index is None:
            assert section.status in {SectionStatus.ADDED, SectionStatus.COSMETIC}
            assert all(s.op is Op.INSERT for s in section.segments)
        if section.new_index is None:
            assert section.status in {SectionStatus.REMOVED, SectionStatus.COSMETIC}
            assert all(s.op is Op.DELETE for s in section.segments)
        if section.status is SectionStatus.UNCHANGED:
            # Equal up to the blank lines that end the bodies (diff_model.SectionStatus).
            trailing = " \t\r\n"
            assert section.old_text.rstrip(trailing) == section.new_text.rstrip(trailing)
        for segment in section.segments:
            if segment.move_id is not None:
                move = diff.moves[segment.move_id]
                home = move.old_section if segment.op is Op.DELETE else move.new_section
                assert diff.sections[home] is section
    counts = dict.fromkeys(SectionStatus, 0)
    for section in diff.sections:
        counts[section.status] += 1
    summary = diff.summary
    assert (summary.unchanged, summary.cosmetic, summary.modified) == (
        counts[SectionStatus.UNCHANGED],
        counts[SectionStatus.COSMETIC],
        counts[SectionStatus.MODIFIED],
    )
    assert (summary.added, summary.removed) == (
        counts[SectionStatus.ADDED],
        counts[SectionStatus.REMOVED],
    )
    assert summary.words_inserted == sum(s.words_inserted for s in diff.sections)
    assert summary.words_deleted == sum(s.words_deleted for s in diff.sections)
    assert [m.id for m in diff.moves] == list(range(len(diff.moves)))


@given(DOCUMENT)
@settings(FUZZ, max_examples=400)
def test_sections_tile_adversarial_markdown(text: str) -> None:
    sections = split_sections(text)
    assert "".join(s.body for s in sections) == text
    kinds = {s.kind for s in sections}
    assert not (SectionKind.HEADING in kinds and SectionKind.PARAGRAPH in kinds)
    position = 0
    for index, section in enumerate(sections):
        assert section.start == position
        assert section.start <= section.content_start <= section.end
        assert section.body
        assert len(section.key) == (len(section.path) if section.kind is SectionKind.HEADING else 0)
        if section.kind is SectionKind.PREAMBLE:
            assert (index, section.path) == (0, ())
        if section.parent is not None:
            parent = sections[section.parent]
            assert section.parent < index
            assert parent.level < section.level
            assert section.path[:-1] == parent.path
        elif section.kind is SectionKind.HEADING:
            assert len(section.path) == 1
        position = section.end


@given(PAIRS)
@settings(FUZZ, max_examples=300)
def test_word_diff_rebuilds_adversarial_text(pair: tuple[str, str]) -> None:
    old, new = pair
    for cosmetic in (False, True):
        result = diff_words(old, new, cosmetic=cosmetic)
        assert "".join(s.text for s in result.segments if s.op is not Op.INSERT) == old
        assert "".join(s.text for s in result.segments if s.op is not Op.DELETE) == new
        assert all(s.text for s in result.segments)
        if cosmetic:
            assert all(s.cosmetic for s in result.segments if s.op is not Op.EQUAL)
            assert (result.words_inserted, result.words_deleted) == (0, 0)
        if not cosmetic:
            flags = [(s.op, s.cosmetic) for s in result.segments]
            assert all(a != b for a, b in itertools.pairwise(flags)), "unmerged runs"


@given(PAIRS)
@settings(FUZZ, max_examples=200)
def test_alignment_places_every_section_once(pair: tuple[str, str]) -> None:
    old, new = (split_sections(text) for text in pair)
    alignment = align_sections(old, new)
    olds = [i for i, _ in alignment.order if i is not None]
    news = [j for _, j in alignment.order if j is not None]
    assert sorted(olds) == list(range(len(old)))
    assert news == list(range(len(new)))
    paired = {(i, j) for i, j in alignment.order if i is not None and j is not None}
    assert paired == {(m.old, m.new) for m in alignment.matches}


@given(PAIRS)
@settings(FUZZ, max_examples=300)
def test_compare_follows_the_reconstruction_rule(pair: tuple[str, str]) -> None:
    old, new = pair
    check_rebuild(compare_texts(old, new), old, new)
    check_rebuild(compare_texts(new, old), new, old)


# --------------------------------------------------------------------------- the CLI's JSON


def rebuild_from_json(document: dict) -> tuple[str, str]:
    """Both texts from ``compare --format json``, by the documented reconstruction rule."""
    sections = document["sections"]
    for section in sections:
        old_body = "".join(d["text"] for d in section["diff"] if d["op"] in {"equal", "delete"})
        new_body = "".join(d["text"] for d in section["diff"] if d["op"] in {"equal", "insert"})
        section["_old"], section["_new"] = old_body, new_body
    olds = sorted((s for s in sections if s["old_index"] is not None), key=lambda s: s["old_index"])
    news = sorted((s for s in sections if s["new_index"] is not None), key=lambda s: s["new_index"])
    assert [s["old_index"] for s in olds] == list(range(len(olds)))
    assert [s["new_index"] for s in news] == list(range(len(news)))
    return "".join(s["_old"] for s in olds), "".join(s["_new"] for s in news)


def check_json(report: str, old: str, new: str) -> None:
    document = json.loads(report)
    assert document["schema"] == "policydiff.compare/1"
    rebuilt_old, rebuilt_new = rebuild_from_json(document)
    assert rebuilt_old == old
    assert rebuilt_new == new
    for side, text in (("old", old), ("new", new)):
        assert document[side]["sha256"] == hashlib.sha256(text.encode()).hexdigest()


def as_file_text(text: str) -> str:
    """What a snapshot file can hold as is: LF line ends, no NUL, some text."""
    return "Policy.\n" + text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "")


@given(pair=PAIRS)
@settings(
    FUZZ,
    max_examples=40,
    suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture],
)
def test_cli_json_rebuilds_both_documents(pair: tuple[str, str], tmp_path: Path) -> None:
    old, new = (as_file_text(text) for text in pair)
    old_file, new_file = tmp_path / "old.md", tmp_path / "new.md"
    old_file.write_text(old, encoding="utf-8")
    new_file.write_text(new, encoding="utf-8")
    result = run_cli(["compare", str(old_file), str(new_file), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    check_json(result.stdout, old, new)


# --------------------------------------------------------------------------- big inputs

MB5 = 5 * 1024 * 1024
VOCABULARY = ("we", "collect", "share", "your", "data", "with", "partners", "cookies", "may")


def words_line(size: int, seed: int, vocabulary: tuple[str, ...] = VOCABULARY) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(vocabulary) for _ in range(size // 4))[:size]


def headings_edited() -> tuple[str, str]:
    old = "".join(f"## {i}. Heading {i}\n\nWe collect item {i}.\n\n" for i in range(10_000))
    new = old.replace("## 5000. Heading 5000\n\nWe collect item 5000.\n\n", "")
    new = new.replace("We collect item 77.", "We share item 77.")
    return old, new + "## 10000. Heading 10000\n\nNew.\n"


def headings_nested() -> tuple[str, str]:
    old = "".join(
        f"{'#' * (1 + i % 6)} Level {i % 6} title {i}\n\nx {i}\n\n" for i in range(10_000)
    )
    middle = old.index("# Level 0 title 5004\n")
    return old, old[:middle] + "# A new top heading\n\nInserted.\n\n" + old[middle:]


def headings_same_title() -> tuple[str, str]:
    old = "## Section\n\nbody text\n\n" * 10_000
    return old, old.replace("body text", "changed text", 50)


def line_one_edit() -> tuple[str, str]:
    line = words_line(MB5, 1)
    middle = line.index(" ", MB5 // 2)
    return line, line[:middle] + " inserted" + line[middle:]


def line_mixed_scripts() -> tuple[str, str]:
    vocabulary = (*SCRIPTS, *EMOJI, "\u202eabc\u202c", "a\u200bb", "e\u0301\u0308", "\u2066x\u2069")
    line = words_line(MB5, 2, vocabulary)
    middle = line.index(" ", MB5 // 2)
    return line, line[:middle] + " \u05e9\u05dc\u05d5\u05dd\u200f" + line[middle:]


def line_added() -> tuple[str, str]:
    return "# Policy\n\nShort.\n", "# Policy\n\nShort.\n" + words_line(MB5, 3)


def long_list() -> tuple[str, str]:
    old = "# Policy\n\n" + "".join(f"- item {i}\n" for i in range(100_000))
    new = "# Policy\n\n" + "".join(f"- item {i}\n" for i in range(100_000) if i % 7)
    return old, new


BIG: dict[str, Callable[[], tuple[str, str]]] = {
    "10k-headings-edited": headings_edited,
    "10k-headings-nested": headings_nested,
    "10k-headings-same-title": headings_same_title,
    "5mb-line-one-edit": line_one_edit,
    "5mb-line-mixed-scripts": line_mixed_scripts,
    "5mb-line-added": line_added,
    "100k-list-items": long_list,
}


@pytest.mark.parametrize("case", list(BIG))
def test_big_inputs_finish_within_the_bound(case: str, tmp_path: Path) -> None:
    old, new = BIG[case]()
    old_file, new_file, report = tmp_path / "old.md", tmp_path / "new.md", tmp_path / "r.json"
    old_file.write_text(old, encoding="utf-8")
    new_file.write_text(new, encoding="utf-8")
    args = [str(old_file), str(new_file), "--format", "json", "-o", str(report)]
    done = subprocess.run(
        [sys.executable, "-m", "policydiff", "compare", *args],
        capture_output=True,
        text=True,
        timeout=BOUND_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    check_json(report.read_text(encoding="utf-8"), old, new)


# --------------------------------------------------------------------------- move search

# rapidfuzz character pairs the move search may compare for one compare_texts call: about
# one second of work on the development machine (2.5e11 pairs took 1.4 s).
MOVE_WORK_BUDGET = 2 * 10**11


class MoveWorkExceededError(Exception):
    """The move search asked for more fuzzy comparison than the budget allows."""


def rewritten_line() -> tuple[str, str]:
    return words_line(MB5, 4), words_line(MB5, 5)


def rewritten_paragraphs() -> tuple[str, str]:
    rng = random.Random(6)

    def paragraph() -> str:
        return " ".join(rng.choice(VOCABULARY) for _ in range(5000))[:20_000]

    return (
        "\n\n".join(paragraph() for _ in range(250)),
        "\n\n".join(paragraph() for _ in range(250)),
    )


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(rewritten_line, id="5mb-line"),
        pytest.param(rewritten_paragraphs, id="250x20kb"),
    ],
)
def test_move_search_work_is_bounded(
    case: Callable[[], tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    work = 0
    real = rapidfuzz.process.extract

    def counted(query: str, choices: list[str], **options: object) -> object:
        nonlocal work
        work += len(query) * sum(len(choice) for choice in choices)
        if work > MOVE_WORK_BUDGET:
            # Refuse before doing it: the real call would take minutes.
            raise MoveWorkExceededError(work)
        return real(query, choices, **options)

    monkeypatch.setattr(rapidfuzz.process, "extract", counted)
    old, new = case()
    try:
        diff = compare_texts(old, new)
    except MoveWorkExceededError as err:
        pytest.fail(f"move search asked for {err.args[0]:.2e} character pairs")
    check_rebuild(diff, old, new)
