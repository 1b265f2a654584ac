"""The unified renderer: a plain unified diff of the whole texts, as patch(1) expects."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policydiff.core.diff_model import SectionStatus
from policydiff.engine.compare import compare_texts
from policydiff.engine.report import CompareReport, Side, View
from policydiff.publish.render.unified import render
from report_factory import EQ, document, report, sample, section, seg


def make(old: str, new: str, old_label: str = "a/policy.md", new_label: str = "b/policy.md") -> str:
    diff = compare_texts(old, new)
    return render(CompareReport(Side(old_label, "0"), Side(new_label, "1"), diff), View())


def test_headers_and_hunks() -> None:
    out = render(sample(), View())
    assert out.startswith("--- old.md\n+++ new.md\n@@ ")
    assert "-We collect your name and address.\n+We collect your name, email and address.\n" in out
    assert "+## 3. Cookies\n" in out
    assert "-These terms are gone.\n" in out


def test_identical_texts_give_nothing() -> None:
    same = report(document(section(SectionStatus.UNCHANGED, seg(EQ, "# A\n\nText.\n"))))
    assert render(same, View()) == ""


def test_missing_final_newline_is_marked() -> None:
    out = make("one\ntwo", "one\nthree")
    assert out.endswith(
        "-two\n\\ No newline at end of file\n+three\n\\ No newline at end of file\n"
    )


def test_only_newlines_end_lines() -> None:
    out = make("a\x0cb\u2028c\n", "a\x0cb\u2028d\n")
    # The form feed is no line end (it is shown as an escape, as every control is).
    assert out.split("\n")[-4:] == ["@@ -1 +1 @@", "-a\\x0cb\u2028c", "+a\\x0cb\u2028d", ""]


def test_labels_cannot_forge_header_lines() -> None:
    out = make("a\n", "b\n", old_label="x\n+++ evil", new_label="y\r")
    assert out.split("\n")[:2] == ["--- x?+++ evil", "+++ y?"]


_LINES = st.lists(
    st.sampled_from(["# Title", "", "Alpha.", "Beta", "gamma delta", "  * item"]), max_size=12
)


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_LINES, _LINES, st.booleans())
def test_patch_turns_old_into_new(
    tmp_path: Path, old: list[str], new: list[str], final: bool
) -> None:
    old_text = "\n".join(old) + ("\n" if final else "")
    new_text = "\n".join(new) + ("\n" if not final else "")
    if not old_text.strip() or not new_text.strip():
        return
    target = tmp_path / "policy.md"
    target.write_text(old_text, encoding="utf-8")
    diff = make(old_text, new_text)
    if diff:
        subprocess.run(
            ["patch", "--quiet", str(target)], input=diff.encode(), check=True, capture_output=True
        )
    assert target.read_text(encoding="utf-8") == new_text
