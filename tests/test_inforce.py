"""The in-force rule: never answer with a text nobody had seen yet, or say so.

Pure cases on hand-made histories, a hypothesis property over random histories, the
corpus with hand-written date tables for two policies, and the CLI's fields and notes.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import run_cli
from policydiff.core.model import Version
from policydiff.store.inforce import in_force, start_of

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("POLICYDIFF_CORPUS", REPO.parent / "shared" / "corpus"))
needs_corpus = pytest.mark.skipif(
    not (CORPUS / "MANIFEST.tsv").exists(), reason=f"no corpus at {CORPUS}"
)


def version(number: int, captured: str, effective: str | None = None) -> Version:
    """A version with only the dates the rule reads."""
    return Version(
        policy="acme/privacy",
        number=number,
        commit=f"{number:040x}",
        captured_at=datetime.fromisoformat(captured).replace(tzinfo=UTC),
        effective_date=date.fromisoformat(effective) if effective else None,
        source_url=None,
        archive_url=None,
        text_sha256="0" * 64,
        source_sha256=None,
        recorded_by=None,
    )


# The tumblr shape: a stale "Last modified" carried over by later edits.
STALE = [
    version(1, "2024-01-17", "2023-06-07"),
    version(2, "2024-01-24", "2024-01-24"),
    version(3, "2024-01-29", "2024-01-29"),
    version(4, "2024-06-12", "2024-01-29"),
    version(5, "2024-06-24", "2024-01-29"),
]


@pytest.mark.parametrize(
    ("on", "expected", "flagged"),
    [
        ("2023-06-07", 1, True),  # only a later capture says it was in force: flagged
        ("2024-01-16", 1, True),
        ("2024-01-17", 1, False),
        ("2024-01-23", 1, False),
        ("2024-01-24", 2, False),
        ("2024-02-01", 3, False),  # not 5, captured months later with the same date
        ("2024-06-11", 3, False),
        ("2024-06-12", 4, False),
        ("2024-06-24", 5, False),
        ("2030-01-01", 5, False),
    ],
)
def test_stale_effective_dates_never_win_before_their_capture(
    on: str, expected: int, flagged: bool
) -> None:
    answer = in_force(STALE, date.fromisoformat(on))
    assert answer is not None
    assert answer.version.number == expected
    assert answer.flagged is flagged


def test_nothing_in_force_before_any_stated_start() -> None:
    assert in_force(STALE, date(2023, 6, 6)) is None


def test_answer_dates_for_auditors() -> None:
    answer = in_force(STALE, date(2024, 2, 1))
    assert answer is not None
    assert answer.in_force_from == date(2024, 1, 29)
    # v4 states 2024-01-29, contradicted by v3's capture that day: it took over by its capture.
    assert answer.in_force_until == date(2024, 6, 12)
    assert answer.until_uncertain
    assert answer.first_seen == datetime(2024, 1, 29, tzinfo=UTC)
    assert answer.last_seen == datetime(2024, 6, 12, tzinfo=UTC)
    assert any("took over some day between 2024-01-29 and 2024-06-12" in c for c in answer.caveats)
    latest = in_force(STALE, date(2025, 1, 1))
    assert latest is not None
    assert latest.in_force_until is None
    assert latest.last_seen is None


def test_announced_in_advance_is_not_in_force_before_its_date() -> None:
    history = [version(1, "2020-01-01"), version(2, "2020-03-01", "2020-04-01")]
    before = in_force(history, date(2020, 3, 15))
    assert before is not None
    assert before.version.number == 1
    assert before.in_force_until == date(2020, 4, 1)
    assert not before.until_uncertain
    after = in_force(history, date(2020, 4, 1))
    assert after is not None
    assert after.version.number == 2


def test_a_later_capture_with_a_plausible_start_is_named() -> None:
    # v2 states it took effect on 2020-02-10, after v1 was seen and before the day asked:
    # v1 is what was observed, but v2's text may have been in force that day.
    history = [version(1, "2020-02-01", "2020-01-01"), version(2, "2020-06-01", "2020-02-10")]
    answer = in_force(history, date(2020, 3, 1))
    assert answer is not None
    assert answer.version.number == 1
    assert [v.number for v in answer.unseen_candidates] == [2]
    assert answer.flagged
    assert "version 2 (captured 2020-06-01, in force from 2020-02-10)" in answer.caveats[0]


def test_backfill_answer_is_flagged_with_its_capture() -> None:
    # The SME Server policy: valid from 8 February 2016, archived 22 April 2017.
    history = [version(1, "2017-04-22T08:22:16", "2016-02-08")]
    answer = in_force(history, date(2016, 6, 1))
    assert answer is not None
    assert answer.captured_after
    assert answer.caveats == (
        (
            "version 1 is in force from its effective date 2016-02-08, but was first captured "
            "2017-04-22, after 2016-06-01"
        ),
    )


@st.composite
def histories(draw: st.DrawFn) -> list[Version]:
    """Versions in capture order with effective dates anywhere around their captures."""
    count = draw(st.integers(1, 8))
    day = date(2020, 1, 1)
    found: list[Version] = []
    for number in range(1, count + 1):
        day += timedelta(days=draw(st.integers(0, 40)))
        offset = draw(st.none() | st.integers(-400, 60))
        effective = None if offset is None else (day + timedelta(days=offset)).isoformat()
        found.append(version(number, day.isoformat(), effective))
    return found


@settings(max_examples=300, deadline=None, derandomize=True)
@given(histories(), st.integers(-500, 500))
def test_property_answer_was_seen_by_the_date_or_is_flagged(
    history: list[Version], shift: int
) -> None:
    on = date(2020, 1, 1) + timedelta(days=shift)
    answer = in_force(history, on)
    if answer is None:
        assert all(start_of(v) > on for v in history)
        return
    assert start_of(answer.version) <= on
    assert answer.version.captured_at.date() <= on or answer.flagged
    assert answer.flagged == bool(answer.caveats) or answer.until_uncertain
    # Nothing seen by the date and in force by then is newer than the answer.
    seen = [v for v in history if v.captured_at.date() <= on and start_of(v) <= on]
    if seen:
        assert answer.version == seen[-1]


# --------------------------------------------------------------------------- corpus


@pytest.fixture(scope="module")
def corpus_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding every corpus policy (plain files: effective dates detected)."""
    if not (CORPUS / "MANIFEST.tsv").exists():
        pytest.skip(f"no corpus at {CORPUS}")
    root = tmp_path_factory.mktemp("inforce-corpus")
    source = root / "corpus"
    shutil.copytree(CORPUS, source, ignore=shutil.ignore_patterns("*.tsv", "README*"))
    store = root / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    imported = run_cli(["--store", str(store), "import", str(source)])
    assert imported.exit_code == 0, imported.stderr
    return store


def show_at(store: Path, policy: str, on: str) -> dict[str, object]:
    result = run_cli(["--store", str(store), "show", policy, "--at", on, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    document: dict[str, object] = json.loads(result.stdout)
    return document


# Written by hand from `policydiff log`: (date, expected version, flagged).
TUMBLR = [
    ("2023-06-07", 1, True),
    ("2024-01-17", 1, False),
    ("2024-01-24", 2, False),
    ("2024-02-01", 3, False),  # the repro: never version 5 (captured 2024-06-24)
    ("2024-06-12", 4, False),
    ("2024-06-24", 5, False),
    # Version 6 states 2024-09-06 but was first captured 2024-09-07: version 5 is what was
    # seen, flagged because version 6 may already have been in force.
    ("2024-09-06", 5, True),
    ("2024-09-07", 6, False),
    ("2024-09-28", 7, False),
]
CHATGPT = [
    ("2024-11-04", 1, True),
    ("2025-11-11", 1, False),
    ("2026-01-21", 2, False),
    ("2026-05-18", 3, False),
    ("2026-06-29", 4, False),
    ("2026-07-09", 5, False),  # the repro: 07-09 and 07-20 are different versions
    ("2026-07-20", 6, False),
    ("2026-07-25", 7, False),
]


@needs_corpus
@pytest.mark.corpus
@pytest.mark.parametrize(
    ("policy", "table"),
    [("tumblr/terms-of-service", TUMBLR), ("chatgpt/privacy-policy", CHATGPT)],
)
def test_corpus_tables(corpus_store: Path, policy: str, table: list[tuple[str, int, bool]]) -> None:
    for on, expected, flagged in table:
        document = show_at(corpus_store, policy, on)
        assert (on, document["version"]) == (on, expected)
        in_force_json = document["in_force"]
        assert isinstance(in_force_json, dict)
        assert (on, in_force_json["flagged"]) == (on, flagged)
        assert set(in_force_json) >= {
            "in_force_from",
            "in_force_until",
            "first_seen",
            "last_seen",
            "rule",
        }


@needs_corpus
@pytest.mark.corpus
def test_corpus_every_capture_day_answers_a_version_seen_by_then(corpus_store: Path) -> None:
    from policydiff.store.gitstore import GitStore

    with GitStore(corpus_store) as store:
        for policy in store.policies():
            history = store.versions(policy)
            days = {v.captured_at.date() + timedelta(days=d) for v in history for d in (-1, 0, 1)}
            days |= {v.effective_date for v in history if v.effective_date is not None}
            for on in sorted(days):
                answer = in_force(history, on)
                if answer is None:
                    continue
                assert answer.version.captured_at.date() <= on or answer.flagged, (policy, on)


@needs_corpus
@pytest.mark.corpus
def test_compare_two_dates_of_one_version_says_so(corpus_store: Path) -> None:
    store = str(corpus_store)
    apart = run_cli(
        ["--store", store, "compare", "chatgpt/privacy-policy", "2026-07-09", "2026-07-20"]
    )
    assert "chatgpt/privacy-policy@5" in apart.stdout
    assert "chatgpt/privacy-policy@6" in apart.stdout
    same = run_cli(
        ["--store", store, "compare", "chatgpt/privacy-policy", "2026-07-21", "2026-07-22"]
    )
    assert same.exit_code == 0, same.stderr
    assert "2026-07-21 and 2026-07-22 both resolve to version 6" in same.stderr


def test_show_at_text_states_the_rule_and_caveats(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    assert run_cli(["--store", store, "init"]).exit_code == 0
    snapshot = tmp_path / "p.md"
    snapshot.write_text(
        "---\ncaptured: 2017-04-22T08:22:16Z\neffective: 2016-02-08\n---\n# P\n\nText.\n"
    )
    added = run_cli(["--store", store, "add", str(snapshot), "--policy", "acme/privacy"])
    assert added.exit_code == 0, added.stderr
    shown = run_cli(["--store", store, "show", "acme/privacy", "--at", "2016-06-01"])
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout == "# P\n\nText.\n"
    assert "Rule: the newest version captured on or before the date" in shown.stderr
    assert "Warning: version 1 is in force from its effective date 2016-02-08" in shown.stderr
