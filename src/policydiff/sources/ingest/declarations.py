"""Open Terms Archive declarations: read a collection's service files into policy settings.

A collection holds ``declarations/<Service>.json`` (format documented at
https://docs.opentermsarchive.org/terms/reference/declaration/)::

    {"name": "Acme", "terms": {"Privacy Policy": {"fetch": URL, "select": CSS, ...}}}

(older collections say ``documents`` for ``terms``), and ``<Service>.history.json``
holding earlier declarations per terms type, each with a ``validUntil`` date.

Each terms type becomes the policy ``<service>/<terms-type>``, slugged as the shared
corpus names them (``Claude.ai``/``Privacy Policy`` -> ``claude-ai/privacy-policy``),
with the ``fetch`` URL and the ``select``/``remove`` selectors (CSS, or a JSON list of
CSS and range selectors, which the extractor applies as Open Terms Archive does).
``executeClientScripts`` becomes ``render = "browser"`` (the browser extra renders the
page in headless Chromium) and ``combine`` the policy's ``combine`` pages, each taking
what it leaves out (``fetch``, selectors, scripts) from the terms declaration, as Open
Terms Archive does. What policydiff cannot reproduce faithfully -- named JavaScript
``filter``s -- is kept in the report and the document is skipped with a reason: it
never yields text that differs from Open Terms Archive's without saying so.

The files are untrusted: bounded in size and number, JSON only, nesting bounded, URLs
http(s) only, selectors checked as the extractor compiles them.
"""

from __future__ import annotations

import importlib.util
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from policydiff.core.errors import UsageError

MAX_FILE_BYTES = 1024 * 1024
MAX_FILES = 5000
MAX_DEPTH = 16
MAX_TERMS = 200
HISTORY_SUFFIX = ".history.json"
_TERMS_KEYS = frozenset(
    {"fetch", "select", "remove", "filter", "filters", "executeClientScripts", "combine"}
)
_RANGE_KEYS = frozenset({"startBefore", "startAfter", "endBefore", "endAfter"})
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


class DeclarationError(UsageError):
    """A declaration file policydiff cannot read (the message names the file and why)."""


def slug(name: str) -> str:
    """Return the policy-id segment of a service or terms type name (``Le Chat`` -> ``le-chat``)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _NOT_SLUG.sub("-", ascii_name.lower()).strip("-")


@dataclass(slots=True)
class Document:
    """One terms document of a service: where it is, how to extract it, or why it is skipped."""

    file: str
    service: str
    terms_type: str
    policy: str
    url: str | None
    select: str | None = None
    remove: str | None = None
    filters: list[str] = field(default_factory=list)
    execute_client_scripts: bool = False
    # The pages of a combined document (the ``combine`` setting's items), in order.
    combine: list[dict[str, str]] = field(default_factory=list)
    skipped: str | None = None  # why policydiff does not track it (None: tracked)
    warnings: list[str] = field(default_factory=list)

    def settings(self) -> dict[str, str]:
        """Return the per-policy settings (``url``, ``select``...) of a tracked document."""
        values = {
            "url": self.url,
            "select": self.select,
            "remove": self.remove,
            "title": f"{self.service} {self.terms_type}",
            "organisation": self.service,
            "type": self.terms_type.lower(),
            "render": "browser" if self.execute_client_scripts else None,
            "combine": json.dumps(self.combine, ensure_ascii=False) if self.combine else None,
        }
        return {name: value for name, value in values.items() if value}


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """An earlier declaration of a document, valid until a date (never tracked)."""

    file: str
    policy: str
    valid_until: str
    fetch: str | None
    expired: bool


@dataclass(slots=True)
class Collection:
    """What a declarations folder holds: documents, past declarations, and unreadable files."""

    documents: list[Document] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file, why)


def _depth(value: object, limit: int) -> int:
    """Return the nesting depth of a JSON value, stopping past ``limit``."""
    if limit < 0:
        return 1
    if isinstance(value, dict):
        return 1 + max((_depth(v, limit - 1) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v, limit - 1) for v in value), default=0)
    return 0


def _load(path: Path) -> Any:  # noqa: ANN401 - a JSON document, checked by the caller
    """Read one JSON file, bounded in size and nesting."""
    try:
        if path.is_symlink() or not path.is_file():
            raise DeclarationError("not a plain file")
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise DeclarationError(f"cannot read it: {err.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise DeclarationError(f"over the limit of {MAX_FILE_BYTES} bytes")
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise DeclarationError("not UTF-8 text") from None
    except RecursionError:
        raise DeclarationError(f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as err:
        raise DeclarationError(f"not valid JSON: {err}") from None
    if _depth(document, MAX_DEPTH) > MAX_DEPTH:
        raise DeclarationError(f"nested more than {MAX_DEPTH} levels deep")
    return document


def _url(value: object, where: str) -> str:
    """Return an http(s) ``fetch`` URL, checked as the settings file checks URLs."""
    from policydiff.core.config import key_spec

    if not isinstance(value, str):
        raise DeclarationError(f"{where}: fetch must be a URL string")
    try:
        return key_spec("policy.x.url").validate(value)
    except UsageError as err:
        raise DeclarationError(f"{where}: fetch: {err}") from None


def _selectors(value: object, where: str, name: str) -> str | None:
    """Return a ``select``/``remove`` as the settings hold it (None when there is none).

    One CSS selector stays as it is; a list keeps Open Terms Archive's order and range
    selectors as a JSON list (a ``remove`` of CSS selectors only becomes one CSS list).
    """
    from functools import partial

    from policydiff.core.config import selector_items
    from policydiff.sources.ingest.html import check_selector

    items = value if isinstance(value, list) else [value]
    if not items:
        return None
    for item in items:
        if isinstance(item, dict):
            unknown = set(item) - _RANGE_KEYS
            if unknown or not all(isinstance(v, str) for v in item.values()):
                raise DeclarationError(
                    f"{where}: {name}: a range selector holds only startBefore, startAfter, "
                    "endBefore and endAfter, each a CSS selector"
                )
        elif not isinstance(item, str):
            raise DeclarationError(
                f"{where}: {name} must be a CSS selector, a range selector or a list of them"
            )
    if all(isinstance(item, str) for item in items) and (len(items) == 1 or name == "remove"):
        stored = ", ".join(
            check_selector(str(item), what=f"{name} selector").strip() for item in items
        )
    else:
        stored = json.dumps(items, ensure_ascii=False)
    try:
        selector_items(stored, partial(check_selector, what=f"{name} selector"))
    except UsageError as err:
        raise DeclarationError(f"{where}: {name}: {err}") from None
    return stored


def _filters(terms: dict[str, Any], where: str) -> list[str]:
    """Return the names of the filters a terms declaration applies (``filter``)."""
    found: list[str] = []
    for key in ("filter", "filters"):
        value = terms.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            raise DeclarationError(f"{where}: {key} must be a list of filter names")
        for item in value:
            if isinstance(item, str):
                found.append(item)
            elif isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item)), str):
                found.append(next(iter(item)))
            else:
                raise DeclarationError(f"{where}: {key}: not a filter name: {item!r:.80}")
    return found


def _document(file: str, service_id: str, name: str, terms_type: str, terms: object) -> Document:
    """Read one terms declaration into a ``Document`` (raise ``UsageError`` if malformed)."""
    from policydiff.core.refs import validate_policy_id

    where = f"{terms_type!r}"
    if not isinstance(terms, dict):
        raise DeclarationError(f"{where}: must be an object with fetch and select")
    unknown = sorted(set(terms) - _TERMS_KEYS)
    if unknown:
        raise DeclarationError(f"{where}: unknown property {unknown[0]!r}")
    policy = validate_policy_id(f"{slug(service_id)}/{slug(terms_type)}")
    scripts = terms.get("executeClientScripts", False)
    if not isinstance(scripts, bool):
        raise DeclarationError(f"{where}: executeClientScripts must be true or false")
    filters = _filters(terms, where)
    select = _selectors(terms.get("select", []), where, "select")
    remove = _selectors(terms.get("remove", []), where, "remove")
    skipped: list[str] = []
    combine: list[dict[str, str]] = []
    if "combine" in terms:
        combine = _combine(terms, where)
        filters += [f for part in terms["combine"] for f in _filters(part, f"{where}: combine")]
        url: str | None = combine[0]["url"]
    else:
        url = _url(terms.get("fetch"), where) if "fetch" in terms else None
        if url is None:
            raise DeclarationError(f"{where}: fetch (the document's URL) is missing")
    if filters:
        skipped.append(
            f"filters {', '.join(filters)} cannot run here; the text would differ from "
            "Open Terms Archive's"
        )
    document = Document(
        file=file,
        service=name,
        terms_type=terms_type,
        policy=policy,
        url=url,
        select=select,
        remove=remove,
        filters=filters,
        execute_client_scripts=scripts,
        combine=combine,
        skipped="; ".join(skipped) or None,
    )
    from policydiff.core.config import key_spec

    for key, value in document.settings().items():
        try:
            key_spec(f"policy.{policy}.{key}").validate(value)
        except UsageError as err:
            raise DeclarationError(f"{where}: {key}: {err}") from None
    if select is None and not skipped and not all("select" in part for part in combine or [{}]):
        document.warnings.append(
            "no select: the content is found automatically and may differ from Open Terms Archive's"
        )
    rendered = scripts or any(part.get("render") == "browser" for part in combine)
    if rendered and not skipped and importlib.util.find_spec("playwright") is None:
        document.warnings.append(
            "its pages need their scripts run (executeClientScripts): tracking it needs "
            "the browser extra, pip install 'policydiff[browser]', and Chromium"
        )
    return document


def _combine(terms: dict[str, Any], where: str) -> list[dict[str, str]]:
    """Return the pages of a ``combine`` declaration as the ``combine`` setting holds them.

    A page's ``fetch``, selectors and ``executeClientScripts`` default to the terms
    declaration's (Open Terms Archive's rule): the URL is always written out, the rest
    only where the page says otherwise.
    """
    parts = terms["combine"]
    if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
        raise DeclarationError(f"{where}: combine must be a non-empty list of objects")
    from policydiff.core.config import MAX_COMBINE_PARTS

    if len(parts) > MAX_COMBINE_PARTS:
        raise DeclarationError(f"{where}: combine: more than {MAX_COMBINE_PARTS} pages")
    found: list[dict[str, str]] = []
    for part in parts:
        at = f"{where}: combine"
        extra = sorted(set(part) - _TERMS_KEYS - {"combine"})
        if extra or "combine" in part:
            raise DeclarationError(f"{at}: unknown property {(extra or ['combine'])[0]!r}")
        fetch = part.get("fetch", terms.get("fetch"))
        item = {"url": _url(fetch, at) if fetch is not None else None}
        if item["url"] is None:
            raise DeclarationError(f"{at}: a page has no fetch, nor has the terms declaration")
        for name in ("select", "remove"):
            if name in part:
                value = _selectors(part[name], at, name)
                if value is not None:
                    item[name] = value
        scripts = part.get("executeClientScripts")
        if scripts is not None:
            if not isinstance(scripts, bool):
                raise DeclarationError(f"{at}: executeClientScripts must be true or false")
            item["render"] = "browser" if scripts else "http"
        found.append({k: v for k, v in item.items() if v is not None})
    return found


def _declaration(path: Path) -> list[Document]:
    """Read one service declaration file into its documents."""
    document = _load(path)
    if not isinstance(document, dict):
        raise DeclarationError("not a service declaration: expected an object with name and terms")
    name = document.get("name")
    terms = document.get("terms", document.get("documents"))
    if not isinstance(name, str) or not name.strip() or not isinstance(terms, dict):
        raise DeclarationError(
            "not a service declaration: expected an object with a name and "
            "terms (or documents) mapping terms types to declarations"
        )
    if len(terms) > MAX_TERMS:
        raise DeclarationError(f"more than {MAX_TERMS} terms types")
    service_id = path.name.removesuffix(".json")
    found: list[Document] = []
    for terms_type, body in terms.items():
        try:
            found.append(_document(path.name, service_id, name.strip(), terms_type, body))
        except UsageError as err:
            message = str(err)
            where = f"{terms_type!r}"
            raise DeclarationError(
                message if message.startswith(where) else f"{where}: {message}"
            ) from None
    return found


def _valid_until(value: object, where: str) -> datetime:
    """Return a history entry's ``validUntil`` as an aware datetime."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise DeclarationError(f"{where}: validUntil must be an ISO 8601 date")


def _history(path: Path, now: datetime) -> list[HistoryEntry]:
    """Read a service's history file: earlier declarations per terms type."""
    document = _load(path)
    if not isinstance(document, dict):
        raise DeclarationError("not a history file: expected an object of terms types")
    service_id = path.name.removesuffix(HISTORY_SUFFIX)
    found: list[HistoryEntry] = []
    for terms_type, entries in document.items():
        where = f"{terms_type!r}"
        if not isinstance(entries, list):
            raise DeclarationError(f"{where}: must be a list of earlier declarations")
        for entry in entries:
            if not isinstance(entry, dict):
                raise DeclarationError(f"{where}: each earlier declaration must be an object")
            until = _valid_until(entry.get("validUntil"), where)
            fetch = entry.get("fetch")
            found.append(
                HistoryEntry(
                    file=path.name,
                    policy=f"{slug(service_id)}/{slug(terms_type)}",
                    valid_until=until.isoformat(),
                    fetch=fetch if isinstance(fetch, str) else None,
                    expired=until <= now,
                )
            )
    return found


def declarations_folder(folder: Path) -> Path:
    """Return the folder of declaration files: ``DIR/declarations`` if there is one, else DIR."""
    inner = folder / "declarations"
    return inner if inner.is_dir() and not inner.is_symlink() else folder


def read_collection(folder: Path, now: datetime | None = None) -> Collection:
    """Read every declaration and history file of a collection (bad files listed, not fatal)."""
    where = declarations_folder(folder)
    try:
        if not where.is_dir():
            raise UsageError(f"{folder} is not a folder of declarations")
        names = sorted(entry.name for entry in where.iterdir() if entry.name.endswith(".json"))
    except OSError as err:
        raise UsageError(f"cannot read {folder}: {err.strerror}") from None
    if not names:
        raise UsageError(f"{where} holds no declaration files (<Service>.json)")
    if len(names) > MAX_FILES:
        raise UsageError(f"{where} holds more than {MAX_FILES} declaration files")
    moment = now or datetime.now(UTC)
    collection = Collection()
    seen: dict[str, str] = {}
    for name in names:
        path = where / name
        try:
            if name.endswith(HISTORY_SUFFIX):
                collection.history.extend(_history(path, moment))
                continue
            documents = _declaration(path)
            mine: dict[str, str] = {}
            for document in documents:
                other = seen.get(document.policy) or mine.get(document.policy)
                if other is not None:
                    raise DeclarationError(
                        f"{document.terms_type!r}: policy id {document.policy} is also "
                        f"declared by {other}"
                    )
                mine[document.policy] = f"{name} ({document.terms_type!r})"
            seen.update(mine)
            collection.documents.extend(documents)
        except UsageError as err:
            collection.errors.append((name, str(err)))
    return collection
