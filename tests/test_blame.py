"""Blame: each paragraph's age follows the diff engine, not git's lines.

Also home of ``build_story``, the store the history tests share: the seed policy through
a re-wrap, an edit with a paragraph moved to another section, a rename, a technical
re-extraction and a fix-up.
"""

from __future__ import annotations

import json
import re
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from helpers import run_cli, seed_body
from policydiff.core.model import Snapshot
from policydiff.engine.history import (
    Blame,
    Granularity,
    Timeline,
    blame,
    blame_texts,
    split_units,
)
from policydiff.store.gitstore import GitStore, init_store

POLICY = "koozali/privacy-policy"
FORUMS = "These are available to our community."
CONTACT = "If you contact us and provide us with information"
WEBSITES = "When you register to use certain parts of our websites"
PRINCIPLES = "At Koozali Inc., we consider your privacy"


def rewrap(text: str, width: int = 60) -> str:
    """Re-wrap prose paragraphs (not headings or list items) and straighten apostrophes."""
    out = []
    for paragraph in text.split("\n\n"):
        if paragraph.lstrip().startswith(("#", "*", "_")) or not paragraph.strip():
            out.append(paragraph)
        else:
            out.append(textwrap.fill(paragraph, width))
    return "\n\n".join(out).replace("\u2019", "'")


def story_texts() -> list[str]:
    """Return the story's texts, version 1 first (see the module docstring)."""
    v1 = seed_body()
    v2 = rewrap(v1)  # cosmetic only
    # v3: one sentence edited; the "General" paragraph moves up into "Websites".
    v3 = re.sub(r"Please\s+exercise\s+caution", "Please always exercise caution", v2)
    general = v3[v3.index(CONTACT) :]
    v3 = v3[: v3.index(CONTACT)].rstrip() + "\n"
    v3 = v3.replace("_Forums and mailinglists_", general.strip() + "\n\n_Forums and mailinglists_")
    # v4: "Websites" renamed "Online services"; the emptied "General" heading dropped.
    v4 = v3.replace("_Websites_", "_Online services_").replace("\n_General_\n", "\n")
    # v5 (technical re-extraction) garbles a paragraph; v6 restores it.
    v5 = v4.replace(PRINCIPLES, "At Koozali Inc we consider your privacy")
    v6 = v4 + "\n_Changes_\n\nWe may update this policy from time to time.\n"
    return [v1, v2, v3, v4, v5, v6]


DATES = ["2016-02-08", "2016-06-01", "2017-01-10", "2017-03-20", "2017-04-02", "2017-05-01"]


def snapshot(text: str, day: str, *, technical: bool = False, policy: str = POLICY) -> Snapshot:
    """Return a snapshot of ``text`` captured at noon on ``day``."""
    return Snapshot(
        policy=policy,
        text=text,
        raw=text.encode(),
        raw_suffix="md",
        captured_at=datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC),
        effective_date=date.fromisoformat(day),
        origin=f"{policy}@{day}",
        technical=technical,
    )


def build_story(path: Path, count: int = 6) -> GitStore:
    """Return a store at ``path`` holding the first ``count`` story versions."""
    store = GitStore(init_store(path))
    store.record(
        snapshot(text, day, technical=number == 5)
        for number, (text, day) in enumerate(zip(story_texts(), DATES, strict=True), start=1)
        if number <= count
    )
    return store


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> GitStore:
    """The six-version story store (shared: tests only read it)."""
    return build_story(tmp_path_factory.mktemp("blame") / "store")


def since_of(result: Blame, needle: str) -> tuple[int, int]:
    """Return (since, edited) version numbers of the one unit containing ``needle``."""
    found = [e for e in result.entries if needle in " ".join(e.text.split())]
    assert len(found) == 1, [e.text[:40] for e in found]
    return found[0].since.number, found[0].edited.number


# --------------------------------------------------------------------------- units


def test_units_are_headings_paragraphs_and_list_items() -> None:
    text = "# Title\n\nFirst para\nwrapped.\n\n* item one\n* item two\n\nLast.\n"
    units = split_units(text)
    assert [text[u.start : u.end] for u in units] == [
        "# Title",
        "First para\nwrapped.",
        "* item one",
        "* item two",
        "Last.",
    ]
    assert [u.heading for u in units] == [True, False, False, False, False]
    assert units[1].key == "First para wrapped."


def test_sentences_split_at_sentence_ends_but_not_abbreviations() -> None:
    text = "# T\n\nWe use cookies, e.g. Google ones. We keep logs! Do we sell data? No.\n"
    units = split_units(text, Granularity.SENTENCE)
    assert [text[u.start : u.end] for u in units][1:] == [
        "We use cookies, e.g. Google ones.",
        "We keep logs!",
        "Do we sell data?",
        "No.",
    ]


# --------------------------------------------------------------------------- the core


def test_quotes_and_rewrapping_keep_the_age() -> None:
    old = "# T\n\nWe don\u2019t sell your data to anyone, ever, for any reason at all.\n"
    new = "# T\n\nWe don't sell your data to anyone, ever,\nfor any reason at all.\n"
    units, origins = blame_texts([old, new])
    assert [(o.since, o.edited) for o in origins] == [(0, 0), (0, 1)]
    assert new[units[1].start : units[1].end].startswith("We don't")


def test_a_paragraph_moved_within_a_section_keeps_its_age() -> None:
    a = "First paragraph says one thing here."
    b = "Second paragraph says another thing entirely."
    c = "Third paragraph closes the section nicely."
    old = f"# T\n\n{a}\n\n{b}\n\n{c}\n"
    new = f"# T\n\n{c}\n\n{a}\n\nA brand new paragraph appears.\n\n{b}\n"
    units, origins = blame_texts([old, new])
    ages = {new[u.start : u.end]: o.since for u, o in zip(units, origins, strict=True)}
    assert ages == {"# T": 0, c: 0, a: 0, "A brand new paragraph appears.": 1, b: 0}


def test_split_and_merged_paragraphs_keep_the_words_age() -> None:
    one = "We collect your name and your email address when you sign up."
    two = "We delete both when you close your account with us."
    texts = [
        f"# T\n\n{one} {two}\n\nThe tail paragraph says this.\n",
        f"# T\n\n{one}\n\n{two}\n\nThe tail paragraph now says that.\n",  # split, edit
        f"# T\n\n{one}\n\n{two} The tail paragraph now says that.\n",  # merged
    ]
    _, origins = blame_texts(texts[:2])
    assert [(o.since, o.edited) for o in origins] == [(0, 0), (0, 1), (0, 1), (1, 1)]
    # A merged paragraph stands since the newer of its parts.
    _, origins = blame_texts(texts)
    assert [(o.since, o.edited) for o in origins] == [(0, 0), (0, 1), (1, 2)]


def test_a_changed_word_makes_the_paragraph_new() -> None:
    old = "# T\n\nWe keep logs for 30 days.\n\nWe never sell data.\n"
    new = "# T\n\nWe keep logs for 90 days.\n\nWe never sell data.\n"
    _, origins = blame_texts([old, new])
    assert [o.since for o in origins] == [0, 1, 0]


# --------------------------------------------------------------------------- the store


def test_rewrapped_version_does_not_reset_blame(story: GitStore) -> None:
    timeline = Timeline(story, POLICY)
    result = blame(timeline, timeline.versions[1])
    assert {e.since.number for e in result.entries} == {1}
    assert since_of(result, PRINCIPLES) == (1, 2)  # re-wrapped: edited, not new
    assert since_of(result, "Privacy policy Valid from") == (1, 1)


def test_edit_and_move(story: GitStore) -> None:
    timeline = Timeline(story, POLICY)
    result = blame(timeline, timeline.versions[2])
    assert since_of(result, FORUMS) == (3, 3)
    # Moved into "Websites" from "General": still dated from version 1.
    assert since_of(result, CONTACT) == (1, 2)
    moved = next(e for e in result.entries if CONTACT in e.text)
    assert moved.path[-1] == "Websites"
    assert since_of(result, WEBSITES) == (1, 2)


def test_renamed_section_keeps_its_paragraphs_age(story: GitStore) -> None:
    timeline = Timeline(story, POLICY)
    result = blame(timeline, timeline.versions[3])
    assert since_of(result, "_Online services_") == (4, 4)
    assert since_of(result, WEBSITES) == (1, 2)
    assert since_of(result, CONTACT) == (1, 2)


def test_technical_versions_are_skipped_unless_asked(story: GitStore) -> None:
    timeline = Timeline(story, POLICY)
    result = blame(timeline)
    assert [v.number for v in result.chain] == [1, 2, 3, 4, 6]
    assert since_of(result, PRINCIPLES) == (1, 2)
    assert since_of(result, "We may update this policy") == (6, 6)
    with_technical = blame(timeline, include_technical=True)
    assert [v.number for v in with_technical.chain] == [1, 2, 3, 4, 5, 6]
    assert since_of(with_technical, PRINCIPLES) == (6, 6)
    # Asked about directly, a technical version is blamed (its predecessors still skip it).
    assert blame(timeline, timeline.versions[4]).chain[-1].technical


def test_by_sentence_dates_only_the_edited_sentence(story: GitStore) -> None:
    timeline = Timeline(story, POLICY)
    result = blame(timeline, by=Granularity.SENTENCE)
    assert since_of(result, "Please always exercise caution") == (3, 3)
    assert since_of(result, FORUMS) == (1, 1)
    # Re-wrapped in version 2 (a line break moved inside it): edited, still from version 1.
    assert since_of(result, "Any information that you disclose") == (1, 2)


# --------------------------------------------------------------------------- CLI


def test_cli_term_output_has_a_gutter_on_every_line(story: GitStore) -> None:
    result = run_cli(["--store", str(story.path), "blame", POLICY])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Blame {POLICY}@6 (2017-05-01) by paragraph")
    body = [line for line in lines[lines.index("") :] if line.strip()]
    assert all(re.match(r"v\d \d{4}-\d\d-\d\d\*? +\u2502 |\s+", line) for line in body), body
    assert any(line.startswith("v3 2017-01-10  \u2502 These are available") for line in body)
    assert any(line.startswith("v1 2016-02-08* \u2502 If you contact us") for line in body)


def test_cli_json_schema(story: GitStore) -> None:
    result = run_cli(["--store", str(story.path), "blame", f"{POLICY}@4", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["schema"] == "policydiff.blame/1"
    assert (data["policy"], data["version"], data["by"]) == (POLICY, 4, "paragraph")
    assert [v["version"] for v in data["versions"]] == [1, 2, 3, 4]
    assert data["versions"][0] == {
        "version": 1,
        "commit": story.versions(POLICY)[0].commit,
        "captured_at": "2016-02-08T12:00:00Z",
        "effective_date": "2016-02-08",
        "technical": False,
    }
    text = story.text(story.versions(POLICY)[3])
    for unit in data["units"]:
        assert text[unit["start"] : unit["end"]] == unit["text"]
        assert 1 <= unit["since"] <= unit["edited"] <= 4
    assert {"section", "heading", "start", "end", "text", "since", "edited"} == set(unit)


def test_cli_ref_by_date_and_sentence_mode(story: GitStore) -> None:
    result = run_cli(
        ["--store", str(story.path), "blame", f"{POLICY}@2017-02-01", "--by", "sentence"]
    )
    assert result.exit_code == 0, result.stderr
    assert f"Blame {POLICY}@3 (2017-01-10) by sentence" in result.stdout
    assert "v3 2017-01-10  \u2502 Please always exercise caution" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["blame", "nobody/policy"], "no policy 'nobody/policy'"),
        (["blame", f"{POLICY}@9"], "there is no version 9"),
        (["blame", "--by", "word"], "Invalid value for '--by'"),
    ],
)
def test_cli_errors(story: GitStore, args: list[str], message: str) -> None:
    result = run_cli(["--store", str(story.path), *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
