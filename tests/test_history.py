"""Section history: one section followed through edits, moves, renames and removal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import run_cli
from policydiff.core.errors import UsageError
from policydiff.engine.history import (
    SectionHistory,
    Timeline,
    find_section,
    section_histories,
    section_history,
)
from policydiff.store.gitstore import GitStore
from test_blame import CONTACT, POLICY, build_story

WHAT = "SME Server:Privacy policy - SME Server > What we collect"


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> GitStore:
    """The six-version story store (shared: tests only read it)."""
    return build_story(tmp_path_factory.mktemp("history") / "store")


def kinds(history: SectionHistory) -> list[tuple[int, str]]:
    """Return (version number, kind) of each change."""
    return [(c.version.number, c.kind) for c in history.changes]


def test_renamed_section_is_followed_by_its_new_name(story: GitStore) -> None:
    history = section_history(Timeline(story, POLICY), "online")
    assert history.path == (*WHAT.split(" > "), "Online services")
    assert [path[-1] for path in history.names] == ["Websites", "Online services"]
    # v3 only moved a paragraph in (its words did not change); v4 changes the title alone.
    assert kinds(history) == [(1, "initial"), (2, "cosmetic"), (3, "text_moved"), (4, "renamed")]
    assert history.changes[3].section.renamed
    # The paragraph moved in from "General" arrives as a moved block, not plain new text.
    moved_in = history.changes[2]
    assert [m.new_path[-1] for m in moved_in.moves] == ["Websites"]
    assert CONTACT in moved_in.moves[0].new_text
    assert history.removed_in is None


def test_old_name_finds_the_renamed_section(story: GitStore) -> None:
    by_old = section_history(Timeline(story, POLICY), "WEBSITES")
    assert by_old.path[-1] == "Online services"


def test_removed_section_history_ends_with_its_removal(story: GitStore) -> None:
    history = section_history(Timeline(story, POLICY), "general")
    # Version 3 only moved a paragraph out of it (issue 13: moved text is not changed words).
    assert kinds(history) == [(1, "initial"), (2, "cosmetic"), (3, "text_moved"), (4, "removed")]
    assert history.removed_in is not None
    assert history.removed_in.number == 4
    assert history.last.number == 3
    assert history.changes[2].moves[0].old_path[-1] == "General"


def test_technical_versions_are_skipped_unless_asked(story: GitStore) -> None:
    timeline = Timeline(story, POLICY)
    assert kinds(section_history(timeline, "sme server:privacy"))[-1] == (2, "cosmetic")
    with_technical = section_history(timeline, "sme server:privacy", include_technical=True)
    assert kinds(with_technical)[-2:] == [(5, "modified"), (6, "modified")]


def test_parent_title_picks_the_parent_not_its_children(story: GitStore) -> None:
    history = section_history(Timeline(story, POLICY), "what we collect")
    assert " > ".join(history.path) == WHAT


def test_every_section_has_one_history(story: GitStore) -> None:
    histories = section_histories(Timeline(story, POLICY))
    assert [h.path[-1] for h in histories] == [
        "SME Server:Privacy policy - SME Server",
        "What we collect",
        "Online services",
        "Forums and mailinglists",
        "Non-personally identifying information",
        "General",
        "Changes",
    ]
    assert [h.first.number for h in histories][-1] == 6


def test_ambiguous_and_unknown_text_list_the_candidates(story: GitStore) -> None:
    histories = section_histories(Timeline(story, POLICY))
    with pytest.raises(UsageError, match="matches 3 sections in the latest version") as err:
        find_section(histories, "in")
    assert "Forums and mailinglists" in str(err.value)
    with pytest.raises(UsageError, match="no section matches 'zzz' in any version"):
        find_section(histories, "zzz")
    with pytest.raises(UsageError, match="needs some words"):
        find_section(histories, " ** ")


# --------------------------------------------------------------------------- CLI


def test_cli_term(story: GitStore) -> None:
    result = run_cli(["--store", str(story.path), "history", POLICY, "--section", "online"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith("History of \u201cSME Server:Privacy policy")
    assert (
        "Also named: \u201cSME Server:Privacy policy - SME Server > What we collect > Websites"
        in (out.replace("\n", " "))
    )
    assert "v4 2017-03-20 \u00b7 renamed" in out
    # The heading's emphasis marks stay out of the edit.
    assert "_[-Websites-]{+Online services+}_" in out
    assert "{+If you contact us and provide us with information, we may+}" in out


def test_cli_markdown(story: GitStore) -> None:
    result = run_cli(
        ["--store", str(story.path), "history", "--section", "general", "--format", "markdown"]
    )
    assert result.exit_code == 0, result.stderr
    assert "### v4 2017-03-20 \u00b7 removed" in result.stdout
    assert "<del>If you contact us" in result.stdout


def test_cli_json(story: GitStore) -> None:
    result = run_cli(
        ["--store", str(story.path), "history", POLICY, "--section", "online", "--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["schema"] == "policydiff.history/1"
    assert data["query"] == "online"
    assert data["section"]["names"][0][-1] == "Websites"
    assert (data["section"]["first_version"], data["section"]["removed_in"]) == (1, None)
    changes = data["changes"]
    assert [c["kind"] for c in changes] == ["initial", "cosmetic", "text_moved", "renamed"]
    assert changes[0]["previous"] is None
    assert changes[3]["previous"]["version"] == 3
    renamed = changes[3]["section"]
    assert renamed["renamed"] is True
    assert renamed["old_path"][-1] == "Websites"
    assert renamed["new_path"][-1] == "Online services"
    new_text = "".join(s["text"] for s in renamed["diff"] if s["op"] != "delete")
    assert new_text.startswith("_Online services_")
    assert changes[2]["moves"][0]["old_path"][-1] == "General"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--section", "in"], "matches 3 sections"),
        (["--section", "zzz"], "no section matches"),
        (["--section", "  "], "--section needs some text"),
        ([], "Missing option '--section'"),
    ],
)
def test_cli_errors(story: GitStore, args: list[str], message: str) -> None:
    result = run_cli(["--store", str(story.path), "history", POLICY, *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_single_version_history(tmp_path: Path) -> None:
    store = build_story(tmp_path / "store", count=1)
    history = section_history(Timeline(store, POLICY), "websites")
    assert kinds(history) == [(1, "initial")]
    assert history.changes[0].section.new_text.startswith("_Websites_")


def test_heading_counts_changes_since_the_first_version(story: GitStore) -> None:
    from policydiff.publish.render.blame import history_heading

    history = section_history(Timeline(story, POLICY), "online")
    changed = [c for c in history.changes if c.previous is not None]
    assert history.changes[0].previous is None  # the first version: not a change
    assert len(changed) == len(history.changes) - 1
    heading = history_heading(history)
    noun = "change" if len(changed) == 1 else "changes"
    assert heading[-1] == (
        f"History: {len(changed)} {noun} since the first version (technical re-extractions skipped)"
    )
    assert not any("change(s)" in line for line in heading)


def test_heading_of_an_unchanged_section_says_so(tmp_path: Path) -> None:
    from policydiff.publish.render.blame import history_heading

    store = build_story(tmp_path / "store", count=1)
    heading = history_heading(section_history(Timeline(store, POLICY), "websites"))
    assert heading[-1].startswith("History: no changes since the first version")
