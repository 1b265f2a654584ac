"""``config import-declarations``: Open Terms Archive declarations into policydiff.toml.

Each terms document of a collection becomes a policy's settings (``url``, ``select``,
``remove``, ``title``, ``organisation``, ``type``), all written as one settings commit;
``track`` then captures them (``track --declarations DIR`` does both); ``render`` and
``combine`` carry ``executeClientScripts`` and ``combine``. Documents that cannot be
captured as Open Terms Archive would (named filters) are listed with the reason and
left out; a URL an earlier import gave them is removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from policydiff.cli.common import emit_json, format_option, open_store

if TYPE_CHECKING:
    from policydiff.sources.ingest.declarations import Collection
    from policydiff.store.gitstore import GitStore

# The per-policy settings an import owns (set from the declaration, or removed).
_OWNED = ("url", "select", "remove", "title", "organisation", "type", "render", "combine")


@dataclass(slots=True)
class ImportReport:
    """What an import did: the collection read, the policies to track, the commit made."""

    collection: Collection
    tracked: list[str] = field(default_factory=list)
    committed: bool = False

    def lines(self) -> list[str]:
        """Return one line per document, unreadable file and policy with past declarations."""
        out: list[str] = []
        for doc in self.collection.documents:
            if doc.skipped:
                out.append(f"{doc.policy}: skipped: {doc.skipped}")
            else:
                out.append(f"{doc.policy}: imported {doc.url}")
            out.extend(f"{doc.policy}: warning: {warning}" for warning in doc.warnings)
        past: dict[str, list[str]] = {}
        for entry in self.collection.history:
            past.setdefault(entry.policy, []).append(entry.valid_until)
        for policy, dates in sorted(past.items()):
            out.append(
                f"{policy}: {len(dates)} earlier declaration(s), valid until "
                f"{max(dates)} at the latest: not tracked"
            )
        out.extend(f"{name}: error: {why}" for name, why in self.collection.errors)
        return out

    def as_json(self) -> dict[str, Any]:
        """Return the ``policydiff.declarations/1`` document of this import."""
        return {
            "schema": "policydiff.declarations/1",
            "committed": self.committed,
            "documents": [
                {
                    "policy": doc.policy,
                    "file": doc.file,
                    "service": doc.service,
                    "terms_type": doc.terms_type,
                    "url": doc.url,
                    "select": doc.select,
                    "remove": doc.remove,
                    "filters": doc.filters,
                    "execute_client_scripts": doc.execute_client_scripts,
                    "combine": doc.combine,
                    "status": "skipped" if doc.skipped else "imported",
                    "skipped": doc.skipped,
                    "warnings": doc.warnings,
                }
                for doc in self.collection.documents
            ],
            "history": [
                {
                    "policy": entry.policy,
                    "file": entry.file,
                    "valid_until": entry.valid_until,
                    "fetch": entry.fetch,
                    "expired": entry.expired,
                }
                for entry in self.collection.history
            ],
            "errors": [{"file": name, "error": why} for name, why in self.collection.errors],
        }


def _policy_of(key: str) -> str:
    """Return the policy id of a ``policy.<id>.<name>`` key."""
    return key.removeprefix("policy.").rpartition(".")[0]


def _edited(text: str, wanted: dict[str, str]) -> str:
    """Return the settings file ``text`` changed to hold ``wanted``.

    Keys of policies the file already has are edited in place (comments and layout
    stay); new policies' tables are appended in one go, so importing a large collection
    costs one pass, not one pass per key.
    """
    from policydiff.core.settings import edit_settings, parse_settings, render_settings

    current = parse_settings(text.encode("utf-8")) if text.strip() else {}
    known = {_policy_of(key) for key in current if key.startswith("policy.")}
    for key in sorted(set(current) | set(wanted)):
        if current.get(key) != wanted.get(key) and (
            not key.startswith("policy.") or _policy_of(key) in known
        ):
            text = edit_settings(text, key, wanted.get(key))
    new = {
        key: value
        for key, value in wanted.items()
        if key.startswith("policy.") and _policy_of(key) not in known
    }
    if new:
        tables = render_settings(new)
        if text.strip():
            # render_settings opens with a one-line comment: the file has its own.
            text = text.rstrip("\n") + "\n" + tables.split("\n", 1)[1]
        else:
            text = tables
    edited = text.encode("utf-8")
    if parse_settings(edited) != wanted:
        return render_settings(wanted)  # never write a file that reads back differently
    return text


def import_declarations(store: GitStore, folder: Path) -> ImportReport:
    """Write the settings of a collection's documents into policydiff.toml (one commit)."""
    from policydiff.cli.config_cmd import _committed_settings
    from policydiff.core.config import policy_key
    from policydiff.core.settings import parse_settings
    from policydiff.sources.ingest.declarations import read_collection

    collection = read_collection(folder)
    report = ImportReport(collection)
    before = _committed_settings(store)
    current = parse_settings(before.encode("utf-8")) if before.strip() else {}
    wanted = dict(current)
    for doc in collection.documents:
        if doc.skipped:
            # Never leave a URL behind that would capture text unlike Open Terms Archive's.
            wanted.pop(policy_key(doc.policy, "url"), None)
            continue
        values = doc.settings()
        for name in _OWNED:
            key = policy_key(doc.policy, name)
            if name in values:
                wanted[key] = values[name]
            else:
                wanted.pop(key, None)
        report.tracked.append(doc.policy)
    if wanted != current:
        text = _edited(before, wanted)
        imported = len(report.tracked)
        subject = f"settings: import {imported} Open Terms Archive document(s) from {folder.name}"
        report.committed = store.record_settings(
            text.encode("utf-8"), subject[:200], from_work_tree=False
        )
    return report


@click.command("import-declarations")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@format_option("text", "json", default="text")
def import_declarations_cmd(folder: Path, fmt: str) -> None:
    """Track the documents of Open Terms Archive declarations (FOLDER): one settings commit.

    FOLDER is a collection (its declarations/ folder is read) or a folder of
    <Service>.json files. Each terms type becomes the policy <service>/<terms-type>.
    Documents that need filters are listed
    and skipped; earlier declarations (<Service>.history.json) are listed, not tracked.
    Exit 2 when a file cannot be read (the others are still imported).
    """
    from policydiff.cli.capture_cmds import _PartlyFailedError

    report = import_declarations(open_store(), folder)
    if fmt == "json":
        emit_json(report.as_json())
    else:
        for line in report.lines():
            click.echo(line)
    errors = len(report.collection.errors)
    if errors:
        raise _PartlyFailedError(
            f"{errors} declaration file(s) could not be read (listed above); "
            f"{len(report.tracked)} document(s) imported"
        )
