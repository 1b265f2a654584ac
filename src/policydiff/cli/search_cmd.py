"""The ``search`` command: a phrase through every recorded version of every policy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from policydiff.cli.common import (
    emit_json,
    format_option,
    open_store,
    progress_callback,
    quiet_option,
    status,
    write_stdout,
)
from policydiff.cli.completion import complete_policy
from policydiff.core.errors import ExitCode

if TYPE_CHECKING:
    from policydiff.core.model import Version
    from policydiff.engine.search import PolicyHits

SCHEMA = "policydiff.search/1"


def _dates(version: Version) -> str:
    """Return how auditors name a version: number, stated and archive dates."""
    valid = (
        f"valid from {version.effective_date.isoformat()}, "
        if version.effective_date is not None
        else ""
    )
    return f"v{version.number} ({valid}archived {version.captured_at.date().isoformat()})"


def _version_json(version: Version) -> dict[str, Any]:
    """Return the short JSON form of a version in search results."""
    return {
        "version": version.number,
        "commit": version.commit,
        "captured_at": version.captured_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "effective_date": (
            version.effective_date.isoformat() if version.effective_date is not None else None
        ),
    }


def _hits_json(hits: PolicyHits) -> dict[str, Any]:
    """Return one policy's results as documented in docs/json-schemas.md."""
    return {
        "policy": hits.policy,
        "first": _version_json(hits.first),
        "events": [
            {"kind": event.kind.value, **_version_json(event.version)} for event in hits.events
        ],
        "in_latest": hits.in_latest,
        "latest": _version_json(hits.latest),
        "context": hits.context,
        "context_version": hits.context_version.number,
        "versions_searched": hits.versions_searched,
    }


def _hits_text(hits: PolicyHits) -> list[str]:
    """Return one policy's results as lines for people."""
    lines = [hits.policy]
    lines += [f"  {event.kind.value}: {_dates(event.version)}" for event in hits.events]
    state = "still there" if hits.in_latest else "absent"
    lines.append(f"  latest {_dates(hits.latest)}: {state}")
    if hits.context:
        lines.append(f"  \u201c{hits.context}\u201d (v{hits.context_version.number})")
    return lines


@click.command("search")
@click.argument("phrase")
@click.option("--regex", is_flag=True, help="PHRASE is a regular expression (case-insensitive).")
@click.option(
    "--policy",
    "policies",
    multiple=True,
    metavar="POLICY",
    help="Search only this policy (repeatable). Default: every policy in the store.",
    shell_complete=complete_policy,
)
@format_option("text", "json", default="text")
@quiet_option()
def search_cmd(phrase: str, regex: bool, policies: tuple[str, ...], fmt: str) -> None:
    """Find when PHRASE first appeared in each policy, when it left or came back, and if it stands.

    Every recorded version is searched, from the store's texts only. Matching ignores
    cosmetic differences: case, quotes, dashes, markdown markup and line wrapping. With
    --regex, PHRASE is a Python regular expression matched against that normalised text
    (words separated by single spaces, lower case).

    Exit status: 0 when some version has the phrase, 1 when none has, 2 on error.

    \b
    Examples:
      policydiff search "IP address you registered from"
      policydiff search --regex "biometric(s)? data" --format json
      policydiff search cookies --policy koozali/privacy-policy
    """  # noqa: D301 - "\b" is click's no-rewrap marker, the backspace character itself
    from policydiff.engine.search import Matcher, search_store

    matcher = Matcher(phrase, regex=regex)
    store = open_store()
    names = [store.require_policy(p) for p in policies] if policies else None
    found, searched = search_store(store, matcher, names, progress=progress_callback("Searching"))
    if fmt == "json":
        emit_json(
            {
                "schema": SCHEMA,
                "phrase": phrase,
                "regex": regex,
                "versions_searched": searched,
                "policies_searched": len(names) if names else len(store.policies()),
                "results": [_hits_json(hits) for hits in found],
            }
        )
    else:
        lines: list[str] = []
        for hits in found:
            lines += [*_hits_text(hits), ""]
        if lines:
            write_stdout("\n".join(lines))
        total = len(names) if names else len(store.policies())
        status(
            f"\u201c{phrase}\u201d found in {len(found)} of {total} polic"
            f"{'y' if total == 1 else 'ies'} ({searched} version(s) searched)"
        )
    if not found:
        # Nothing found is an answer, not an error: exit 1 as grep does, no Error line.
        click.get_current_context().exit(ExitCode.CHANGES_FOUND)
