"""Golden files: every format for each case under tests/golden/compare/, through the real CLI.

Each case holds ``before.md`` and ``after.md`` (the 2016 seed and an edited copy) and one
``expected.*`` file per format. ``pytest --update-golden`` rewrites the expected files from
the current output; review the change with ``git diff tests/golden`` before committing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import run_cli
from policydiff.cli.resolve import read_file

GOLDEN = Path(__file__).parent / "golden" / "compare"
CASES = sorted(path.name for path in GOLDEN.iterdir() if (path / "before.md").is_file())
FORMATS = {
    "term": "expected.term.txt",
    "markdown": "expected.md",
    "html": "expected.html",
    "json": "expected.json",
    "unified": "expected.diff",
}
# What each case is about, checked on the JSON summary (so a regenerated golden file
# cannot silently change the verdict).
VERDICTS = {
    "sentence_change": {"modified": 2, "substantive": True, "effective_changed": True},
    # A rename alone: reported, not counted as words changed, not substantive.
    "renamed_heading": {"renamed": 1, "modified": 0, "words_inserted": 0, "substantive": False},
    "moved_section": {"moved": 1, "added": 0, "removed": 0, "substantive": False},
    "split_section": {"added": 1, "moved_blocks": 1, "substantive": True},
    "cosmetic_only": {"modified": 0, "words_inserted": 0, "substantive": False},
    "hostile_text": {"added": 2, "substantive": True},
}


def compare(case: str, *args: str) -> tuple[int, str, str]:
    """Run ``compare before.md after.md ARGS`` in a case directory, with no store at all."""
    result = run_cli(
        ["--store", str(GOLDEN / case / "no-store"), "compare", "before.md", "after.md", *args]
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def no_columns_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)


def test_every_case_has_a_verdict() -> None:
    assert sorted(VERDICTS) == CASES


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, fmt: str, monkeypatch: pytest.MonkeyPatch, update_golden: bool) -> None:
    monkeypatch.chdir(GOLDEN / case)
    code, out, err = compare(case, "--format", fmt)
    assert code == 0, err
    assert err == ""
    expected = GOLDEN / case / FORMATS[fmt]
    if update_golden:
        expected.write_text(out, encoding="utf-8", newline="\n")
        return
    assert expected.is_file(), f"missing {expected}: run pytest --update-golden"
    assert out == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
def test_verdicts(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN / case)
    _, out, _ = compare(case, "--format", "json")
    doc = json.loads(out)
    facts = {**doc["summary"], "effective_changed": doc["effective"]["changed"]}
    for key, value in VERDICTS[case].items():
        assert facts[key] == value, key
    code, _, _ = compare(case, "--exit-code", "--format", "json")
    assert code == (1 if doc["summary"]["substantive"] else 0)


@pytest.mark.parametrize("case", CASES)
def test_json_rebuilds_both_texts(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN / case)
    _, out, _ = compare(case, "--format", "json")
    sections = json.loads(out)["sections"]

    def rebuild(side: str, skip: str) -> str:
        present = [s for s in sections if s[f"{side}_index"] is not None]
        ordered = sorted(present, key=lambda s: s[f"{side}_index"])
        return "".join(d["text"] for s in ordered for d in s["diff"] if d["op"] != skip)

    assert rebuild("old", "insert") == read_file(Path("before.md"))[1]
    assert rebuild("new", "delete") == read_file(Path("after.md"))[1]
