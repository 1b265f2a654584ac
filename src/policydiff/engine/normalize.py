"""Cosmetic normalisation of policy text and heading titles: what counts as the same words."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

# Characters that vary between captures of the same words: typographic quotes, dash
# variants, invisible characters. NFKC already maps no-break spaces to spaces. Applied
# with str.replace guarded by `in`: much faster than str.translate with a dict on long text.
_FOLDS = (
    ("\u2018", "'"),
    ("\u2019", "'"),
    ("\u201a", "'"),
    ("\u201b", "'"),
    ("\u2032", "'"),
    ("\u00b4", "'"),
    ("\u201c", '"'),
    ("\u201d", '"'),
    ("\u201e", '"'),
    ("\u201f", '"'),
    ("\u2033", '"'),
    ("\u00ab", '"'),
    ("\u00bb", '"'),
    ("\u2010", "-"),
    ("\u2011", "-"),
    ("\u2012", "-"),
    ("\u2013", "-"),
    ("\u2014", "-"),
    ("\u2015", "-"),
    ("\u2212", "-"),
    ("\u00a0", " "),
    ("\u202f", " "),
    ("\u200b", ""),
    ("\u200c", ""),
    ("\u200d", ""),
    ("\u200e", ""),
    ("\u200f", ""),
    ("\u2060", ""),
    ("\u2061", ""),
    ("\u2062", ""),
    ("\u2063", ""),
    ("\u2064", ""),
    ("\u180e", ""),
    ("\ufeff", ""),
    ("\u00ad", ""),
)
# Characters that show nothing (zero-width spaces and joiners, word joiner, invisible
# operators, direction marks, byte order mark, soft hyphen): a change made only of them
# reads the same before and after, so it is described in words.
INVISIBLE = frozenset(char for char, replacement in _FOLDS if not replacement)

# Markdown that changes how text looks but not what it says. Links keep their text
# (a link added or removed around the same words is markup), HTML tags become spaces
# (`<br>` in table cells), escapes keep the escaped character.
_LINK = re.compile(r"!?\[([^\]\n]*)\]\(([^)\n]*)\)")
_REF_LINK = re.compile(r"!?\[([^\]\n]*)\]\[[^\]\n]*\]")
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>\n]*>")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_LINE_MARKUP = re.compile(
    r"^[ \t]*(?:>[ \t]*)*(?:#{1,6}(?=[ \t]|$)|[-*+](?=[ \t])|\d{1,9}[.)](?=[ \t]|$))?",
    re.MULTILINE,
)
# Emphasis, table borders, strikethrough and heading hashes never carry words; they go
# with str.replace, much faster than a regex pass. Emphasis and strikethrough marks hug
# the words they decorate, so they are removed ("(**Feedback**)" reads "(Feedback)");
# table borders and hashes stand between words, so they become spaces. Runs of rule
# characters (setext underlines, `---` rules, table delimiter rows) go by regex, only if
# present.
_MARKUP_CHARS = (("*", ""), ("_", ""), ("~", ""), ("|", " "), ("#", " "))
# Only a line holding nothing but rule characters (and table pipes) is markup: "a -- b"
# in prose is a dash, and so is "* --" (a list item). The regex finds runs of them that
# end a line (it starts with a character class, which the regex engine scans for
# quickly); _rule_line keeps those that do not also start it. Found before list markers
# are stripped, so that a marker is never taken for an empty line start.
_RULE_RUN = re.compile(r"[-=:|][-=:| \t\r]*$", re.MULTILINE)
_RULE_PAIRS = ("--", "==", "::", "-:", ":-", "=:", ":=", "-=", "=-")
# Dash punctuation is one separator however it is typed: an em dash or horizontal bar,
# a run of hyphens ("--", "---"), or a hyphen with a space or line edge beside it. A
# hyphen inside a word ("e-mail", "2019-2020", an en dash in "10\u201320") stays as it is.
# Typographic dashes stand in for hyphens only after markup is stripped: an em or en
# dash at a line start is not a list marker, nor one alone on a line a rule.
_EM_DASHES = ("\u2014", "\u2015")
_EN_DASHES = ("\u2012", "\u2013", "\u2212")
_EM_STAND_IN = "\ue000"
_EN_STAND_IN = "\ue001"
_DASH = re.compile(r"-(?:-+|(?<!\w-)|(?!\w))")  # starts with a literal: a fast scan

_LABEL_PATTERNS = (
    # Words and section signs: Section 3, Article IV, § 5, Part 2.1, Clause 7(b).
    re.compile(
        r"^(?P<label>(?:(?i:section|article|part|chapter|clause|schedule|annex|appendix)\s+|§+\s*)"
        r"(?:\d{1,3}(?:\.\d{1,3})*[a-z]?|[IVXLCDM]{1,6}|[A-Z])(?:\([a-z0-9]{1,3}\))?\.?)"
        r"(?:\s*[-\u2013\u2014:.)]\s*|\s+|$)"
    ),
    # Dotted numbers: 1. / 1.2 / 1.2.3. / 12)
    re.compile(r"^(?P<label>\d{1,3}(?:\.\d{1,3})*[.)]?)(?:\s*[-\u2013\u2014:]\s*|\s+|$)"),
    # Letters, roman or arabic numbers in parentheses: (a) / (iv) / (12) / a)
    re.compile(r"^(?P<label>\(?(?:[a-z]|[ivxlcdm]{1,6}|\d{1,3})\))\s+", re.IGNORECASE),
    # Roman numeral or capital letter with a full stop: IV. Title / A. Title
    re.compile(r"^(?P<label>(?:[IVXLCDM]{1,6}|[A-Z])\.)\s+"),
)


def fold_chars(text: str) -> str:
    """Fold Unicode compatibility forms, quotes, dashes and invisible characters."""
    if "`" in text:
        text = text.replace("`", "'")
    if text.isascii():
        # The common case: NFKC and the folds below are no-ops on ASCII.
        return text
    text = unicodedata.normalize("NFKC", text)
    for char, replacement in _FOLDS:
        if char in text:
            text = text.replace(char, replacement)
    return text


def strip_markup(text: str) -> str:
    """Remove markdown and HTML markup, keeping the words it decorates."""
    # The `in` guards skip whole regex passes on the many texts without that markup.
    if "](" in text:
        text = _LINK.sub(r"\1", text)
    if "][" in text:
        text = _REF_LINK.sub(r"\1", text)
    if "<" in text:
        text = _HTML_TAG.sub(" ", text)
    if "\\" in text:
        text = _ESCAPE.sub(r"\1", text)
    if any(pair in text for pair in _RULE_PAIRS):
        text = _RULE_RUN.sub(_rule_line, text)
    text = _LINE_MARKUP.sub("", text)
    for char, replacement in _MARKUP_CHARS:
        if char in text:
            text = text.replace(char, replacement)
    return text


def _rule_line(match: re.Match[str]) -> str:
    """Blank a rule line, keep anything else as it is.

    A rule line holds rule characters only (two of them side by side), after nothing but
    spaces or quote markers.
    """
    text, start, found = match.string, match.start(), match.group(0)
    line_start = text.rfind("\n", 0, start) + 1
    rule = not text[line_start:start].strip(" \t>") and any(p in found for p in _RULE_PAIRS)
    return " " if rule else found


def normalize_text(text: str) -> str:
    """Return the text reduced to its words: two texts are cosmetic variants iff equal here."""
    dashes = not text.isascii()
    if dashes:
        for group, stand_in in ((_EM_DASHES, _EM_STAND_IN), (_EN_DASHES, _EN_STAND_IN)):
            for dash in group:
                if dash in text:
                    text = text.replace(dash, stand_in)
    text = strip_markup(fold_chars(text))
    if dashes:
        text = text.replace(_EM_STAND_IN, "--").replace(_EN_STAND_IN, "-")
    if "-" in text:
        text = _DASH.sub(" - ", text)
    return " ".join(text.split())


def _without_invisible(text: str) -> str:
    """Return text with the invisible characters removed."""
    if text.isascii():
        return text
    return "".join(char for char in text if char not in INVISIBLE)


def describe_invisible(old: str, new: str) -> str | None:
    """Say what changed when old and new differ only by invisible characters, else None.

    "invisible character U+2060 removed", "invisible characters U+200B, U+00AD added",
    "invisible character U+200B removed, U+2060 added".
    """
    if old == new or _without_invisible(old) != _without_invisible(new):
        return None
    removed = Counter(c for c in old if c in INVISIBLE)
    added = Counter(c for c in new if c in INVISIBLE)
    removed, added = removed - added, added - removed
    parts = [
        ", ".join(f"U+{ord(c):04X}" for c in chars) + f" {verb}"
        for chars, verb in ((removed, "removed"), (added, "added"))
        if chars
    ]
    if not parts:
        return None  # the same invisible characters, moved within the text
    plural = "s" if len(removed) + len(added) > 1 else ""
    return f"invisible character{plural} " + ", ".join(parts)


def describe_link_change(old: str, new: str) -> str | None:
    """Say "link target changed: a → b" when old and new hold links with the same text.

    Only when the texts differ by link targets alone (the links' texts, and everything
    around the links, equal after normalisation); None otherwise.
    """
    if "](" not in old or "](" not in new:
        return None
    old_links, new_links = _LINK.findall(old), _LINK.findall(new)
    if len(old_links) != len(new_links) or normalize_text(old) != normalize_text(new):
        return None
    changed = [
        f"{before} \u2192 {after}"
        for (old_text, before), (new_text, after) in zip(old_links, new_links, strict=True)
        if before != after and normalize_text(old_text) == normalize_text(new_text)
    ]
    return "link target changed: " + "; ".join(changed) if changed else None


def split_label(title: str) -> tuple[str | None, str]:
    """Split a heading's plain text into its numbering label and the rest, as written."""
    stripped = title.strip()
    for pattern in _LABEL_PATTERNS:
        match = pattern.match(stripped)
        if match is None:
            continue
        rest = stripped[match.end() :].strip()
        if not rest and pattern is not _LABEL_PATTERNS[0]:
            # A bare number such as "2024" is a title, not a label on nothing.
            continue
        return match.group("label"), rest
    return None, stripped


def title_key(title: str) -> str:
    """Casefolded, cosmetic-normalised title used to match headings across versions."""
    return normalize_text(title).casefold().strip(" :.;,-")


def normalize_title(title: str) -> tuple[str | None, str]:
    """Return (numbering label or None, normalised title key) for a heading's plain text."""
    label, rest = split_label(fold_chars(title))
    return label, title_key(rest)


def _line_start(text: str, index: int) -> int:
    """Offset of the start of the line holding text[index]."""
    return text.rfind("\n", 0, index) + 1


def same_words(old: str, new: str) -> bool:
    """Whether two texts normalise equal, normalising only the lines where they differ.

    Normalisation is line-local (every markup rule stops at a line break), so identical
    whole lines before and after the differing stretch cannot change the verdict.
    """
    if old == new:
        return True
    limit = min(len(old), len(new))
    low, high = 0, limit
    while low < high:  # longest common prefix by halving, each probe a C-level compare
        mid = (low + high + 1) // 2
        if old[:mid] == new[:mid]:
            low = mid
        else:
            high = mid - 1
    start = _line_start(old, low)
    low, high = 0, limit - start
    while low < high:  # longest common suffix not reaching into the prefix
        mid = (low + high + 1) // 2
        if old[len(old) - mid :] == new[len(new) - mid :]:
            low = mid
        else:
            high = mid - 1
    # Extend the suffix back to a line start so that it holds whole lines only.
    tail = old[len(old) - low :]
    cut = tail.find("\n") + 1 if low else 0
    if cut == 0 and low:
        cut = low  # no line break in the common tail: it cannot be split off safely
    end_old, end_new = len(old) - low + cut, len(new) - low + cut
    return _same_normalised(old[start:end_old], new[start:end_new])


def _same_normalised(old: str, new: str) -> bool:
    """Whether normalize_text(old) == normalize_text(new), normalising only lines needed.

    Normalisation is line-local and collapses spacing, so a text's words are its lines'
    words one after another. The lines are read in step on both sides: a line equal on
    both sides while no words are pending is skipped unread, and the first word that
    differs ends the walk (the stretches start at a differing line: usually at once).
    """
    i = j = 0
    a: list[str] = []
    b: list[str] = []
    while True:
        while not a and not b and i < len(old) and j < len(new):
            end_a, end_b = _line_end(old, i), _line_end(new, j)
            if old[i:end_a] != new[j:end_b]:
                break
            i, j = end_a, end_b
        while not a and i < len(old):
            end_a = _line_end(old, i)
            a = normalize_text(old[i:end_a]).split()
            i = end_a
        while not b and j < len(new):
            end_b = _line_end(new, j)
            b = normalize_text(new[j:end_b]).split()
            j = end_b
        if not a or not b:
            return not a and not b
        common = min(len(a), len(b))
        if a[:common] != b[:common]:
            return False
        a, b = a[common:], b[common:]


def _line_end(text: str, start: int) -> int:
    """Offset just past the line break ending the line at start (the text's end if none)."""
    end = text.find("\n", start)
    return len(text) if end == -1 else end + 1
