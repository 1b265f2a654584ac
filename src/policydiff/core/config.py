"""The store's local settings: a small JSON file kept in the store's git directory.

The file is ``<git dir>/policydiff/config.json`` (``.git/policydiff/config.json`` in a
normal clone). It is local to that clone on purpose: it is not part of any commit, so
it is neither pushed nor cloned, and changing a setting never rewrites the archive. A
new clone starts with no settings (copy the file across to keep them).

Keys are dotted names with validated values; ``KEYS`` lists them. Writes take a lock
and replace the file atomically (a temporary file, fsync, rename), so readers never see
half a file and two writers never lose each other's change.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policydiff.core.errors import StoreError, UsageError
from policydiff.core.refs import validate_policy_id

try:
    import fcntl
except ModuleNotFoundError:  # not POSIX (Windows): the store's safety rests on flock
    from policydiff.core.errors import PlatformError

    raise PlatformError.posix_only() from None

CONFIG_FORMAT = 1
STATE_DIR = "policydiff"
CONFIG_FILE = "config.json"
_LOCK_FILE = "config.lock"
_MAX_VALUE = 2000
_EMAIL = re.compile(r"[^@\s,<>\"]+@[^@\s,<>\"]+\.[^@\s,<>\"]+")
# An http(s) URL that can go as it is into an e-mail, an HTML attribute or markdown: no
# space, quote, angle bracket, brace or control. ``announce`` links only such URLs.
_PLAIN_URL = re.compile(r"https?://[^\s<>\"'\\^`{|}\x00-\x1f\x7f]+", re.IGNORECASE)
# The placeholders of announce.diff_url, and sample values to check the filled-in URL.
DIFF_URL_SAMPLE = {"{policy}": "acme/privacy-policy", "{old}": "1", "{new}": "2"}


def plain_url(url: str) -> str | None:
    """Return ``url`` stripped if it is a plain http(s) URL (see ``_PLAIN_URL``), else None."""
    candidate = url.strip()
    return candidate if _PLAIN_URL.fullmatch(candidate) else None


def _one_line(value: str) -> str:
    """Refuse empty, multi-line, control-character or overlong values."""
    stripped = value.strip()
    if not stripped:
        raise UsageError("the value is empty (use 'config unset' to remove a setting)")
    if len(stripped) > _MAX_VALUE or any(ord(c) < 32 or ord(c) == 127 for c in stripped):
        raise UsageError(f"the value must be one line of at most {_MAX_VALUE} characters")
    return stripped


def _emails(value: str) -> str:
    """Validate a comma-separated list of e-mail addresses; return it normalised."""
    addresses = [part.strip() for part in _one_line(value).split(",") if part.strip()]
    bad = [a for a in addresses if _EMAIL.fullmatch(a) is None]
    if bad or not addresses:
        raise UsageError(f"not an e-mail address: {bad[0] if bad else value!r}")
    return ", ".join(addresses)


def _email_with_name(value: str) -> str:
    """Validate one address, optionally with a display name (``Name <a@b.org>``)."""
    from email.utils import formataddr, parseaddr

    name, address = parseaddr(_one_line(value))
    if not address or _EMAIL.fullmatch(address) is None:
        raise UsageError(f"not an e-mail address: {value!r}")
    return formataddr((name, address)) if name else address


def _url(value: str, placeholders: dict[str, str] | None = None) -> str:
    """Validate an http(s) URL as ``announce`` will use it (placeholders filled in first)."""
    from urllib.parse import urlsplit

    url = _one_line(value)
    filled = url
    for placeholder, sample in (placeholders or {}).items():
        filled = filled.replace(placeholder, sample)
    parts = urlsplit(filled)
    if parts.scheme not in {"http", "https"} or not parts.netloc or plain_url(filled) is None:
        known = f" (placeholders: {', '.join(placeholders)})" if placeholders else ""
        raise UsageError(
            f"not an http(s) URL without spaces, quotes, <>, braces or controls{known}: {url!r}"
        )
    return url


def _boolean(value: str) -> str:
    """Validate a yes/no setting; return it as ``true`` or ``false``."""
    text = _one_line(value).lower()
    if text in {"true", "yes", "on", "1"}:
        return "true"
    if text in {"false", "no", "off", "0"}:
        return "false"
    raise UsageError(f"not true or false: {value[:80]!r}")


def _text(value: str) -> str:
    """Validate a short text that may span lines (an announcement footer)."""
    stripped = value.strip()
    if not stripped:
        raise UsageError("the value is empty (use 'config unset' to remove a setting)")
    if len(stripped) > _MAX_VALUE or any(
        (ord(c) < 32 and c != "\n") or ord(c) == 127 for c in stripped
    ):
        raise UsageError(f"the value must be at most {_MAX_VALUE} characters, no controls")
    return stripped


def _urls(value: str) -> str:
    """Validate one or more http(s) URLs separated by spaces; return them space-separated."""
    urls = _one_line(value).split()
    if len(urls) > 20:
        raise UsageError("at most 20 URLs")
    return " ".join(_url(url) for url in urls)


_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,4}")


def _language(value: str) -> str:
    """Validate a language tag such as ``en`` or ``pt-BR``."""
    tag = _one_line(value)
    if _LANGUAGE.fullmatch(tag) is None:
        raise UsageError(f"not a language tag (such as en or pt-BR): {tag[:80]!r}")
    return tag


def _diff_url(value: str) -> str:
    """Validate announce.diff_url: an http(s) URL once its placeholders are filled in."""
    return _url(value, DIFF_URL_SAMPLE)


def _css(value: str) -> str:
    """Validate a CSS selector list (as soupsieve, the extractor's engine, reads it)."""
    import soupsieve

    def check(css: str) -> str:
        try:
            soupsieve.compile(css)
        except soupsieve.SelectorSyntaxError as err:
            reason = str(err).splitlines()[0]
            raise UsageError(f"invalid CSS selector {css!r}: {reason}") from None
        return css

    # One CSS selector list, or a JSON list of selectors and range selectors (see there).
    value = _one_line(value)
    selector_items(value, check)
    return value


@dataclass(frozen=True, slots=True)
class RangeSelector:
    """Open Terms Archive's range selector: the content between two elements' edges."""

    start: str
    start_after: bool  # startAfter: the start element itself is outside
    end: str
    end_after: bool  # endAfter: the end element itself is inside


_RANGE_KEYS = ("startBefore", "startAfter", "endBefore", "endAfter")
_JSON_LIST = re.compile(r"\[\s*[\"{]")
MAX_SELECTOR_ITEMS = 20


def is_selector_list(value: str) -> bool:
    """Whether a ``select``/``remove`` value is in its JSON list form."""
    return _JSON_LIST.match(value.strip()) is not None


def selector_items(value: str, check: Callable[[str], str]) -> list[str | RangeSelector]:
    """Return the items of a ``select``/``remove`` value, in order, each checked.

    The value is a CSS selector list, or a JSON list (as Open Terms Archive declares
    them) of CSS selectors and range objects ``{"startBefore": CSS, "endBefore": CSS}``.
    The two cannot be confused: a JSON list item opens with a quote or a brace, which
    no CSS attribute selector can. ``check`` validates each CSS selector.
    """
    if not is_selector_list(value):
        return [check(value)]
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, list) or not document or len(document) > MAX_SELECTOR_ITEMS:
        raise UsageError(
            f"must be a CSS selector or a list of 1 to {MAX_SELECTOR_ITEMS} CSS "
            "selectors and range selectors"
        )
    items: list[str | RangeSelector] = []
    for item in document:
        if isinstance(item, str):
            items.append(check(item))
            continue
        if (
            not isinstance(item, dict)
            or set(item) - set(_RANGE_KEYS)
            or not all(isinstance(v, str) for v in item.values())
            or len([k for k in item if k.startswith("start")]) != 1
            or len([k for k in item if k.startswith("end")]) != 1
        ):
            raise UsageError(
                "a range selector is one of startBefore/startAfter and one of "
                "endBefore/endAfter, each a CSS selector"
            )
        start_key = "startAfter" if "startAfter" in item else "startBefore"
        end_key = "endAfter" if "endAfter" in item else "endBefore"
        items.append(
            RangeSelector(
                start=check(item[start_key]),
                start_after=start_key == "startAfter",
                end=check(item[end_key]),
                end_after=end_key == "endAfter",
            )
        )
    return items


RENDERS = ("http", "browser")
MAX_COMBINE_PARTS = 20
_MAX_COMBINE = 16000
_PART_KEYS = ("url", "select", "remove", "render")


def _render(value: str) -> str:
    """Validate how a policy's pages are fetched: ``http`` (as served) or ``browser``."""
    text = _one_line(value).lower()
    if text not in RENDERS:
        raise UsageError(f"must be one of {', '.join(RENDERS)}, not {value[:80]!r}")
    return text


@dataclass(frozen=True, slots=True)
class CombinePart:
    """One page of a combined policy; a setting left out is the policy's own."""

    url: str | None = None
    select: str | None = None
    remove: str | None = None
    render: str | None = None

    def as_json(self) -> dict[str, str]:
        """Return the part as the ``combine`` setting spells it (set keys only)."""
        values = {name: getattr(self, name) for name in _PART_KEYS}
        return {name: value for name, value in values.items() if value is not None}


def combine_parts(value: str) -> list[CombinePart]:
    """Return the parts of a ``combine`` setting: a JSON list of 1 to 20 page objects.

    Each object may hold ``url``, ``select``, ``remove`` and ``render`` (as the policy's
    own settings do); what it leaves out is taken from the policy, as Open Terms
    Archive's ``combine`` takes it from the terms declaration.
    """
    text = value.strip()
    if len(text) > _MAX_COMBINE:
        raise UsageError(f"the value must be at most {_MAX_COMBINE} characters")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, list) or not 0 < len(document) <= MAX_COMBINE_PARTS:
        raise UsageError(
            f"must be a list of 1 to {MAX_COMBINE_PARTS} pages, each a table of "
            f"{', '.join(_PART_KEYS)}"
        )
    parts: list[CombinePart] = []
    for number, item in enumerate(document, start=1):
        where = f"page {number}"
        if not isinstance(item, dict):
            raise UsageError(f"{where}: must be a table of {', '.join(_PART_KEYS)}")
        unknown = sorted(set(item) - set(_PART_KEYS))
        if unknown:
            raise UsageError(f"{where}: unknown setting {unknown[0]!r:.80}")
        checked: dict[str, str] = {}
        for name, check in (("url", _url), ("select", _css), ("remove", _css), ("render", _render)):
            if name not in item:
                continue
            raw = item[name]
            if name in {"select", "remove"} and isinstance(raw, list):
                raw = json.dumps(raw, ensure_ascii=False)  # the JSON list form of selectors
            if not isinstance(raw, str):
                raise UsageError(f"{where}: {name} must be a string")
            try:
                checked[name] = check(raw)
            except UsageError as err:
                raise UsageError(f"{where}: {name}: {err}") from None
        parts.append(CombinePart(**checked))
    return parts


def _combine(value: str) -> str:
    """Validate a ``combine`` setting; return it as compact JSON."""
    parts = combine_parts(value)
    return json.dumps([part.as_json() for part in parts], ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One kind of setting: its name pattern, what it holds, and its validator."""

    name: str
    pattern: re.Pattern[str]
    help: str
    validate: Callable[[str], str]


KEYS: tuple[KeySpec, ...] = (
    KeySpec(
        "announce.to",
        re.compile(r"announce\.to"),
        "e-mail addresses that announcements go to (comma-separated)",
        _emails,
    ),
    KeySpec(
        "announce.from",
        re.compile(r"announce\.from"),
        "sender address of announcements (Name <address> allowed)",
        _email_with_name,
    ),
    KeySpec(
        "announce.list_name",
        re.compile(r"announce\.list_name"),
        "mailing list name for the announcement footer",
        _one_line,
    ),
    KeySpec(
        "announce.url",
        re.compile(r"announce\.url"),
        "where readers find the full policy (http(s) URL)",
        _url,
    ),
    KeySpec(
        "announce.diff_url",
        re.compile(r"announce\.diff_url"),
        "published diff URL; {policy}, {old}, {new} are filled in",
        _diff_url,
    ),
    KeySpec(
        "announce.reply_to",
        re.compile(r"announce\.reply_to"),
        "Reply-To address of announcements (Name <address> allowed)",
        _email_with_name,
    ),
    KeySpec(
        "announce.footer",
        re.compile(r"announce\.footer"),
        "text at the end of every announcement",
        _text,
    ),
    KeySpec(
        "announce.site_url",
        re.compile(r"announce\.site_url"),
        "where the store's published site lives (http(s) URL)",
        _url,
    ),
    KeySpec(
        "fetch.allow_private",
        re.compile(r"fetch\.allow_private"),
        "true: capture and wayback may follow redirects to loopback and private addresses",
        _boolean,
    ),
    KeySpec(
        "policy.<id>.select",
        re.compile(r"policy\.(?P<policy>.+)\.select"),
        "CSS selector of the policy's content on its HTML pages",
        _css,
    ),
    KeySpec(
        "policy.<id>.remove",
        re.compile(r"policy\.(?P<policy>.+)\.remove"),
        "CSS selector of parts of that content to drop",
        _css,
    ),
    KeySpec(
        "policy.<id>.url",
        re.compile(r"policy\.(?P<policy>.+)\.url"),
        "where the policy is published: http(s) URL(s), space-separated",
        _urls,
    ),
    KeySpec(
        "policy.<id>.render",
        re.compile(r"policy\.(?P<policy>.+)\.render"),
        "how its pages are fetched: http (as served) or browser (scripts run in Chromium)",
        _render,
    ),
    KeySpec(
        "policy.<id>.combine",
        re.compile(r"policy\.(?P<policy>.+)\.combine"),
        "several pages joined into one document: a list of {url, select, remove, render}",
        _combine,
    ),
    KeySpec(
        "policy.<id>.title",
        re.compile(r"policy\.(?P<policy>.+)\.title"),
        "the policy's title, as announcements and the site show it",
        _one_line,
    ),
    KeySpec(
        "policy.<id>.organisation",
        re.compile(r"policy\.(?P<policy>.+)\.organisation"),
        "who publishes the policy",
        _one_line,
    ),
    KeySpec(
        "policy.<id>.type",
        re.compile(r"policy\.(?P<policy>.+)\.type"),
        "kind of document (privacy policy, terms of service...)",
        _one_line,
    ),
    KeySpec(
        "policy.<id>.language",
        re.compile(r"policy\.(?P<policy>.+)\.language"),
        "language tag of the policy's text (en, pt-BR...)",
        _language,
    ),
)


def key_spec(key: str) -> KeySpec:
    """Return the spec a key matches (its policy id checked), or raise ``UsageError``."""
    for spec in KEYS:
        match = spec.pattern.fullmatch(key)
        if match is None:
            continue
        if "policy" in match.groupdict():
            validate_policy_id(match["policy"])
        return spec
    known = ", ".join(spec.name for spec in KEYS)
    raise UsageError(f"unknown config key {key[:80]!r} (known keys: {known})")


def policy_key(policy: str, name: str) -> str:
    """Return the key of a per-policy setting, e.g. ``policy.koozali/privacy-policy.select``."""
    return f"policy.{validate_policy_id(policy)}.{name}"


def state_dir(git_dir: Path) -> Path:
    """Return the folder for policydiff's local state inside a git directory."""
    return git_dir / STATE_DIR


def write_json_atomic(path: Path, document: Any) -> None:  # noqa: ANN401 - any JSON document
    """Write ``document`` as JSON to ``path`` so that readers see the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        Path(temp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temp).unlink()
        raise
    # Make the rename itself durable.
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


class Config:
    """The settings of one store clone."""

    def __init__(self, git_dir: Path) -> None:
        self.path = state_dir(git_dir) / CONFIG_FILE

    def _read(self) -> dict[str, str]:
        """Return the stored settings (none when the file does not exist)."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as err:
            raise StoreError(f"cannot read {self.path}: {err.strerror}") from None
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError):
            document = None
        values = document.get("settings") if isinstance(document, dict) else None
        if not isinstance(values, dict) or document.get("format") != CONFIG_FORMAT:
            raise StoreError(f"{self.path} is not a policydiff config file; fix it or delete it")
        return {str(k): str(v) for k, v in values.items()}

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, str]]:
        """Hold the config lock around a read-modify-write; write what the caller changed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with (self.path.parent / _LOCK_FILE).open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            values = self._read()
            before = dict(values)
            yield values
            if values != before:
                write_json_atomic(self.path, {"format": CONFIG_FORMAT, "settings": values})

    def get(self, key: str) -> str | None:
        """Return the value of ``key``, or None when it is not set."""
        key_spec(key)
        return self._read().get(key)

    def items(self) -> list[tuple[str, str]]:
        """Return every setting, sorted by key."""
        return sorted(self._read().items())

    def set(self, key: str, value: str) -> str:
        """Validate and store ``value`` under ``key``; return the value as stored."""
        stored = key_spec(key).validate(value)
        with self._locked() as values:
            values[key] = stored
        return stored

    def unset(self, key: str) -> bool:
        """Remove ``key``; return whether it was set."""
        key_spec(key)
        with self._locked() as values:
            return values.pop(key, None) is not None
