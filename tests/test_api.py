"""The public Python API: docs/api.md runs as written, agrees with the CLI, and types check."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

import policydiff
from helpers import REPO, SEED, run_cli
from policydiff.engine.compare import compare_texts as engine_compare_texts

API_DOC = REPO / "docs" / "api.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def test_every_python_block_of_the_api_doc_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The blocks run in order in one namespace, in an empty directory, as the page says."""
    blocks = PYTHON_BLOCK.findall(API_DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for number, block in enumerate(blocks, start=1):
        code = compile(block, f"docs/api.md python block {number}", "exec")
        exec(code, namespace)
    printed = capsys.readouterr().out
    # The outputs the page states in comments are the ones printed.
    for expected in (
        "3 1 True",
        "' with our advertising partners.\\n\\n' 'never .\\n'",
        "1 1",
        "acme/privacy 2024-01-10 2024-01-01",
        "['recorded', 'recorded']",
        "['acme/privacy']",
        "1 ()",
    ):
        assert expected in printed, expected
    assert "did you mean acme/privacy?" in printed


def test_every_public_name_has_a_section_or_mention_in_the_doc() -> None:
    text = API_DOC.read_text(encoding="utf-8")
    for name in policydiff.__all__:
        if name != "__version__":
            assert f"`{name}" in text, name


def test_help_lists_the_api() -> None:
    """``help(policydiff)`` in a fresh interpreter shows every public name."""
    run = subprocess.run(
        [sys.executable, "-c", "import policydiff; help(policydiff)"],
        capture_output=True,
        text=True,
        check=True,
        env={"PAGER": "cat", "PATH": "/usr/bin:/bin", "TERM": "dumb"},
    )
    for name in policydiff.__all__:
        assert name in run.stdout or name == "__version__", name
    assert f"VERSION\n    {policydiff.__version__}" in run.stdout
    # The functions are shown with their signatures, not only named.
    assert "compare_files(old: 'StrPath', new: 'StrPath'" in run.stdout


def test_import_loads_no_api_module_until_a_name_is_used() -> None:
    code = (
        "import sys, policydiff\n"
        "before = sorted(m for m in sys.modules if m.startswith('policydiff'))\n"
        "policydiff.compare_texts\n"
        "print(before, 'policydiff.engine.compare' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "['policydiff'] True"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = policydiff.nope  # type: ignore[attr-defined]
    assert "Store" in dir(policydiff)


def test_compare_files_agrees_with_the_cli_json_for_files_with_front_matter(
    tmp_path: Path,
) -> None:
    """Front matter and a Wayback header are metadata in both: same summary, same sections."""
    body = SEED.read_text(encoding="utf-8")
    old = tmp_path / "old.md"
    new = tmp_path / "new.md"
    old.write_text(body, encoding="utf-8")  # a Wayback header
    changed = body.replace("may keep a record", "will keep a record", 1)
    assert changed != body
    new.write_text(
        "---\npolicy: koozali/privacy-policy\ncaptured: 2024-05-01T10:00:00Z\n"
        "source: https://koozali.example/privacy\n---\n"
        + changed.split("\n\n", 1)[1]
        + "\n## Contact\n\nWrite to us.\n",
        encoding="utf-8",
    )
    result = run_cli(["compare", str(old), str(new), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    diff = policydiff.compare_files(old, new)
    assert report["summary"] == {
        key: value
        for key, value in dataclasses.asdict(diff.summary).items()
        if key in report["summary"]
    }
    assert set(report["summary"]) <= {field.name for field in dataclasses.fields(diff.summary)}
    statuses = [section["status"] for section in report["sections"]]
    assert statuses == [section.status.value for section in diff.sections]
    assert diff.summary.added == 1
    # compare_texts reads the same contents the same way.
    same = policydiff.compare_texts(
        old.read_text(encoding="utf-8"), new.read_text(encoding="utf-8")
    )
    assert same.summary == diff.summary
    # The raw engine, given the files' bytes, counts the metadata as policy text: the
    # difference the API exists to remove.
    raw = engine_compare_texts(old.read_text(encoding="utf-8"), new.read_text(encoding="utf-8"))
    assert raw.summary != diff.summary


def test_compare_texts_refuses_what_compare_refuses() -> None:
    with pytest.raises(policydiff.PolicydiffError, match="empty"):
        policydiff.compare_texts("", "# Policy\n")
    with pytest.raises(policydiff.PolicydiffError, match="binary"):
        policydiff.compare_texts("a\0b", "# Policy\n")


def test_compare_texts_reads_html_as_the_characters_given() -> None:
    """A page's declared charset describes bytes; the API is given characters already."""
    page = (
        '<html><head><meta charset="iso-8859-1"></head><body><main><h1>Données</h1>'
        "<p>Nous gardons vos données {} jours.</p></main></body></html>"
    )
    diff = policydiff.compare_texts(page.format(30), page.format(90), html=True)
    assert diff.sections[0].new_path == ("Données",)
    assert "données 90" in diff.new_text
    assert (diff.summary.words_inserted, diff.summary.words_deleted) == (1, 1)


def test_compare_files_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(policydiff.PolicydiffError, match=r"cannot read .*missing\.md"):
        policydiff.compare_files(tmp_path / "missing.md", tmp_path / "missing.md")
    big = tmp_path / "big.md"
    big.write_text("# Policy\n\n" + "word " * 100, encoding="utf-8")
    with pytest.raises(policydiff.PolicydiffError, match=r"big\.md"):
        policydiff.compare_files(big, big, max_bytes=100)


def test_store_facade_matches_the_store(tmp_path: Path) -> None:
    first = tmp_path / "2024-01-10.md"
    first.write_text("# Policy\n\nValid from 1 January 2024.\n\nWe collect data.\n", "utf-8")
    second = tmp_path / "2024-06-02.md"
    second.write_text("# Policy\n\nValid from 1 June 2024.\n\nWe sell data.\n", "utf-8")
    with policydiff.Store.init(tmp_path / "archive") as store:
        results = store.record(
            [policydiff.read_snapshot(p, policy="acme/privacy") for p in (second, first)]
        )
        # Recorded in capture order, whatever order they came in.
        assert [r.version.number for r in results if r.version] == [1, 2]
        assert store.version("acme/privacy", "1").captured_at.date().isoformat() == "2024-01-10"
        assert store.version("acme/privacy", "2024-03-01").number == 1
        assert store.version("acme/privacy", "previous").number == 1
        assert store.in_force_on("acme/privacy", date(2024, 7, 1)).version.number == 2
        assert "sell" in store.text(store.version("acme/privacy"))
        assert store.compare("acme/privacy", "1", "2").summary.modified >= 1
        with pytest.raises(policydiff.PolicydiffError, match="no version 3"):
            store.version("acme/privacy", "3")
        with pytest.raises(policydiff.PolicydiffError, match="invalid version ref"):
            store.version("acme/privacy", "--upload-pack=x")
        with pytest.raises(policydiff.PolicydiffError, match="no version of acme/privacy"):
            store.in_force_on("acme/privacy", date(2023, 1, 1))
        assert repr(store).startswith("Store(")
    with pytest.raises(policydiff.PolicydiffError, match="no store"):
        policydiff.Store(tmp_path / "nowhere")


EXAMPLE = """\
from datetime import date

import policydiff


def changed_sections(old: str, new: str) -> list[str]:
    diff: policydiff.DocumentDiff = policydiff.compare_files(old, new)
    return [
        " > ".join(section.new_path or section.old_path or ())
        for section in diff.sections
        if section.status is not policydiff.SectionStatus.UNCHANGED
    ]


def latest_text(path: str, policy: str) -> str:
    with policydiff.Store(path) as store:
        version: policydiff.Version = store.version(policy)
        answer: policydiff.InForce = store.in_force_on(policy, date(2024, 1, 1))
        print(answer.caveats, store.policies(), len(store.versions(policy)))
        return store.text(version)


def record(path: str, file: str) -> list[policydiff.RecordResult]:
    snapshot: policydiff.Snapshot = policydiff.read_snapshot(file, policy="acme/privacy")
    with policydiff.Store(path) as store:
        return store.record([snapshot])


summary: policydiff.Summary = policydiff.compare_texts("# A\\n", "# B\\n").summary
print(summary.substantive, policydiff.__version__)
"""

# Uses a name wrongly: mypy must see the real types (not Any) to catch it.
WRONG = """\
import policydiff

count: int = policydiff.compare_files("a.md", "b.md")
"""


def test_mypy_strict_accepts_an_example_using_the_api(tmp_path: Path) -> None:
    (tmp_path / "example.py").write_text(EXAMPLE, encoding="utf-8")
    (tmp_path / "wrong.py").write_text(WRONG, encoding="utf-8")
    run = subprocess.run(
        [
            sys.executable, "-m", "mypy", "--strict", "--no-incremental",
            "--cache-dir", str(tmp_path / "cache"), "example.py", "wrong.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, run.stdout
    assert errors[0].startswith("wrong.py:3:")
    assert '"DocumentDiff", variable has type "int"' in errors[0]
