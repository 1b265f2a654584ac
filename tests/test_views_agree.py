"""One truth, many views: compare, log, changelog, announce and feed agree on each change.

A real store holds one policy whose versions each make one kind of change the engine
knows: a paragraph moved to another section with a one-word edit (0 words moved, only
its edit counts), a section renamed only, a cosmetic edit (quotes, a dash), and a section
renamed whose only other change is a paragraph moved into it unchanged. Every view is
read through the CLI and checked against ``compare --format json``'s summary.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from helpers import run_cli
from policydiff.store.gitstore import GitStore, init_store
from test_blame import snapshot

POLICY = "views"
MOVED = (
    "We may combine the information we collect about you with data from our advertising "
    "partners to improve the relevance of the offers we show you on our websites."
)
KEPT = "We keep server logs for thirty days to find and fix faults in our services."
V1 = f"""# Example Privacy Policy

## Data we collect

We collect your name, your email address and your postal address when you create an account with us.

{KEPT}

{MOVED}

## Sharing

We share your data with service providers who process it on our behalf under written contracts.

We never sell your personal data to anyone, and we do not rent or trade lists of our customers with other companies.

We disclose data to public authorities only when a court order or the law requires us to do so.

## Contact

Write to us at "privacy@example.com" - we answer every question within thirty days.
"""
# v2: the paragraph moves from "Data we collect" to the end of "Sharing", one word edited.
V2 = V1.replace(f"\n{MOVED}\n", "").replace(
    "to do so.\n", "to do so.\n\n" + MOVED.replace("improve", "increase") + "\n"
)
# v3: "Contact" renamed, nothing else.
V3 = V2.replace("## Contact", "## Reach us")
# v4: cosmetic only: straight quotes to curly ones, a hyphen to an em dash.
V4 = V3.replace('"privacy@example.com" - we', "\u201cprivacy@example.com\u201d \u2014 we")
# v5: "Sharing" renamed; the only other change is a paragraph moved into it unchanged.
V5 = (
    V4.replace(f"\n{KEPT}\n", "")
    .replace("requires us to do so.\n", f"requires us to do so.\n\n{KEPT}\n")
    .replace("## Sharing", "## Who we share data with")
)
TEXTS = [V1, V2, V3, V4, V5]
DAYS = ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01"]
MOVE_EDITED, RENAME, COSMETIC, RENAME_AND_MOVE = 2, 3, 4, 5

# Log stats field -> compare summary field: the same counts under both names.
SAME_COUNTS = {
    "sections_added": "added",
    "sections_removed": "removed",
    "sections_changed": "modified",
    "sections_cosmetic": "cosmetic",
    "sections_renamed": "renamed",
    "sections_moved": "moved",
    "words_inserted": "words_inserted",
    "words_deleted": "words_deleted",
    "moved_blocks": "moved_blocks",
    "words_moved": "words_moved",
    "substantive": "substantive",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five-version store (shared: tests only read it, log writes its stats cache)."""
    path = tmp_path_factory.mktemp("views") / "store"
    GitStore(init_store(path)).record(
        snapshot(text, day, policy=POLICY) for text, day in zip(TEXTS, DAYS, strict=True)
    )
    return path


def cli_json(store: Path, *args: str) -> Any:
    """Run ``policydiff --store STORE ARGS --format json``; return the parsed output."""
    result = run_cli(["--store", str(store), *args, "--format", "json"])
    assert result.exit_code in {0, 1}, result.stderr
    return json.loads(result.stdout)


def summary(store: Path, version: int) -> dict[str, Any]:
    """Return compare's summary of ``version`` against the version before it."""
    data = cli_json(store, "compare", POLICY, str(version - 1), str(version))
    found: dict[str, Any] = data["summary"]
    return found


def log_stats(store: Path) -> dict[int, dict[str, Any]]:
    """Return log's stats per version number."""
    return {v["version"]: v["stats"] for v in cli_json(store, "log", POLICY)["versions"]}


def changelog(store: Path) -> dict[int, dict[str, Any]]:
    """Return changelog's entries per version number."""
    return {v["version"]: v for v in cli_json(store, "changelog", POLICY)["versions"]}


def feed_titles(store: Path) -> dict[int, str]:
    """Return the feed's entry titles per version number."""
    result = run_cli(["--store", str(store), "feed", POLICY])
    assert result.exit_code == 0, result.stderr
    atom = "{http://www.w3.org/2005/Atom}"
    titles = [
        e.findtext(f"{atom}title") or ""
        for e in ET.fromstring(result.stdout_bytes).iter(f"{atom}entry")
    ]
    return {int(t.split(":")[0].removeprefix("Version ")): t for t in titles}


@pytest.mark.parametrize("version", [MOVE_EDITED, RENAME, COSMETIC, RENAME_AND_MOVE])
def test_log_stats_are_compare_summary(store: Path, version: int) -> None:
    counts = summary(store, version)
    stats = log_stats(store)[version]
    assert {k: stats[k] for k in SAME_COUNTS} == {k: counts[v] for k, v in SAME_COUNTS.items()}


def test_moved_paragraph_with_one_word_edited(store: Path) -> None:
    counts = summary(store, MOVE_EDITED)
    # The move counts 0 words; only the edit made inside it does.
    assert (counts["words_inserted"], counts["words_deleted"]) == (1, 1)
    assert (counts["moved_blocks"], counts["words_moved"]) == (1, 28)
    assert (counts["modified"], counts["cosmetic"], counts["substantive"]) == (1, 1, True)
    entry = changelog(store)[MOVE_EDITED]
    assert entry["kind"] == "substantive"
    assert [(c["kind"], c["content_changed"]) for c in entry["changes"]] == [("text_moved", True)]
    notice = cli_json(store, "announce", POLICY, str(MOVE_EDITED - 1), str(MOVE_EDITED))
    assert notice["substantive"] is True
    words = [(c["words_inserted"], c["words_deleted"]) for c in notice["changes"]]
    assert words == [(1, 1)]
    # Was "sections reordered": the section the edited text moved into changed.
    assert feed_titles(store)[MOVE_EDITED] == f"Version {MOVE_EDITED}: 1 section changed"
    table = run_cli(["--store", str(store), "log", POLICY]).stdout
    row = next(line for line in table.splitlines() if line.startswith(f"{MOVE_EDITED} "))
    assert "+1 \u22121 (28 moved)" in row


def test_rename_only(store: Path) -> None:
    counts = summary(store, RENAME)
    assert (counts["renamed"], counts["modified"], counts["substantive"]) == (1, 0, False)
    assert (counts["words_inserted"], counts["words_deleted"]) == (0, 0)
    stats = log_stats(store)[RENAME]
    assert not stats["cosmetic_only"]  # a rename is reported, not cosmetic
    entry = changelog(store)[RENAME]
    assert entry["kind"] == "editorial"
    assert [c["kind"] for c in entry["changes"]] == ["renamed"]
    notice = cli_json(store, "announce", POLICY, str(RENAME - 1), str(RENAME))
    # announce's "substantive" means "worth a notice": words changed or a real rename.
    assert notice["substantive"] is (counts["substantive"] or counts["renamed"] > 0)
    assert [c["kind"] for c in notice["changes"]] == ["renamed"]
    assert sum(c["words_inserted"] + c["words_deleted"] for c in notice["changes"]) == 0


def test_cosmetic_only(store: Path) -> None:
    counts = summary(store, COSMETIC)
    assert (counts["cosmetic"], counts["modified"], counts["substantive"]) == (1, 0, False)
    assert log_stats(store)[COSMETIC]["cosmetic_only"] is True
    entry = changelog(store)[COSMETIC]
    assert entry["kind"] == "editorial"
    assert [c["kind"] for c in entry["changes"]] == ["editorial"]
    result = run_cli(["--store", str(store), "announce", POLICY, str(COSMETIC - 1), str(COSMETIC)])
    assert "nothing to announce" in result.stderr


def test_renamed_section_with_text_moved_in_is_not_modified(store: Path) -> None:
    counts = summary(store, RENAME_AND_MOVE)
    # Was modified (the renamed heading counted as a change of words): a rename plus
    # unchanged text moved in is what the same move into a section keeping its name is.
    assert (counts["modified"], counts["renamed"], counts["substantive"]) == (0, 1, False)
    assert (counts["words_inserted"], counts["words_deleted"], counts["moved_blocks"]) == (0, 0, 1)
    entry = changelog(store)[RENAME_AND_MOVE]
    assert entry["kind"] == "editorial"
    assert {c["kind"] for c in entry["changes"]} == {"renamed", "text_moved"}
    assert not any(c["content_changed"] for c in entry["changes"])


def test_feed_lists_the_versions_changelog_calls_substantive(store: Path) -> None:
    kinds = {number: entry["kind"] for number, entry in changelog(store).items()}
    wanted = {n for n, kind in kinds.items() if kind in {"first", "substantive"}}
    assert set(feed_titles(store)) == wanted == {1, MOVE_EDITED}
