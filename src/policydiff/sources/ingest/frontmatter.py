"""Split YAML front matter (policy id, dates, URLs, flags) off the top of a snapshot's text."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from policydiff.core.errors import InputError
from policydiff.core.model import is_one_line

FRONT_MATTER_KEYS = frozenset(
    {"policy", "captured", "effective", "source", "archive", "title", "illustrative", "technical"}
)
_BOOL_KEYS = frozenset({"illustrative", "technical"})

_OPEN = re.compile(r"---[ \t]*\n")
_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.MULTILINE)
_BLANK_LINES = re.compile(r"(?:[ \t]*\n)*")
# A first line that only makes sense as front matter: a known (lower-case) key and a colon.
_KNOWN_KEY_FIRST_LINE = re.compile(
    rf"(?:[ \t]*\n)*(?:{'|'.join(sorted(FRONT_MATTER_KEYS))})[ \t]*:(?:[ \t]|\n|\Z)"
)

if TYPE_CHECKING:
    import yaml

FrontMatter = dict[str, str | bool]


@functools.cache
def _loader() -> type[yaml.SafeLoader]:
    """Return the safe loader that keeps dates as strings (one parser for every date we accept).

    Built on first use: PyYAML costs ~15 ms to import and most files have no front matter.
    """
    import yaml

    class _Loader(yaml.SafeLoader):
        """Safe loader without the timestamp resolver."""

    # Copy before editing: the resolver table is shared with SafeLoader through the class.
    _Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return _Loader


def _validated(data: dict[object, object]) -> FrontMatter:
    """Check keys and value types; numbers become strings (``captured: 20170422082216``)."""
    result: FrontMatter = {}
    for key, value in data.items():
        if not isinstance(key, str) or key not in FRONT_MATTER_KEYS:
            known = ", ".join(sorted(FRONT_MATTER_KEYS))
            raise InputError(f"unknown front matter key {key!r}; known keys: {known}")
        if key in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise InputError(f"front matter {key!r} must be true or false, not {value!r:.80}")
            result[key] = value
        elif isinstance(value, str | int) and not isinstance(value, bool):
            text = str(value).strip()
            # The same line rule as the store's trailers: no U+2028, NEL, VT... either.
            if not text or not is_one_line(text):
                raise InputError(f"front matter {key!r} must be a non-empty single line")
            result[key] = text
        else:
            raise InputError(f"front matter {key!r} must be a string, not {value!r:.80}")
    return result


def split_front_matter(text: str) -> tuple[FrontMatter, str]:
    """Return ``(front matter, body)``; ``({}, text)`` when the text has no front matter.

    Front matter is a ``---`` line as the very first line, YAML, then a closing ``---`` or
    ``...`` line. The body starts after the closing line and any blank lines that follow it.

    Markdown also starts documents with ``---`` (a thematic break) and underlines setext
    headings with it, so the block only counts when it parses to a mapping holding at least
    one known key. Broken or unclosed YAML is an error only when its first line starts with a
    known key and a colon; otherwise the block is left alone as markdown.
    """
    opening = _OPEN.match(text)
    if opening is None:
        return {}, text
    closing = _CLOSE.search(text, opening.end())
    if closing is None:
        if _KNOWN_KEY_FIRST_LINE.match(text, opening.end()):
            raise InputError("front matter has no closing '---' line")
        return {}, text
    block = text[opening.end() : closing.start()]
    import yaml  # here, not at the top: only files that open with "---" need it

    try:
        data = yaml.load(block, Loader=_loader())  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as err:
        if _KNOWN_KEY_FIRST_LINE.match(block) is None:
            return {}, text
        raise InputError(f"invalid YAML front matter{_describe(err)}") from None
    except RecursionError:
        # PyYAML builds nested collections recursively: thousands of "[" exhaust the stack.
        if _KNOWN_KEY_FIRST_LINE.match(block) is None:
            return {}, text
        raise InputError("invalid YAML front matter: nested too deeply") from None
    if not isinstance(data, dict) or not FRONT_MATTER_KEYS.intersection(
        key for key in data if isinstance(key, str)
    ):
        return {}, text
    body_start = _BLANK_LINES.match(text, closing.end())
    # The pattern can match empty, so there is always a match; the guard is for the type checker.
    return _validated(data), text[body_start.end() if body_start else closing.end() :]


def _describe(err: yaml.YAMLError) -> str:
    """Return `` at line N: problem`` for a YAML error, counting lines in the whole file."""
    import yaml

    if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
        # +2: marks count from 0 and the block starts below the opening "---" line.
        return f" at line {err.problem_mark.line + 2}: {err.problem}"
    return f": {err}".splitlines()[0]
