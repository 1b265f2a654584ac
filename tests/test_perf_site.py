"""`site` speed: control escapes checked before translating, redlines' diffs remembered."""

from __future__ import annotations

import pytest

from policydiff.report import _CONTROL_ESCAPES, escape_controls

SAMPLES = [
    "",
    "plain text, nothing to escape",
    "caf\u00e9 \u2014 \u201cquoted\u201d \U0001f512",
    "tab\tand newline\n stay",
    "escape \x1b[31m red",
    "carriage\rreturn",
    "bidi \u202eoverride\u202c and \u2066isolate\u2069",
    "C1 \x85 and \x9b and DEL \x7f",
]


@pytest.mark.parametrize("text", SAMPLES + [chr(code) for code in _CONTROL_ESCAPES])
def test_escape_controls_same_as_translating(text: str) -> None:
    """The pre-check changes nothing: every control is still escaped, other text kept."""
    assert escape_controls(text) == text.translate(_CONTROL_ESCAPES)
    assert escape_controls(f"a{text}b") == f"a{text}b".translate(_CONTROL_ESCAPES)
