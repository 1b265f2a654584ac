"""The ``track`` command: capture every policy the settings file gives a URL, politely.

Pages are fetched by a small pool of workers, one host per worker at a time (so one
request at a time per host, each with the fetcher's timeouts, deadline, redirect guard,
Retry-After and backoff). Each capture is checked (suspect pages are refused) and
recorded as soon as it is in, one store write per policy under the store lock: a run
killed at any point leaves the store valid, and the next run does what is left.

Conditional requests: the ``ETag`` and ``Last-Modified`` of each policy's page are kept
in ``.git/policydiff/track.json`` (derived data, safe to delete) together with what they
were seen with (URL, rules, extractor, the recorded text), and sent back as
``If-None-Match`` / ``If-Modified-Since`` only while all of that still holds; a 304 is
"unchanged".

A policy of several pages (``combine``, or several ``url``s) is captured page by page
and joined in order as Open Terms Archive joins them; a page with ``render = "browser"``
is rendered in headless Chromium (``policydiff.sources.fetch_browser``), its requests still
made by the same fetcher. Either is recorded whole or not at all, without validators.
Technical re-extractions: when the page's bytes are the very bytes of the policy's last
recorded source but the text extracted from them differs (a newer extractor, other
selectors, other headers), the page did not change, so the version is recorded marked
technical: announcements, changelogs and feeds skip it, and it reads ``re-extracted``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from policydiff.cli.capture_cmds import (
    _changed_exit,
    _fetch_options,
    _fetch_settings,
    _PartlyFailedError,
    _suspect_option,
    _vet_capture,
)
from policydiff.cli.common import emit_json, format_option, open_store, quiet_option, report_line
from policydiff.cli.completion import complete_policy
from policydiff.cli.config_cmd import settings_values
from policydiff.core.errors import PolicydiffError, UsageError

if TYPE_CHECKING:
    from datetime import datetime

    from policydiff.core.model import Snapshot, Version
    from policydiff.sources.fetch import Fetcher, FetchSettings, Page
    from policydiff.sources.fetch_browser import Renderer
    from policydiff.sources.ingest.html import ExtractRules
    from policydiff.store.gitstore import GitStore

TRACK_STATE = "track.json"
_STATE_FORMAT = 1
EXTRACTOR_TRAILER = "Extractor"
EXTRACTOR_PACKAGES = ("policydiff", "markdownify", "beautifulsoup4", "lxml", "pdfminer.six")
DEFAULT_JOBS = 4


def extractor_versions() -> str:
    """Return the versions of the packages that turn a page into text (one trailer value)."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for name in EXTRACTOR_PACKAGES:
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} ?")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class _Part:
    """One page of a combined or browser-rendered policy."""

    url: str
    rules: ExtractRules
    render: str  # http or browser


@dataclass(frozen=True, slots=True)
class _Job:
    """One policy to capture: where from, with which rules, and the validators to send."""

    policy: str
    url: str
    rules: ExtractRules
    key: str  # what the validators were seen with (URL, rules, extractor)
    validators: dict[str, str]
    # Set for pages combined into one document or rendered in a browser (see _capture).
    parts: tuple[_Part, ...] = ()


@dataclass(slots=True)
class _Outcome:
    """What became of one policy."""

    policy: str
    url: str | None
    status: str = "error"  # unchanged, recorded, technical, error
    version: int | None = None
    not_modified: bool = False
    error: str | None = None
    technical_reason: str | None = None

    def line(self) -> str:
        """Return the one-line report of this policy."""
        if self.status == "recorded":
            return f"{self.policy}: recorded version {self.version}"
        if self.status == "technical":
            # Not "recorded version N": the recipes announce the policies on such lines.
            return (
                f"{self.policy}: re-extracted as version {self.version} "
                f"(technical, {self.technical_reason})"
            )
        if self.status == "unchanged":
            return f"{self.policy}: unchanged" + (" (not modified)" if self.not_modified else "")
        return f"{self.policy}: error: {self.error}"


def _state_path(store: GitStore) -> Path:
    """Return the file of remembered validators (derived data)."""
    return Path(store.repo.git_dir) / "policydiff" / TRACK_STATE


def _read_state(store: GitStore) -> dict[str, dict[str, str]]:
    """Return the remembered validators per policy (none if the file is absent or bad)."""
    try:
        document = json.loads(_state_path(store).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return {}  # derived data: a damaged file only costs full fetches
    policies = document.get("policies") if isinstance(document, dict) else None
    if not isinstance(policies, dict) or document.get("format") != _STATE_FORMAT:
        return {}
    return {
        str(policy): {str(k): str(v) for k, v in entry.items() if isinstance(v, str)}
        for policy, entry in policies.items()
        if isinstance(entry, dict)
    }


def _write_state(store: GitStore, state: dict[str, dict[str, str]]) -> None:
    """Save the validators (atomically; a failure only costs full fetches next time)."""
    from policydiff.core.config import write_json_atomic

    with contextlib.suppress(OSError):
        write_json_atomic(_state_path(store), {"format": _STATE_FORMAT, "policies": state})


_Result = tuple["_Job", "Page | None", "Snapshot | PolicydiffError"]


def _fetch_and_extract(
    fetcher_settings: FetchSettings,
    jobs: list[_Job],
    max_size: int,
    deliver: Callable[[_Result], None],
) -> None:
    """Capture one host's policies in turn with one fetcher (one request at a time).

    Each capture is handed to ``deliver`` as soon as it is in, to be recorded at once.
    """
    from policydiff.core.model import Snapshot
    from policydiff.sources.fetch import Fetcher
    from policydiff.sources.fetch_browser import Renderer
    from policydiff.sources.ingest import detect_effective_date
    from policydiff.sources.ingest.html import page_text
    from policydiff.sources.wayback import source_trailers

    extractor = extractor_versions()
    # The renderer starts Chromium only for a policy that needs it.
    with Fetcher(fetcher_settings) as fetcher, Renderer() as renderer:
        for job in jobs:
            try:
                if job.parts:
                    snapshot = _capture(fetcher, renderer, job, max_size)
                    deliver((job, None, snapshot))
                    continue
                page = fetcher.get(job.url, validators=job.validators)
                if page.not_modified:
                    deliver((job, page, UsageError("not modified")))
                    continue
                found = page_text(
                    page.content,
                    url=page.final_url,
                    media_type=page.media_type,
                    charset=page.charset,
                    rules=job.rules,
                    max_bytes=max_size,
                )
                trailers = source_trailers(found)
                if page.final_url != job.url:
                    trailers += (("Fetched-URL", page.final_url),)
                trailers += ((EXTRACTOR_TRAILER, extractor),)
                snapshot = Snapshot(
                    policy=job.policy,
                    text=found.text,
                    raw=page.content,
                    raw_suffix=found.suffix,
                    captured_at=page.fetched_at.replace(microsecond=0),
                    effective_date=detect_effective_date(found.text),
                    source_url=job.url,
                    origin=job.url,
                    extra_trailers=trailers,
                )
                deliver((job, page, snapshot))
            except PolicydiffError as err:
                deliver((job, None, err))


COMBINED_TRAILER = "Combined-URL"
# How Open Terms Archive joins the pages of a combined document (a Markdown rule).
PAGE_SEPARATOR = "\n\n- - -\n\n"


def _capture(fetcher: Fetcher, renderer: Renderer, job: _Job, max_size: int) -> Snapshot:
    """Capture a policy of several pages (joined in order) or of script-rendered pages.

    Every page must come in: one failure fails the policy, as a partial document is
    not the policy. The stored source is the pages as received, one after the other.
    """
    from policydiff.core.errors import InputError
    from policydiff.core.model import Snapshot
    from policydiff.sources.fetch_browser import RENDER_TRAILER
    from policydiff.sources.ingest import detect_effective_date
    from policydiff.sources.ingest.html import page_text
    from policydiff.sources.wayback import source_trailers

    texts: list[str] = []
    raws: list[bytes] = []
    found_all = []
    pages: list[Page] = []
    for number, part in enumerate(job.parts, start=1):
        if part.render == "browser":
            page = renderer.render(part.url, fetcher)
        else:
            page = fetcher.get(part.url)
        pages.append(page)
        found = page_text(
            page.content,
            url=page.final_url,
            media_type=page.media_type,
            charset=page.charset,
            rules=part.rules,
            max_bytes=max_size,
        )
        if len(job.parts) > 1 and found.suffix == "pdf":
            raise InputError(f"{part.url} is a PDF: combine joins HTML and text pages only")
        texts.append(found.text.strip("\n"))
        found_all.append(found)
        marker = f"<!-- policydiff: page {number} of {len(job.parts)} -->\n"
        raws.append((marker if len(job.parts) > 1 else "").encode("ascii") + page.content)
    first = pages[0]
    trailers: tuple[tuple[str, str], ...] = ()
    if len({(f.suffix, f.charset) for f in found_all}) == 1:
        trailers += source_trailers(found_all[0])
    if len(job.parts) == 1 and first.final_url != job.url:
        trailers += (("Fetched-URL", first.final_url),)
    if len(job.parts) > 1:
        trailers += tuple((COMBINED_TRAILER, part.url) for part in job.parts)
    if any(part.render == "browser" for part in job.parts):
        trailers += ((RENDER_TRAILER, renderer.version),)
    trailers += ((EXTRACTOR_TRAILER, extractor_versions()),)
    text = PAGE_SEPARATOR.join(texts) + "\n" if len(texts) > 1 else found_all[0].text
    suffixes = {f.suffix for f in found_all}
    return Snapshot(
        policy=job.policy,
        text=text,
        raw=b"\n".join(raws) if len(raws) > 1 else raws[0],
        raw_suffix=suffixes.pop() if len(suffixes) == 1 else "html",
        captured_at=first.fetched_at.replace(microsecond=0),
        effective_date=detect_effective_date(text),
        source_url=job.url,
        origin=job.url,
        extra_trailers=trailers,
    )


def _parts(
    settings: dict[str, str], policy: str, urls: list[str], rules: ExtractRules
) -> tuple[_Part, ...]:
    """Return the pages of a combined or browser-rendered policy (none for a plain one).

    A ``combine`` page takes what it leaves out (URL, selectors, render) from the
    policy's own settings, as Open Terms Archive does; several ``url``s are pages
    with the policy's selectors.
    """
    from policydiff.core.config import combine_parts
    from policydiff.sources.ingest.html import ExtractRules

    render = settings.get(f"policy.{policy}.render", "http")
    combine = settings.get(f"policy.{policy}.combine")
    if combine is not None:
        parts = []
        for number, part in enumerate(combine_parts(combine), start=1):
            url = part.url or (urls[0] if urls else None)
            if url is None:
                raise UsageError(f"combine: page {number} has no url, nor has the policy")
            parts.append(
                _Part(
                    url,
                    ExtractRules(
                        select=part.select or rules.select, remove=part.remove or rules.remove
                    ),
                    part.render or render,
                )
            )
        return tuple(parts)
    if len(urls) > 1 or render == "browser":
        return tuple(_Part(url, rules, render) for url in urls)
    return ()


def _plan(
    store: GitStore, settings: dict[str, str], named: tuple[str, ...], known: set[str]
) -> tuple[list[_Job], list[_Outcome]]:
    """Return the jobs to run and the policies that cannot be tracked (with why)."""
    from policydiff.core.refs import validate_policy_id
    from policydiff.core.settings import policies_with_urls, policy_urls
    from policydiff.sources.ingest.html import ExtractRules

    state = _read_state(store)
    extractor = extractor_versions()
    wanted = list(dict.fromkeys(named)) or policies_with_urls(settings)
    if not wanted:
        raise UsageError(
            "no policy has a URL in policydiff.toml (add one with "
            "'policydiff config set policy.ID.url URL')"
        )
    jobs: list[_Job] = []
    refused: list[_Outcome] = []
    for policy in wanted:
        validate_policy_id(policy)
        urls = policy_urls(settings, policy)
        select = settings.get(f"policy.{policy}.select")
        remove = settings.get(f"policy.{policy}.remove")
        rules = ExtractRules(select=select, remove=remove)
        try:
            parts = _parts(settings, policy, urls, rules)
        except UsageError as err:
            refused.append(_Outcome(policy, urls[0] if urls else None, error=str(err)))
            continue
        if not urls and not parts:
            refused.append(_Outcome(policy, None, error="no url in the settings (policy.ID.url)"))
            continue
        url = parts[0].url if parts else urls[0]
        key = hashlib.sha256(
            json.dumps(
                [url, select, remove, extractor] + [[p.url, p.render] for p in parts]
            ).encode("utf-8")
        ).hexdigest()
        validators: dict[str, str] = {}
        seen = state.get(policy, {})
        history = store.versions(policy) if policy in known else []
        if (
            not parts
            and seen.get("key") == key
            and history
            and history[-1].text_sha256 == seen.get("text")
        ):
            # Only for the text the store holds: a 304 then means "that text, unchanged".
            if seen.get("etag"):
                validators["If-None-Match"] = seen["etag"]
            if seen.get("last_modified"):
                validators["If-Modified-Since"] = seen["last_modified"]
        jobs.append(_Job(policy, url, rules, key, validators, parts))
    return jobs, refused


def _by_host(jobs: list[_Job]) -> list[list[_Job]]:
    """Group jobs by host (and port), in the order they come."""
    from urllib.parse import urlsplit

    groups: dict[str, list[_Job]] = {}
    for job in jobs:
        groups.setdefault(urlsplit(job.url).netloc.lower(), []).append(job)
    return list(groups.values())


@click.command("track")
@click.argument("policies", nargs=-1, metavar="[POLICY]...", shell_complete=complete_policy)
@_fetch_options
@_suspect_option
@click.option(
    "--jobs",
    type=click.IntRange(min=1, max=32),
    default=DEFAULT_JOBS,
    show_default=True,
    help="Pages fetched at once (never more than one per host).",
)
@click.option("--exit-code", is_flag=True, help="Exit 1 if a new version was recorded.")
@click.option(
    "--declarations",
    type=click.Path(path_type=Path, file_okay=False),
    help="First import these Open Terms Archive declarations (config import-declarations), "
    "then track their documents.",
)
@format_option("text", "json", default="text")
@quiet_option()
def track_cmd(
    policies: tuple[str, ...],
    network: dict[str, Any],
    accept_suspect: bool,
    jobs: int,
    exit_code: bool,
    declarations: Path | None,
    fmt: str,
) -> None:
    """Capture every policy with a URL in policydiff.toml (or the POLICYs named).

    One line per policy: unchanged, recorded version N, or error. Exit 0 when nothing
    is new, 1 with --exit-code when something was recorded, 2 when a policy failed (the
    others are still recorded).
    """
    store = open_store()
    unreadable = 0
    declared: dict[str, Any] | None = None
    if declarations is not None:
        from policydiff.cli.common import message
        from policydiff.cli.declarations_cmd import import_declarations

        imported = import_declarations(store, declarations)
        for line in imported.lines():
            message(line)  # stdout keeps track's one line per policy
        unreadable = len(imported.collection.errors)
        declared = imported.as_json()
        if not policies:
            if not imported.tracked:
                raise UsageError(f"no document of {declarations} can be tracked (listed above)")
            policies = tuple(imported.tracked)
    settings = settings_values(store)
    # The store's policies, listed once (a listing reads the whole tree) and kept up to date.
    known = set(store.policies())
    planned, outcomes = _plan(store, settings, policies, known)
    fetch_settings = _fetch_settings(store, network)
    state = _read_state(store)

    def report(outcome: _Outcome) -> None:
        if fmt != "json":
            report_line(outcome.line(), problem=outcome.status == "error")

    for outcome in outcomes:
        report(outcome)
    groups = _by_host(planned)
    inbox: queue.Queue[_Result] = queue.Queue()
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(groups)))) as pool:
        futures: list[Future[None]] = [
            pool.submit(_fetch_and_extract, fetch_settings, group, network["max_size"], inbox.put)
            for group in groups
        ]
        # Each capture is recorded as soon as it is in (in this thread: the store is not
        # shared between threads), so a killed run keeps what it had finished.
        left = len(planned)
        latest: datetime | None = None
        while left:
            try:
                job, page, got = inbox.get(timeout=0.2)
            except queue.Empty:
                if all(future.done() for future in futures) and inbox.empty():
                    break  # a worker stopped early: its error is raised below
                continue
            left -= 1
            if not isinstance(got, PolicydiffError):
                # Workers deliver in the order their pages came in, give or take the second
                # capture times are cut to: never record one before the last recorded, or
                # the store would rewrite main to insert it in the past.
                if latest is not None and got.captured_at < latest:
                    got = replace(got, captured_at=latest)
                latest = got.captured_at
            outcome = _record_one(store, job, page, got, state, accept_suspect, known)
            outcomes.append(outcome)
            report(outcome)
            _write_state(store, state)
        for future in futures:
            future.result()
    outcomes.sort(key=lambda o: o.policy)
    recorded = sum(1 for o in outcomes if o.status == "recorded")
    technical = sum(1 for o in outcomes if o.status == "technical")
    failed = sum(1 for o in outcomes if o.status == "error")
    if fmt == "json":
        emit_json(
            {
                "schema": "policydiff.track/1",
                "policies": [_outcome_json(o) for o in outcomes],
                "recorded": recorded,
                "technical": technical,
                "failed": failed,
            }
            # With --declarations: what the import did (policydiff.declarations/1).
            | ({"declarations": declared} if declared is not None else {})
        )
    if unreadable and not failed:
        raise _PartlyFailedError(
            f"{unreadable} declaration file(s) could not be read (listed above); "
            f"{recorded + technical} version(s) recorded"
        )
    if failed:
        raise _PartlyFailedError(
            f"{failed} of {len(outcomes)} polic{'y' if len(outcomes) == 1 else 'ies'} failed "
            f"(listed above); {recorded + technical} version(s) recorded"
        )
    # A technical version changed the store too (commits to push, a site to rebuild).
    _changed_exit(exit_code, recorded + technical)


def _technical_reason(previous: Version | None, snapshot: Snapshot) -> str | None:
    """Return why ``snapshot`` is a technical re-extraction of ``previous`` (None: it is not).

    It is when the raw source is byte for byte the one ``previous`` was extracted from
    (its recorded hash) and only the extracted text differs: the page did not change.
    """
    if previous is None or previous.source_sha256 != snapshot.raw_sha256:
        return None
    if previous.text_sha256 == snapshot.text_sha256:
        return None  # the same text: nothing is recorded at all
    before = previous.trailer(EXTRACTOR_TRAILER)
    now = dict(snapshot.extra_trailers).get(EXTRACTOR_TRAILER)
    if before is not None and before != now:
        return "extractor changed"
    # No extractor recorded (a version from capture or import) or the same one: the rules
    # or the page's headers made the difference.
    return "same page, extracted differently"


def _record_one(
    store: GitStore,
    job: _Job,
    page: Page | None,
    got: Snapshot | PolicydiffError,
    state: dict[str, dict[str, str]],
    accept_suspect: bool,
    known: set[str],
) -> _Outcome:
    """Vet and record one capture (one store write); remember its validators if it stuck."""
    outcome = _Outcome(job.policy, job.url)
    if page is not None and page.not_modified:
        outcome.status, outcome.not_modified = "unchanged", True
        return outcome
    if isinstance(got, PolicydiffError):
        outcome.error = str(got)
        return outcome
    try:
        history = store.versions(job.policy) if job.policy in known else []
        reason = _technical_reason(history[-1] if history else None, got)
        snapshot = _vet_capture(store, got, accept_suspect=accept_suspect)
        if reason is not None:
            snapshot = replace(snapshot, technical=True)
        [result] = store.record([snapshot])
    except PolicydiffError as err:
        outcome.error = str(err)
        return outcome
    if result.version is not None:
        known.add(job.policy)
        outcome.status = "technical" if reason is not None else "recorded"
        outcome.version = result.version.number
        outcome.technical_reason = reason
    else:
        outcome.status = "unchanged"
    if page is not None and (page.etag or page.last_modified):
        state[job.policy] = {"key": job.key, "text": snapshot.text_sha256} | {
            name: value
            for name, value in (("etag", page.etag), ("last_modified", page.last_modified))
            if value
        }
    else:
        state.pop(job.policy, None)
    return outcome


def _outcome_json(outcome: _Outcome) -> dict[str, Any]:
    """Return the JSON form of one policy's outcome."""
    return {
        "policy": outcome.policy,
        "url": outcome.url,
        "status": outcome.status,
        "version": outcome.version,
        "not_modified": outcome.not_modified,
        "error": outcome.error,
        "technical_reason": outcome.technical_reason,
    }
