"""The committed settings file ``policydiff.toml``: parsing, validation and editing.

The file sits at the store root and travels with the store (committed, pushed, cloned).
It is read from ``main`` as untrusted input: bounded in size, TOML only (no code runs),
every key known and every value type-checked with the validators ``config set`` uses.
Its settings map to the same dotted keys as ``config`` shows::

    [announce]                      announce.to, announce.from, announce.reply_to, ...
    to = "list@example.org"
    [fetch]                         fetch.allow_private (a boolean)
    allow_private = false
    [policy."acme/privacy-policy"]  policy.<id>.title, .url, .select, .remove, ...
    url = "https://acme.example/privacy"   (or a list of URLs)

Precedence, highest first: a command-line flag, ``git config policydiff.*`` in the
clone, the clone's legacy ``.git/policydiff/config.json``, this file, the defaults.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from typing import Any

from policydiff.core.config import key_spec
from policydiff.core.errors import UsageError

SETTINGS_FILE = "policydiff.toml"
MAX_SETTINGS_BYTES = 256 * 1024
SETTINGS_SUBJECT = "settings: "
SOURCE_FILE = SETTINGS_FILE
SOURCE_GIT = "git config"
SOURCE_LOCAL = "local file .git/policydiff/config.json"

# TOML tables and the keys each holds; "policy" holds one table per policy id.
_STORE_TABLES: dict[str, tuple[str, ...]] = {
    "announce": (
        "to", "from", "reply_to", "list_name", "footer", "url", "diff_url", "site_url",
    ),
    "fetch": ("allow_private",),
}  # fmt: skip
POLICY_KEYS = (
    "title", "organisation", "url", "select", "remove", "type", "language", "render", "combine",
)  # fmt: skip
_HEADER = re.compile(r"\s*\[(?!\[)(?P<path>[^\]#]+)\]\s*(?:#.*)?")
_AT_LINE = re.compile(r"\(at line (\d+), column \d+\)")


class SettingsError(UsageError):
    """The settings file is not one policydiff can use (says which line and key)."""


def _line_of(text: str, table: tuple[str, ...], key: str) -> int | None:
    """Return the line number of ``key`` in ``table`` (None when it cannot be told)."""
    current: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.fullmatch(line)
        if header is not None:
            current = _table_path(header["path"]) or ("?",)
            continue
        if current != table:
            continue
        name = line.split("=", 1)[0].strip() if "=" in line else ""
        if name in {key, json.dumps(key), f"'{key}'"}:
            return number
    return None


def _table_path(header: str) -> tuple[str, ...] | None:
    """Return the key path a ``[table]`` header names (None if it does not parse)."""
    try:
        node: Any = tomllib.loads(f"[{header}]\n")
    except tomllib.TOMLDecodeError:
        return None
    path: list[str] = []
    while isinstance(node, dict) and len(node) == 1:
        name, node = next(iter(node.items()))
        path.append(name)
    return tuple(path)


def _flat_value(key: str, value: object) -> str:
    """Return a TOML value as the one-string form ``config`` keys hold (type-checked)."""
    if key == "fetch.allow_private":
        if not isinstance(value, bool):
            raise UsageError("must be true or false")
        return "true" if value else "false"
    if key.startswith("policy.") and key.endswith(".url") and isinstance(value, list):
        if not value or not all(isinstance(item, str) for item in value):
            raise UsageError("must be a URL or a non-empty list of URLs")
        return " ".join(value)
    if key.startswith("policy.") and key.endswith(".combine"):
        # A list of page tables, held as JSON (validated by the key's spec).
        if not isinstance(value, list):
            raise UsageError("must be a list of tables, one per page: [{url = ...}, ...]")
        return json.dumps(value, ensure_ascii=False)
    if key.endswith((".select", ".remove")) and isinstance(value, list):
        # Open Terms Archive's form: CSS selectors and range tables, applied in order.
        return json.dumps(value, ensure_ascii=False)
    if not isinstance(value, str):
        raise UsageError(f"must be a string, not {type(value).__name__}")
    return value


def parse_settings(data: bytes) -> dict[str, str]:
    """Return the flat settings (``announce.to`` -> value) of a settings file, validated."""
    if len(data) > MAX_SETTINGS_BYTES:
        raise SettingsError(
            f"{SETTINGS_FILE} is {len(data)} bytes, over the limit of {MAX_SETTINGS_BYTES}"
        )
    try:
        text = data.decode("utf-8")
        document = tomllib.loads(text)
    except UnicodeDecodeError:
        raise SettingsError(f"{SETTINGS_FILE} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as err:
        found = _AT_LINE.search(str(err))
        where = f" line {found[1]}" if found else ""
        reason = _AT_LINE.sub("", str(err)).strip()
        raise SettingsError(f"{SETTINGS_FILE}{where}: not valid TOML: {reason}") from None
    except RecursionError:
        raise SettingsError(f"{SETTINGS_FILE}: nested too deeply") from None
    flat: dict[str, str] = {}

    def fail(table: tuple[str, ...], key: str, why: str) -> SettingsError:
        line = _line_of(text, table, key)
        where = f" line {line}" if line else ""
        name = ".".join(json.dumps(p) if not re.fullmatch(r"[\w-]+", p) else p for p in table)
        return SettingsError(f"{SETTINGS_FILE}{where}: {name + '.' if name else ''}{key}: {why}")

    entries: list[tuple[tuple[str, ...], str, object]] = []
    for top, body in document.items():
        if top not in (*_STORE_TABLES, "policy"):
            known = ", ".join([*_STORE_TABLES, "policy"])
            raise fail((), top, f"unknown setting (known tables: {known})")
        if not isinstance(body, dict):
            raise fail((), top, "must be a table")
        if top != "policy":
            entries.extend(((top,), key, value) for key, value in body.items())
            continue
        for policy, rules in body.items():
            if not isinstance(rules, dict):
                raise fail((top,), policy, "must be a table of the policy's settings")
            entries.extend(((top, policy), key, value) for key, value in rules.items())
    for table, key, value in entries:
        known_keys = POLICY_KEYS if table[0] == "policy" else _STORE_TABLES[table[0]]
        if key not in known_keys:
            raise fail(table, key, f"unknown setting (known: {', '.join(known_keys)})")
        flat_key = ".".join((*table, key))
        try:
            flat[flat_key] = key_spec(flat_key).validate(_flat_value(flat_key, value))
        except UsageError as err:
            raise fail(table, key, str(err)) from None
    return flat


def policy_urls(settings: Mapping[str, str], policy: str) -> list[str]:
    """Return the URLs a policy is captured from (none when it has no ``url``)."""
    return settings.get(f"policy.{policy}.url", "").split()


def policies_with_urls(settings: Mapping[str, str]) -> list[str]:
    """Return the ids of the policies that have a ``url`` (or ``combine``) setting, sorted."""
    return sorted(
        {
            key[len("policy.") :].rpartition(".")[0]
            for key in settings
            if key.startswith("policy.") and key.endswith((".url", ".combine"))
        }
    )


# --------------------------------------------------------------------------- writing


def _toml_string(value: str) -> str:
    """Return ``value`` as a TOML basic string (JSON's escapes are TOML's, bar DEL)."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_key(name: str) -> str:
    """Return a TOML key, quoted unless it is a bare key."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml_string(name)


def _place(key: str) -> tuple[tuple[str, ...], str]:
    """Return the TOML table path and key name of a dotted setting."""
    if key.startswith("policy."):
        policy, _, name = key[len("policy.") :].rpartition(".")
        return ("policy", policy), name
    table, _, name = key.partition(".")
    return (table,), name


def _toml_value(key: str, value: str) -> str:
    """Return the TOML literal of a setting's value."""
    if key == "fetch.allow_private":
        return value
    if key.startswith("policy.") and key.endswith(".url") and " " in value:
        return "[" + ", ".join(_toml_string(url) for url in value.split()) + "]"
    if key.startswith("policy.") and key.endswith(".combine"):
        try:
            parts = json.loads(value)
        except (ValueError, RecursionError):
            return _toml_string(value)
        for part in parts if isinstance(parts, list) else []:
            for name in ("select", "remove"):
                items = _selector_list(part.get(name, "")) if isinstance(part, dict) else None
                if items is not None:
                    part[name] = items  # written as a TOML list, as a policy's own select is
        return _toml_inline(parts)
    if key.startswith("policy.") and key.endswith((".select", ".remove")):
        items = _selector_list(value)
        if items is not None:
            return "[" + ", ".join(_toml_item(item) for item in items) + "]"
    return _toml_string(value)


def _selector_list(value: str) -> list[object] | None:
    """Return the items of a selector value in its JSON list form (None: a CSS selector)."""
    from policydiff.core.config import is_selector_list

    if not is_selector_list(value):
        return None
    try:
        found = json.loads(value)
    except (ValueError, RecursionError):
        return None
    return found if isinstance(found, list) else None


def _toml_inline(value: object) -> str:
    """Return a JSON value (strings, lists, objects) as a TOML inline value."""
    if isinstance(value, dict):
        pairs = ", ".join(f"{_toml_key(str(k))} = {_toml_inline(v)}" for k, v in value.items())
        return "{" + pairs + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_inline(item) for item in value) + "]"
    return _toml_string(str(value))


def _toml_item(item: object) -> str:
    """Return a selector list item as TOML: a string, or an inline table of a range."""
    if isinstance(item, dict):
        pairs = ", ".join(f"{_toml_key(k)} = {_toml_string(str(v))}" for k, v in item.items())
        return "{" + pairs + "}"
    return _toml_string(str(item))


def render_settings(settings: Mapping[str, str]) -> str:
    """Return a whole settings file holding ``settings`` (tables in a stable order)."""
    tables: dict[tuple[str, ...], list[str]] = {}
    for key in sorted(settings, key=lambda k: (k.startswith("policy."), k)):
        table, name = _place(key)
        tables.setdefault(table, []).append(
            f"{_toml_key(name)} = {_toml_value(key, settings[key])}"
        )
    parts = ["# policydiff settings: see 'policydiff config --help'.\n"]
    for table, lines in tables.items():
        header = ".".join(_toml_key(part) for part in table)
        parts.append(f"\n[{header}]\n" + "".join(f"{line}\n" for line in lines))
    return "".join(parts)


def edit_settings(text: str, key: str, value: str | None) -> str:
    """Return the file ``text`` with ``key`` set to ``value`` (None: removed).

    The line of the key is replaced in place, so comments and layout stay; when the
    edit cannot be made that way (or would read back differently) the file is written
    anew from its settings.
    """
    current = parse_settings(text.encode("utf-8")) if text.strip() else {}
    wanted = dict(current)
    if value is None:
        wanted.pop(key, None)
    else:
        wanted[key] = value
    if wanted == current:
        return text
    table, name = _place(key)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    new_line = f"{_toml_key(name)} = {_toml_value(key, value)}\n" if value is not None else ""
    start = end = None
    line_at = None
    current_table: tuple[str, ...] | None = ()
    for number, line in enumerate(lines):
        header = _HEADER.fullmatch(line.rstrip("\n"))
        if header is not None:
            current_table = _table_path(header["path"])
            if current_table == table:
                start = number
            elif start is not None and end is None:
                end = number
            continue
        if current_table == table and "=" in line:
            found = line.split("=", 1)[0].strip()
            if found in {name, _toml_string(name), f"'{name}'"}:
                line_at = number
    if start is not None and end is None:
        end = len(lines)
    if line_at is not None:
        lines[line_at] = new_line
    elif start is not None and end is not None and value is not None:
        last = end
        while last - 1 > start and not lines[last - 1].strip():
            last -= 1
        lines.insert(last, new_line)
    elif value is not None:
        named = ".".join(_toml_key(part) for part in table)
        lines.append(f"\n[{named}]\n{new_line}")
    edited = "".join(lines)
    try:
        if parse_settings(edited.encode("utf-8")) == wanted:
            return edited
    except UsageError:
        pass
    return render_settings(wanted)


def layered(
    layers: list[tuple[str, Mapping[str, str]]],
) -> dict[str, tuple[str, str]]:
    """Return {key: (value, source)} from layers given highest precedence first."""
    found: dict[str, tuple[str, str]] = {}
    for source, values in reversed(layers):
        for key, value in values.items():
            found[key] = (value, source)
    return dict(sorted(found.items()))
