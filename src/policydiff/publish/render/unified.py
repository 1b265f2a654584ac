"""The unified format: a plain line-based unified diff of the whole texts, for other tools."""

from __future__ import annotations

import difflib
import re

from policydiff.engine.report import CompareReport, Side, View, escape_controls

CONTEXT_LINES = 3
NO_NEWLINE = "\\ No newline at end of file\n"

# Lines end at "\n" only: str.splitlines would also cut at form feeds and U+2028, which
# patch(1) sees as ordinary characters.
_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")
_UNSAFE_LABEL = re.compile(r"[\x00-\x1f\x7f]")


def render(report: CompareReport, view: View) -> str:
    """Return a unified diff of the old and new texts (empty when they are equal).

    Section filters do not apply: the diff always covers both whole texts. Control
    characters in the texts (terminal escape sequences, carriage returns, bidi
    overrides; not tabs or line ends) are shown as escapes, as the terminal format shows
    them: policy text read on a terminal must never drive it. A diff of texts holding
    them no longer applies exactly with patch(1); ``--format json`` keeps every byte.
    """
    del view
    old = _LINE.findall(report.diff.old_text)
    new = _LINE.findall(report.diff.new_text)
    lines = difflib.unified_diff(
        old, new, fromfile=_label(report.old), tofile=_label(report.new), n=CONTEXT_LINES
    )
    # As GNU diff marks it, so that patch(1) restores a missing final newline exactly.
    out = [line if line.endswith("\n") else line + "\n" + NO_NEWLINE for line in lines]
    return escape_controls("".join(out))


def _label(side: Side) -> str:
    """Return a side's label safe for a one-line ``---``/``+++`` header."""
    return _UNSAFE_LABEL.sub("?", side.label)
