"""``policydiff changelog``: one entry per version, newest first, grouped by section change."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from helpers import run_cli, seed_body
from policydiff.core.model import Snapshot
from policydiff.publish.changelog import EntryKind, render_changelog, version_history
from policydiff.store.gitstore import GitStore

POLICY = "koozali/privacy-policy"


def snapshot(text: str, when: str, **kw: object) -> Snapshot:
    return Snapshot(
        policy=POLICY,
        text=text,
        raw=text.encode(),
        raw_suffix="md",
        captured_at=datetime.fromisoformat(when).replace(tzinfo=UTC),
        **kw,  # type: ignore[arg-type]
    )


def versions_of_seed() -> list[Snapshot]:
    """v1 seed, v2 editorial, v3 technical, v4 new + renamed + removed sections."""
    v1 = seed_body()
    v2 = v1.replace("\u2019", "'")
    v3 = v2.replace("such as wikis, bugtracker", "such as wikis,\nbugtracker")  # re-wrapped
    removed = v3[v3.index("_Non-personally") : v3.index("_General_")]
    v4 = (
        v3.replace("_Forums and mailinglists_", "_Community forums and mailing lists_")
        .replace(removed, "")
        .replace("_General_", "_Cookies_\n\nWe use cookies to keep you signed in.\n\n_General_")
        .replace("Valid from 8 February 2016", "Valid from 1 May 2024")
    )
    return [
        snapshot(v1, "2017-04-22", effective_date=date(2016, 2, 8)),
        snapshot(v2, "2018-03-01", effective_date=date(2016, 2, 8)),
        snapshot(v3, "2019-01-01", effective_date=date(2016, 2, 8), technical=True),
        snapshot(v4, "2024-05-01", effective_date=date(2024, 5, 1)),
    ]


@pytest.fixture
def archive(store: GitStore, monkeypatch: pytest.MonkeyPatch) -> GitStore:
    monkeypatch.setenv("POLICYDIFF_STORE", str(store.path))
    monkeypatch.chdir(store.path.parent)
    store.record(versions_of_seed())
    return store


def test_changelog_groups_sections_newest_first(archive: GitStore) -> None:
    result = run_cli(["changelog"])
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert text.startswith("# Changelog: SME Server:Privacy policy - SME Server\n")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Version 4 - 2024-05-01",
        "## Version 2 - 2018-03-01 (editorial)",
        "## Version 1 - 2017-04-22",
    ]
    v4 = text[text.index("## Version 4") : text.index("## Version 2")]
    assert v4.index("### Added") < v4.index("### Removed") < v4.index("### Renamed")
    assert "- What we collect > Cookies\n" in v4
    assert "- What we collect > Non-personally identifying information\n" in v4
    assert "- Forums and mailinglists -> Community forums and mailing lists\n" in v4
    assert "Effective date: 2024-05-01" in v4
    assert "Editorial changes only (wording unchanged)" in text
    assert "First recorded version." in text


def test_changelog_is_byte_identical_across_runs(archive: GitStore, tmp_path: Path) -> None:
    first, second = tmp_path / "a.md", tmp_path / "b.md"
    assert run_cli(["changelog", POLICY, "-o", str(first)]).exit_code == 0
    assert run_cli(["changelog", POLICY, "--output", str(second)]).exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() == run_cli(["changelog"]).stdout_bytes


def test_substantive_only_and_technical(archive: GitStore) -> None:
    substantive = run_cli(["changelog", "--substantive-only"]).stdout
    assert "(editorial)" not in substantive
    assert "Version 3" not in substantive
    technical = run_cli(["changelog", "--include-technical"]).stdout
    assert "## Version 3 - 2019-01-01 (technical re-extraction)" in technical
    assert "not a policy change" in technical


def test_versions_are_compared_with_their_direct_predecessor(archive: GitStore) -> None:
    entries = version_history(archive.versions(POLICY), archive.text)
    assert [(e.version.number, e.kind) for e in entries] == [
        (4, EntryKind.SUBSTANTIVE),
        (2, EntryKind.EDITORIAL),
        (1, EntryKind.FIRST),
    ]
    # Against v3 (the technical re-extraction), not v2: v3's re-wrapping is not v4's change.
    lines = [c.line for c in entries[0].changes]
    assert "Editorial: What we collect > Websites" not in lines
    with_technical = version_history(archive.versions(POLICY), archive.text, include_technical=True)
    assert [c.line for c in with_technical[1].changes] == ["Editorial: What we collect > Websites"]


def test_json_changelog(archive: GitStore, tmp_path: Path) -> None:
    doc = json.loads(run_cli(["changelog", "--format", "json"]).stdout)
    assert doc["schema"] == "policydiff.changelog/1"
    assert [v["version"] for v in doc["versions"]] == [4, 2, 1]
    assert {c["kind"] for c in doc["versions"][0]["changes"]} == {
        "added",
        "removed",
        "renamed",
        "changed",
    }
    out = tmp_path / "log.json"
    assert run_cli(["changelog", "--format", "json", "-o", str(out)]).exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8")) == doc


def test_render_escapes_section_names() -> None:
    body = "# Policy\n\n## Data\n\nWe collect data.\n"
    hostile = body + "\n## <b>*Bold*</b> [x](javascript:y)\n\nNew text.\n"
    snaps = [snapshot(body, "2020-01-01"), snapshot(hostile, "2021-01-01")]
    texts = {s.captured_at: s.text for s in snaps}

    class V:
        def __init__(self, n: int, s: Snapshot) -> None:
            self.number, self.captured_at, self.technical = n, s.captured_at, False
            self.suspect = None
            self.effective_date, self.commit, self.short = None, f"{n:040d}", f"{n:010d}"

    versions = [V(1, snaps[0]), V(2, snaps[1])]
    entries = version_history(versions, lambda v: texts[v.captured_at])  # type: ignore[arg-type]
    text = render_changelog(POLICY, entries)
    assert "<b>" not in text
    assert "\\[x\\](javascript:y)" in text


def test_unknown_policy_is_one_error_line(archive: GitStore) -> None:
    result = run_cli(["changelog", "nope/policy"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
