"""A static HTML site of a store: timelines, texts, redlines, section histories and blame.

Pages load nothing from anywhere (no server, fonts, images or trackers) and work from
``file://``. Each page carries a Content-Security-Policy that allows only its own inline
stylesheet and, on the compare page, its own inline script, both by hash. Every piece of
policy text, path and metadata is escaped; the redlines come from the compare HTML
renderer. Pages are written only when their bytes change, and pages a previous run wrote
that are no longer part of the site are removed (only those listed in its manifest).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import functools
import hashlib
import importlib.util
import itertools
import json
import math
import os
import posixpath
import re
import secrets
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policydiff.announce import safe_url
from policydiff.diff_model import Op
from policydiff.errors import UsageError, shown
from policydiff.history import (
    Blame,
    ChangeStats,
    SectionHistory,
    Timeline,
    blame,
    engine_fingerprint,
    section_histories,
    version_stats,
)
from policydiff.inforce import in_force_until, start_of
from policydiff.render.blame import blame_gaps, history_heading, version_tag
from policydiff.render.html import CSS as REPORT_CSS
from policydiff.render.html import escape, excerpt_html, formatted, render_parts
from policydiff.report import (
    CompareReport,
    Run,
    View,
    excerpt,
    join_path,
    section_notes,
    side_from_version,
)
from policydiff.search import Matcher, PolicyHits, search_store

if TYPE_CHECKING:
    from policydiff.model import Version
    from policydiff.store import GitStore

MANIFEST = ".policydiff-site.json"
# Up to this many versions every pair gets a diff page; beyond, consecutive pairs and
# each version against the latest (a pair costs one diff: n^2/2 grows fast).
ALL_PAIRS_MAX = 6

_ASSETS = resources.files("policydiff") / "site_assets"
_SITE_CSS = (_ASSETS / "site.css").read_text(encoding="utf-8")
_PICKER_JS = (_ASSETS / "picker.js").read_text(encoding="utf-8")
_STYLE = REPORT_CSS + _SITE_CSS
_SLUG = re.compile(r"[^a-z0-9]+")


def _hash(text: str) -> str:
    """Return the CSP source expression allowing exactly this inline text."""
    return (
        "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"
    )


@functools.cache
def _csp(*, script: bool) -> str:
    """Return the page's policy: its own style (and script) by hash, nothing else at all."""
    scripts = _hash(_PICKER_JS) if script else "'none'"
    return (
        f"default-src 'none'; style-src {_hash(_STYLE)}; script-src {scripts}; "
        "img-src 'none'; font-src 'none'; connect-src 'none'; base-uri 'none'; "
        "form-action 'none'"
    )


def json_for_script(value: object) -> str:
    r"""Return JSON safe inside a ``<script type="application/json">`` element.

    ``<``, ``>`` and ``&`` become ``\u`` escapes, so no ``</script>`` or ``<!--`` can
    end or alter the element whatever the data holds.
    """
    text = json.dumps(value, ensure_ascii=True, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def href(source: str, target: str) -> str:
    """Return the relative link from page ``source`` to page ``target`` (site paths)."""
    start = source.split("/")[:-1]
    parts = target.split("/")
    if any(part in _UNUSUAL for part in (*start, *parts)) or target.startswith("/"):
        return posixpath.relpath(target, posixpath.dirname(source) or ".")
    # Site paths are plain relative paths: comparing their folders is relpath without its
    # two abspath calls (a site links every page to many others).
    common = 0
    for mine, theirs in zip(start, parts, strict=False):
        if mine != theirs:
            break
        common += 1
    return "/".join([".."] * (len(start) - common) + parts[common:]) or "."


_UNUSUAL = frozenset({"", ".", ".."})


@dataclass(frozen=True, slots=True)
class Page:
    """One page of the site: where it goes and what it says."""

    path: str
    title: str
    # Breadcrumbs above the content: (label, site path or None for the page itself).
    crumbs: tuple[tuple[str, str | None], ...]
    body: str
    # Pair data for the compare picker (JSON-able); the page then carries the script.
    pairs: Mapping[str, Any] | None = None

    def render(self) -> str:
        """Return the complete HTML document."""
        crumbs = " \u203a ".join(
            escape(label)
            if target is None
            else f'<a href="{escape(href(self.path, target))}">{escape(label)}</a>'
            for label, target in self.crumbs
        )
        tail = ""
        if self.pairs is not None:
            tail = (
                f'<script type="application/json" id="pd-pairs">{json_for_script(self.pairs)}'
                f"</script>\n<script>{_PICKER_JS}</script>\n"
            )
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" '
            f'content="{escape(_csp(script=self.pairs is not None))}">\n'
            '<meta name="referrer" content="no-referrer">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="generator" content="policydiff">\n'
            f"<title>{escape(self.title)}</title>\n"
            f"<style>{_STYLE}</style>\n</head>\n<body>\n"
            f'<div class="pd-report pd-site">\n<nav class="pd-crumbs" aria-label="Breadcrumbs">'
            f"{crumbs}</nav>\n<main>\n{self.body}</main>\n</div>\n{tail}</body>\n</html>\n"
        )


@dataclass(frozen=True, slots=True)
class SiteReport:
    """What a site build did."""

    pages: int
    written: int
    unchanged: int
    removed: int


# --------------------------------------------------------------------------- small pieces


@functools.cache
def _render_fingerprint() -> str:
    """Return a hash of the engine and of the code that renders a redline's HTML."""
    digest = hashlib.sha256(engine_fingerprint().encode())
    for name in ("policydiff.render.html", "policydiff.render.mdhtml", "policydiff.report"):
        spec = importlib.util.find_spec(name)
        with contextlib.suppress(OSError, TypeError):
            digest.update(Path(spec.origin if spec and spec.origin else "").read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def _day(moment: datetime) -> str:
    """Return a capture day."""
    return moment.astimezone(UTC).date().isoformat()


def _when(moment: datetime) -> str:
    """Return a capture time for display."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _effective(version: Version) -> str:
    """Return a version's recorded effective date, or a dash."""
    return version.effective_date.isoformat() if version.effective_date else "\u2013"


def _link(source: str, target: str, label: str, *, title: str | None = None) -> str:
    """Return an escaped link from one site page to another."""
    extra = f' title="{escape(title)}"' if title else ""
    return f'<a href="{escape(href(source, target))}"{extra}>{escape(label)}</a>'


def _change_summary(stats: ChangeStats | None) -> str:
    """Return a short description of what a version changed."""
    if stats is None:
        return "first version"
    if stats.identical:
        return "identical text"
    sections = []
    for count, word in (
        (stats.sections_added, "added"),
        (stats.sections_removed, "removed"),
        (stats.sections_changed, "changed"),
        (stats.sections_renamed, "renamed"),
        (stats.sections_cosmetic, "cosmetic"),
    ):
        if count:
            sections.append(f"{count} {word}")
    words = f"+{stats.words_inserted} \u2212{stats.words_deleted} words"
    if stats.cosmetic_only:
        touched = stats.sections_cosmetic
        return f"cosmetic edits in {touched} section(s)" if touched else "layout only"
    return f"{', '.join(sections) or 'no sections'} \u00b7 {words}"


def _slug(path: tuple[str, ...]) -> str:
    """Return a short file-name slug for a section path."""
    slug = _SLUG.sub("-", (path[-1] if path else "start").lower()).strip("-")
    return slug[:40].rstrip("-") or "section"


# --------------------------------------------------------------------------- the chart


def chart_svg(
    versions: Sequence[Version],
    stats: Sequence[ChangeStats | None],
    links: Sequence[str | None],
) -> str:
    """Return an inline SVG bar chart of words changed per version over capture time.

    Bars stand at each version's capture time, so busy periods show as clusters of
    tall bars; height is proportional to the square root of the words changed (so small
    edits stay visible next to rewrites), substantive below, cosmetic stacked above.
    ``links[i]`` is the relative link of version i's redline (None for none).
    """
    width, height = 720, 190
    left, right, top, bottom = 56, 16, 14, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    base = top + plot_h
    times = [v.captured_at.timestamp() for v in versions]
    first, last = (min(times), max(times)) if times else (0.0, 0.0)
    totals = [0 if s is None else s.substantive_words + s.cosmetic_words for s in stats]
    peak = max(totals, default=0) or 1

    def x(index: int) -> float:
        if last == first:
            return left + plot_w / 2
        return left + (times[index] - first) / (last - first) * plot_w

    def y(words: int) -> float:
        return plot_h * math.sqrt(words / peak)

    bar = max(2.0, min(14.0, plot_w / max(len(versions), 1) / 1.6))
    out = [
        (
            f'<svg class="pd-chart" viewBox="0 0 {width} {height}" role="img" '
            'aria-labelledby="pd-chart-title" xmlns="http://www.w3.org/2000/svg">'
        ),
        '<title id="pd-chart-title">Words changed per version over capture time</title>',
        f'<line class="pd-axis" x1="{left}" y1="{base}" x2="{width - right}" y2="{base}"/>',
        f'<line class="pd-axis" x1="{left}" y1="{top}" x2="{left}" y2="{base}"/>',
        f'<text class="pd-axis-label" x="{left - 6}" y="{top + 8}" text-anchor="end">{peak}</text>',
        f'<text class="pd-axis-label" x="{left - 6}" y="{base}" text-anchor="end">0</text>',
    ]
    out += _year_ticks(first, last, left, plot_w, base)
    if times:
        out.append(
            f'<text class="pd-axis-label" x="{left}" y="{height - 4}">'
            f"{escape(_day(versions[0].captured_at))}</text>"
        )
        out.append(
            f'<text class="pd-axis-label" x="{width - right}" y="{height - 4}" '
            f'text-anchor="end">{escape(_day(versions[-1].captured_at))}</text>'
        )
    for index, (version, change) in enumerate(zip(versions, stats, strict=True)):
        cx = x(index)
        label = f"{version_tag(version)}: {_change_summary(change)}"
        if change is not None and change.cosmetic_words:
            label += f", {change.cosmetic_words} cosmetic words"
        shapes = [
            (
                f'<rect class="pd-bar-hit" x="{cx - bar / 2:.1f}" y="{top}" width="{bar:.1f}" '
                f'height="{plot_h}"/>'
            )
        ]
        if change is None:
            shapes.append(f'<circle class="pd-bar-first" cx="{cx:.1f}" cy="{base - 4}" r="4"/>')
        else:
            substantive = y(change.substantive_words)
            total = y(change.substantive_words + change.cosmetic_words)
            if total < 1:
                shapes.append(f'<circle class="pd-bar-mark" cx="{cx:.1f}" cy="{base - 3}" r="3"/>')
            if substantive > 0:
                shapes.append(
                    f'<rect class="pd-bar-sub" x="{cx - bar / 2:.1f}" y="{base - substantive:.1f}"'
                    f' width="{bar:.1f}" height="{substantive:.1f}"/>'
                )
            if total - substantive > 0:
                shapes.append(
                    f'<rect class="pd-bar-cos" x="{cx - bar / 2:.1f}" y="{base - total:.1f}" '
                    f'width="{bar:.1f}" height="{total - substantive:.1f}"/>'
                )
        inner = f"<title>{escape(label)}</title>" + "".join(shapes)
        target = links[index]
        if target is None:
            out.append(f"<g>{inner}</g>")
        else:
            out.append(f'<a href="{escape(target)}">{inner}</a>')
    out.append("</svg>")
    return "\n".join(out)


def _year_ticks(first: float, last: float, left: int, plot_w: int, base: int) -> list[str]:
    """Return tick marks and labels at each new year inside the time range."""
    if last <= first:
        return []
    start = datetime.fromtimestamp(first, UTC).year + 1
    end = datetime.fromtimestamp(last, UTC).year
    years = range(start, end + 1)
    if len(years) > 30:
        years = years[:: math.ceil(len(years) / 30)]
    out = []
    for year in years:
        moment = datetime(year, 1, 1, tzinfo=UTC).timestamp()
        tick = left + (moment - first) / (last - first) * plot_w
        out.append(
            f'<line class="pd-axis" x1="{tick:.1f}" y1="{base}" x2="{tick:.1f}" y2="{base + 4}"/>'
        )
        out.append(
            f'<text class="pd-axis-label" x="{tick:.1f}" y="{base + 14}" '
            f'text-anchor="middle">{year}</text>'
        )
    return out


# --------------------------------------------------------------------------- one policy


class _PolicySite:
    """The pages of one policy, built from one timeline (each diff computed once)."""

    def __init__(
        self,
        timeline: Timeline,
        *,
        include_technical: bool,
        progress: Callable[[], None],
    ) -> None:
        self.timeline = timeline
        self.policy = timeline.policy
        self.versions = timeline.versions
        self.include_technical = include_technical
        self.progress = progress
        self.base = f"policies/{self.policy}"
        self.home = policy_home_path(self.policy)
        self.crumbs: tuple[tuple[str, str | None], ...] = (
            ("All policies", "index.html"),
            (self.policy, self.home),
        )
        self.pairs = self._pairs()
        self.stats: list[ChangeStats | None] = []

    # -- paths

    def version_page(self, version: Version) -> str:
        """Return the site path of a version's text page."""
        return version_page_path(self.policy, version.number)

    def diff_page(self, old: Version, new: Version) -> str:
        """Return the site path of the redline from ``old`` to ``new``."""
        return diff_page_path(self.policy, old.number, new.number)

    def _pairs(self) -> list[tuple[Version, Version]]:
        """Return the pairs that get a redline page, oldest first."""
        # The rule of _has_diff_page, made without looking at every pair of a long history.
        versions = self.versions
        if len(versions) <= ALL_PAIRS_MAX:
            return list(itertools.combinations(versions, 2))
        wanted = set(itertools.pairwise(versions))
        wanted |= {(v, versions[-1]) for v in versions[:-1]}
        return sorted(wanted, key=lambda pair: (pair[0].number, pair[1].number))

    # -- pages

    def pages(self) -> list[Page]:
        """Return every page of the policy."""
        stats = self.stats = version_stats(self.timeline)
        pages = [self._diff(old, new) for old, new in self.pairs]
        pages += [self._version(v) for v in self.versions]
        histories = section_histories(self.timeline, include_technical=self.include_technical)
        section_paths = [
            f"{self.base}/sections/{n:03d}-{_slug(h.path)}.html"
            for n, h in enumerate(histories, start=1)
        ]
        pages += [
            self._section(history, path)
            for history, path in zip(histories, section_paths, strict=True)
        ]
        pages.append(self._sections_index(histories, section_paths))
        result = blame(self.timeline, include_technical=self.include_technical)
        pages.append(self._blame(result))
        pages.append(self._compare())
        pages.append(self._timeline(stats, len(histories)))
        return pages

    def _timeline(self, stats: list[ChangeStats | None], sections: int) -> Page:
        """Return the policy's home: summary, chart, versions table, links."""
        versions = self.versions
        latest = versions[-1]
        links: list[str | None] = [None]
        links += [href(self.home, self.diff_page(a, b)) for a, b in itertools.pairwise(versions)]
        rows = []
        for index, version in enumerate(versions):
            change = stats[index]
            tags = ""
            if version.technical:
                tags += '<span class="pd-tag">technical</span>'
            if version.illustrative:
                tags += '<span class="pd-tag">illustrative edit, never published</span>'
            if version.suspect:
                tags += (
                    f'<span class="pd-tag" title="{escape(version.suspect)}">'
                    "suspect capture, not a policy change</span>"
                )
            if change is not None and change.cosmetic_only:
                tags += '<span class="pd-tag pd-cosmetic-only">cosmetic only</span>'
            redline = (
                _link(self.home, self.diff_page(versions[index - 1], version), "redline")
                if index
                else '<span class="pd-muted">\u2013</span>'
            )
            rows.append(
                f'<tr id="v{version.number}"><td class="pd-num">{version.number}</td>'
                f"<td>{escape(_when(version.captured_at))}</td>"
                f"<td>{escape(_effective(version))}</td>"
                f"<td>{escape(_change_summary(change))}{tags}</td>"
                f"<td>{_link(self.home, self.version_page(version), 'text')}</td>"
                f"<td>{redline}</td></tr>"
            )
        body = [
            f"<h1>{escape(self.policy)}</h1>",
            (
                f'<p class="pd-lead">{len(versions)} version(s), captured '
                f"{escape(_day(versions[0].captured_at))} to {escape(_day(latest.captured_at))}; "
                f"latest effective date {escape(_effective(latest))}.</p>"
            ),
            '<nav class="pd-links" aria-label="Views">',
            _link(self.home, self.version_page(latest), "Latest text"),
            _link(self.home, f"{self.base}/blame.html", "Blame (since when each paragraph stands)"),
            _link(self.home, f"{self.base}/sections/index.html", f"Sections ({sections})"),
            _link(self.home, f"{self.base}/compare.html", "Compare any two versions"),
            "</nav>",
            "<h2>How much changed, version by version</h2>",
            chart_svg(versions, stats, links),
            (
                '<p class="pd-legend"><span class="pd-swatch pd-sub"></span>substantive words '
                '(inserted + deleted)<span class="pd-swatch pd-cos"></span>cosmetic words '
                "(quotes, dashes, markup); bar height grows with the square root of the count; "
                "a dot marks a version with only layout changes, a blue dot the first version. "
                "Click a bar for its redline.</p>"
            ),
            "<h2>Versions</h2>",
            (
                '<table class="pd-versions"><thead><tr><th scope="col">#</th>'
                '<th scope="col">Captured</th><th scope="col">Effective</th>'
                '<th scope="col">Change from the version before</th><th scope="col">Text</th>'
                '<th scope="col">Redline</th></tr></thead><tbody>'
            ),
            *rows,
            "</tbody></table>",
        ]
        return Page(self.home, self.policy, (self.crumbs[0], (self.policy, None)), _join(body))

    def _version(self, version: Version) -> Page:
        """Return a version's text page with its provenance."""
        self.progress()
        path = self.version_page(version)
        index = version.number - 1
        nav = []
        if index:
            before = self.versions[index - 1]
            nav.append(_link(path, self.version_page(before), f"\u2190 version {before.number}"))
            nav.append(_link(path, self.diff_page(before, version), "redline from it"))
        if index + 1 < len(self.versions):
            after = self.versions[index + 1]
            nav.append(_link(path, self.version_page(after), f"version {after.number} \u2192"))
        if version == self.versions[-1]:
            nav.append(_link(path, f"{self.base}/blame.html", "blame"))
        until, uncertain = in_force_until(self.versions, index)
        if until is None:
            in_force = f"from {start_of(version).isoformat()} (the latest version)"
        elif uncertain:
            in_force = (
                f"from {start_of(version).isoformat()} until some day between "
                f"{_day(version.captured_at)} and {until.isoformat()} (the next version "
                "states no later date)"
            )
        else:
            in_force = f"from {start_of(version).isoformat()} until {until.isoformat()}"
        rows = [
            ("Captured", _when(version.captured_at)),
            ("Effective", _effective(version)),
            ("In force", in_force),
            ("Commit", version.commit),
            ("Text SHA-256", version.text_sha256),
            ("Source URL", version.source_url or "\u2013"),
            ("Archive URL", version.archive_url or "\u2013"),
            *(
                [
                    ("Source repository", version.source_repository),
                    ("Source commit", version.source_commit or "\u2013"),
                    ("Source path", version.source_path or "\u2013"),
                ]
                if version.source_repository
                else []
            ),
            ("Technical re-extraction", "yes" if version.technical else "no"),
            ("Illustrative edit (never published)", "yes" if version.illustrative else "no"),
            ("Suspect capture (not the policy)", version.suspect or "no"),
        ]
        body = [
            f"<h1>{escape(version.label)}</h1>",
            f'<nav class="pd-links" aria-label="Versions">{"".join(nav)}</nav>',
            '<table class="pd-meta"><tbody>',
            *(
                f'<tr><th scope="row">{escape(name)}</th><td><code>{escape(value)}</code></td></tr>'
                for name, value in rows
            ),
            "</tbody></table>",
            *(
                [f'<p>Archived copy: <a href="{escape(archived)}">{escape(archived)}</a></p>']
                if (archived := safe_url(version.archive_url))
                else []
            ),
            f'<pre class="pd-source">{escape(self.timeline.text(version))}</pre>',
        ]
        title = f"{version.label}"
        return Page(path, title, (*self.crumbs, (f"version {version.number}", None)), _join(body))

    def _diff(self, old: Version, new: Version) -> Page:
        """Return the redline page of a pair, from the compare HTML renderer."""
        if old.number + 1 == new.number:
            self.progress()
        path = self.diff_page(old, new)
        title, redline_body = self._redline(old, new)
        nav = [_link(path, self.version_page(old), f"text of version {old.number}")]
        nav.append(_link(path, self.version_page(new), f"text of version {new.number}"))
        if old.number + 1 == new.number and old.number > 1:
            before = self.versions[old.number - 2]
            nav.append(_link(path, self.diff_page(before, old), "\u2190 previous change"))
        if old.number + 1 == new.number and new.number < len(self.versions):
            after = self.versions[new.number]
            nav.append(_link(path, self.diff_page(new, after), "next change \u2192"))
        body = [f'<nav class="pd-links" aria-label="Versions">{"".join(nav)}</nav>', redline_body]
        crumb = f"redline {old.number} \u2192 {new.number}"
        return Page(path, title, (*self.crumbs, (crumb, None)), _join(body))

    def _redline(self, old: Version, new: Version) -> tuple[str, str]:
        """Return the title and body of a pair's redline, remembered across runs.

        Kept with the pair's diffs (sealed, by the texts' SHA-256s), keyed also by what the
        two sides show and the renderer's code: a re-run with nothing new renders nothing.
        """
        sides = side_from_version(old), side_from_version(new)
        remembered = self.timeline.remembered
        described = hashlib.sha256(repr((_render_fingerprint(), sides)).encode()).hexdigest()
        name = f"redline {old.text_sha256}..{new.text_sha256} {described}"
        payload = remembered.read(name) if remembered is not None else None
        if payload is not None:
            with contextlib.suppress(ValueError, UnicodeDecodeError, RecursionError):
                found = json.loads(payload)
                if isinstance(found, list) and [type(x) for x in found] == [str, str]:
                    return found[0], found[1]
        parts = render_parts(CompareReport(*sides, self.timeline.diff(old, new)), View())
        if remembered is not None:
            remembered.write(name, json.dumps([parts.title, parts.body]).encode("utf-8"))
        return parts.title, parts.body

    def _compare(self) -> Page:
        """Return the any-two-versions page: a picker (script) and the list of pairs."""
        path = f"{self.base}/compare.html"

        def options(chosen: Version) -> str:
            return "".join(
                f'<option value="{v.number}"{" selected" if v == chosen else ""}>'
                f"{escape(version_tag(v))}</option>"
                for v in self.versions
            )

        latest = self.versions[-1]
        previous = self.versions[-2] if len(self.versions) > 1 else latest
        pairs = {f"{a.number}-{b.number}": href(path, self.diff_page(a, b)) for a, b in self.pairs}
        arrow = " \u2192 "
        items = [
            f"<li>{_link(path, self.diff_page(a, b), version_tag(a) + arrow + version_tag(b))}</li>"
            for a, b in self.pairs
        ]
        scope = (
            "every pair of versions"
            if len(self.versions) <= ALL_PAIRS_MAX
            else "consecutive versions and every version against the latest"
        )
        body = [
            "<h1>Compare two versions</h1>",
            f'<p class="pd-lead">Redlines are generated for {scope}.</p>',
            '<div class="pd-picker" id="pd-picker" hidden>',
            f'<label>From <select id="pd-from">{options(previous)}</select></label>',
            f'<label>to <select id="pd-to">{options(latest)}</select></label>',
            '<button type="button" id="pd-go">Show the redline</button>',
            '<p class="pd-muted" id="pd-note" aria-live="polite"></p>',
            "</div>",
            f"<h2>Generated redlines ({len(self.pairs)})</h2>",
            '<ul class="pd-pairs">',
            *items,
            "</ul>",
        ]
        return Page(
            path,
            f"Compare versions of {self.policy}",
            (*self.crumbs, ("compare", None)),
            _join(body),
            pairs={"pairs": pairs},
        )

    def _blame(self, result: Blame) -> Page:
        """Return the blame page: each paragraph of the latest version with its age."""
        path = f"{self.base}/blame.html"
        chain = result.chain
        position = {v.commit: n for n, v in enumerate(chain)}
        previous_in_chain = {v.commit: chain[n - 1] for n, v in enumerate(chain) if n}
        generated = {(a.commit, b.commit) for a, b in self.pairs}
        rows = []
        for entry, gap in zip(result.entries, blame_gaps(result), strict=True):
            since = entry.since
            age = min(4, position[since.commit] * 5 // max(len(chain), 1))
            classes = [f"pd-age-{age}"]
            if gap:
                classes.append("pd-gap")
            if entry.heading:
                classes.append("pd-heading")
            title = f"stands since version {since.number} ({_when(since.captured_at)})"
            if entry.edited != since:
                title += f"; cosmetic edits in version {entry.edited.number}"
            gutter = _link(path, self.version_page(since), version_tag(since), title=title)
            if entry.edited != since:
                gutter += "*"
            before = previous_in_chain.get(since.commit)
            if before is not None and (before.commit, since.commit) in generated:
                gutter += " " + _link(
                    path, self.diff_page(before, since), "\u0394", title="the change that made it"
                )
            rows.append(
                f'<tr class="{" ".join(classes)}"><td class="pd-gutter">{gutter}</td>'
                f'<td class="pd-unit">{escape(entry.text)}</td></tr>'
            )
        skipped = "" if result.include_technical else " Technical re-extractions are skipped."
        body = [
            f"<h1>Blame: {escape(result.version.label)}</h1>",
            (
                '<p class="pd-lead">Each paragraph (headings and list items included) with the '
                "version since which its words have stood. Re-wrapping, quote style and other "
                "cosmetic edits do not make a paragraph new (* marks one edited cosmetically "
                "since), and a moved paragraph keeps its age. \u0394 opens the redline that "
                f"gave it its present wording.{skipped}</p>"
            ),
            '<table class="pd-blame"><tbody>',
            *rows,
            "</tbody></table>",
        ]
        return Page(
            path, f"Blame {result.version.label}", (*self.crumbs, ("blame", None)), _join(body)
        )

    def _sections_index(self, histories: list[SectionHistory], paths: list[str]) -> Page:
        """Return the list of sections, each linking to its history."""
        path = f"{self.base}/sections/index.html"
        rows = []
        for history, target in zip(histories, paths, strict=True):
            span = f"versions {history.first.number}\u2013{history.last.number}"
            if history.removed_in is not None:
                span += f" (removed in {history.removed_in.number})"
            renamed = '<span class="pd-tag">renamed</span>' if len(history.names) > 1 else ""
            rows.append(
                f"<tr><td>{_link(path, target, join_path(history.path))}{renamed}</td>"
                f'<td>{escape(span)}</td><td class="pd-num">{len(history.changes)}</td></tr>'
            )
        body = [
            "<h1>Sections</h1>",
            (
                '<p class="pd-lead">Every section that appeared in any version, followed through '
                "renames and moves, in order of first appearance.</p>"
            ),
            (
                '<table><thead><tr><th scope="col">Section (latest name)</th>'
                '<th scope="col">Present</th><th scope="col">Changes</th></tr></thead><tbody>'
            ),
            *rows,
            "</tbody></table>",
        ]
        return Page(
            path, f"Sections of {self.policy}", (*self.crumbs, ("sections", None)), _join(body)
        )

    def _section(self, history: SectionHistory, path: str) -> Page:
        """Return one section's timeline: each change with its redline."""
        heading = history_heading(history)
        out = [f"<h1>{escape(join_path(history.path))}</h1>"]
        out += [f'<p class="pd-lead">{escape(line)}</p>' for line in heading[1:]]
        generated = {(a.commit, b.commit) for a, b in self.pairs}
        for change in history.changes:
            version = change.version
            links = [_link(path, self.version_page(version), "text")]
            if (
                change.previous is not None
                and (change.previous.commit, version.commit) in generated
            ):
                links.append(_link(path, self.diff_page(change.previous, version), "whole redline"))
            out.append(f'<section class="pd-change" id="v{version.number}">')
            out.append(f"<h2>{escape(version_tag(version))} \u00b7 {escape(change.kind)}</h2>")
            notes = (
                "in the first version followed"
                if change.previous is None
                else " \u00b7 ".join(section_notes(change.section, change.document))
            )
            out.append(f'<p class="pd-notes">{escape(notes)} \u00b7 {" ".join(links)}</p>')
            if change.previous is None:
                text = (Run(Op.EQUAL, change.section.new_text),)
                out.append(f'<div class="pd-text">{formatted(text)}</div>')
                out.append("</section>")
                continue
            out += excerpt_html(change.section, excerpt(change.section, View()))
            out.append("</section>")
        crumbs = (*self.crumbs, ("sections", f"{self.base}/sections/index.html"))
        title = f"History of {join_path(history.path)} \u2013 {self.policy}"
        return Page(path, title, (*crumbs, (join_path(history.path), None)), _join(out))


# What the site writes in a policy's folder besides the policies nested in it.
_POLICY_PAGE_NAMES = frozenset(
    {"index.html", "blame.html", "compare.html", "versions", "diffs", "sections"}
)


def _layout_clash(policies: Sequence[str]) -> str | None:
    """Say why ``policies`` cannot share one site, or None.

    A store made before nested ids were refused may hold ``acme`` and ``acme/sections``:
    the second's pages would land on the first's section pages.
    """
    chosen = set(policies)
    for policy in sorted(chosen):
        parts = policy.split("/")
        for depth in range(1, len(parts)):
            outer = "/".join(parts[:depth])
            if outer in chosen and parts[depth] in _POLICY_PAGE_NAMES:
                return (
                    f"policies {outer!r} and {policy!r} cannot share a site: the pages of "
                    f"{policy!r} would replace the {parts[depth]!r} pages of {outer!r} "
                    "(build the site for one of them with --policy)"
                )
    return None


def version_page_path(policy: str, number: int) -> str:
    """Return the site path of the text page of version ``number`` of ``policy``."""
    return f"policies/{policy}/versions/{number}.html"


def diff_page_path(policy: str, old: int, new: int) -> str:
    """Return the site path of the redline from version ``old`` to ``new`` of ``policy``."""
    return f"policies/{policy}/diffs/{old}-{new}.html"


def has_diff_page(old: int, new: int, count: int) -> bool:
    """Whether the site of a policy with ``count`` versions has the redline ``old`` -> ``new``.

    The rule of ``_PolicySite._pairs``: every pair up to ALL_PAIRS_MAX versions, else
    consecutive versions and each version against the latest.
    """
    return 1 <= old < new <= count and (count <= ALL_PAIRS_MAX or new in {old + 1, count})


def policy_home_path(policy: str) -> str:
    """Return the site path of a policy's timeline page."""
    return f"policies/{policy}/index.html"


def _join(lines: list[str]) -> str:
    """Return body lines as one string ending with a newline."""
    return "\n".join(lines) + "\n"


def search_page_path(phrase: str) -> str:
    """Return the site path of the page answering ``phrase``: readable, and unique per phrase."""
    words = "-".join(re.findall(r"[a-z0-9]+", phrase.casefold()))[:60] or "phrase"
    digest = hashlib.sha256(phrase.encode("utf-8")).hexdigest()[:8]
    return f"search/{words}-{digest}.html"


def _search_page(phrase: str, found: Sequence[PolicyHits], searched: int) -> Page:
    """Return the page that answers one search across the site's policies."""
    path = search_page_path(phrase)

    def version_link(version: Version) -> str:
        label = f"version {version.number} ({_day(version.captured_at)})"
        target = f"policies/{version.policy}/versions/{version.number}.html"
        return _link(path, target, label)

    sections = []
    for hits in found:
        events = "".join(
            f"<li>{escape(event.kind.value)}: {version_link(event.version)}</li>"
            for event in hits.events
        )
        state = "still there" if hits.in_latest else "absent"
        sections.append(
            f"<h2>{_link(path, policy_home_path(hits.policy), hits.policy)}</h2>"
            f"<ul>{events}<li>latest, {version_link(hits.latest)}: {escape(state)}</li></ul>"
            + (
                f"<blockquote><p>{escape(hits.context)}</p></blockquote>"
                f'<p class="pd-muted">from {version_link(hits.context_version)}</p>'
                if hits.context
                else ""
            )
        )
    summary = (
        f"Found in {len(found)} polic{'y' if len(found) == 1 else 'ies'} "
        f"({searched} recorded version(s) searched). Matching ignores case, quotes, dashes, "
        "markup and line wrapping; made with <code>policydiff site --search</code>."
    )
    body = [
        f"<h1>Search: \u201c{escape(phrase)}\u201d</h1>",
        f'<p class="pd-lead">{summary}</p>',
        *sections,
    ]
    return Page(
        path, f"Search: {phrase}", (("All policies", "index.html"), (phrase, None)), _join(body)
    )


def _index(
    policies: list[tuple[str, tuple[Version, ...], ChangeStats | None]],
    searches: Sequence[str] = (),
) -> Page:
    """Return the site's front page: every policy with its range and last change."""
    rows = []
    for policy, versions, last in policies:
        rows.append(
            f"<tr><td>{_link('index.html', policy_home_path(policy), policy)}</td>"
            f'<td class="pd-num">{len(versions)}</td>'
            f"<td>{escape(_day(versions[0].captured_at))}</td>"
            f"<td>{escape(_day(versions[-1].captured_at))}</td>"
            f"<td>{escape(_effective(versions[-1]))}</td>"
            f"<td>{escape(_change_summary(last))}</td></tr>"
        )
    body = [
        "<h1>Policy archive</h1>",
        (
            '<p class="pd-lead">Every recorded version of each policy, from a policydiff store. '
            "Texts are shown exactly as recorded; check the archive itself with "
            "<code>policydiff verify</code>.</p>"
        ),
        (
            '<table><thead><tr><th scope="col">Policy</th><th scope="col">Versions</th>'
            '<th scope="col">First captured</th><th scope="col">Last captured</th>'
            '<th scope="col">Effective</th><th scope="col">Last change</th></tr></thead><tbody>'
        ),
        *rows,
        "</tbody></table>",
    ]
    if searches:
        links = "".join(
            f"<li>{_link('index.html', search_page_path(phrase), phrase)}</li>"
            for phrase in searches
        )
        body += ["<h2>Searches</h2>", f"<ul>{links}</ul>"]
    return Page("index.html", "Policy archive", (("All policies", None),), _join(body))


# --------------------------------------------------------------------------- writing


def _read_manifest(path: Path) -> set[str] | None:
    """Return the pages a previous run wrote, or None if there is no (valid) manifest."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pages"), list):
        return None
    # Only plain relative .html paths inside the folder: a tampered manifest must not be
    # able to make us delete anything else.
    return {
        page
        for page in data["pages"]
        if isinstance(page, str)
        and page.endswith(".html")
        and not page.startswith("/")
        and ".." not in page.split("/")
        and "\\" not in page
    }


# Folders of the site are opened one part at a time, never through a symbolic link.
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class _LinkInSiteError(UsageError):
    """A symbolic link inside the site folder, where the site would write or delete."""

    def __init__(self, outdir: Path, name: str) -> None:
        super().__init__(
            f"{shown(outdir / name)} is a symbolic link: 'policydiff site' never writes or "
            "deletes through links in its folder (remove the link, or choose a new directory)"
        )


def _links_in(outdir: Path) -> str | None:
    """Return the first symbolic link under ``outdir`` (relative, sorted walk), if any."""
    for directory, subdirectories, files in os.walk(outdir):
        subdirectories.sort()
        for name in sorted([*subdirectories, *files]):
            path = Path(directory, name)
            if path.is_symlink():
                return path.relative_to(outdir).as_posix()
    return None


def _is_link(folder: int, name: str) -> bool:
    """Whether ``name`` in the open folder ``folder`` is a symbolic link."""
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _open_folder(root: int, parts: Sequence[str], outdir: Path, *, create: bool) -> int:
    """Open the folder ``parts`` below the open folder ``root``, creating it if asked.

    Each part is opened with ``O_NOFOLLOW``: a link swapped in for a folder fails the open
    instead of leading the site's writes and deletions elsewhere.
    """
    fd = os.dup(root)
    try:
        for depth, part in enumerate(parts):
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
            try:
                child = os.open(part, _FOLDER_FLAGS, dir_fd=fd)
            except OSError as err:
                # Linux says ENOTDIR (O_DIRECTORY) or ELOOP (O_NOFOLLOW) for a link.
                if err.errno in {errno.ELOOP, errno.ENOTDIR} and _is_link(fd, part):
                    raise _LinkInSiteError(outdir, "/".join(parts[: depth + 1])) from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_if_changed(root: int, outdir: Path, name: str, data: bytes) -> bool:
    """Write ``data`` to the site path ``name`` atomically unless it holds exactly it already.

    Returns whether it was written. Paths are followed from the open site folder ``root``
    without following any link; a link where the page goes is refused, not written through.
    """
    *parts, leaf = name.split("/")
    folder = _open_folder(root, parts, outdir, create=True)
    try:
        try:
            fd = os.open(leaf, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
        except FileNotFoundError:
            pass
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise _LinkInSiteError(outdir, name) from None
            raise
        else:
            with os.fdopen(fd, "rb") as current:
                if os.fstat(current.fileno()).st_size == len(data) and current.read() == data:
                    return False
        temporary = f".{leaf}.{secrets.token_hex(8)}.tmp"
        fd = os.open(
            temporary,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=folder,
        )
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                os.fchmod(out.fileno(), 0o644)  # pages are for publishing
            os.replace(temporary, leaf, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=folder)
            raise
    finally:
        os.close(folder)
    return True


def _remove_page(root: int, outdir: Path, name: str) -> bool:
    """Remove the site path ``name`` if it is a file, then its folders left empty.

    Only names inside the open site folder ``root`` are touched, never through a link (a
    link at ``name`` itself is removed as a link: its target is left alone).
    """
    *parts, leaf = name.split("/")
    try:
        folder = _open_folder(root, parts, outdir, create=False)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        if not stat.S_ISREG(os.stat(leaf, dir_fd=folder, follow_symlinks=False).st_mode):
            return False
        os.unlink(leaf, dir_fd=folder)
    except FileNotFoundError:
        return False
    finally:
        os.close(folder)
    # Remove the folders left empty, deepest first, up to (not including) the site folder.
    for depth in range(len(parts), 0, -1):
        parent = _open_folder(root, parts[: depth - 1], outdir, create=False)
        try:
            os.rmdir(parts[depth - 1], dir_fd=parent)
        except OSError:
            return True
        finally:
            os.close(parent)
    return True


def write_pages(outdir: Path, pages: Iterable[tuple[str, str]]) -> SiteReport:
    """Write (site path, HTML) pages under ``outdir`` where their bytes changed.

    Pages a previous run wrote (listed in its manifest) that are not written now are
    removed; a non-empty folder without a manifest is refused, so that nothing of
    anyone else's is ever overwritten or deleted. Nothing is written or deleted through
    a symbolic link inside ``outdir`` (``outdir`` itself may be one: the user named it);
    a folder holding one is refused before anything is written.
    """
    manifest = outdir / MANIFEST
    previous: set[str] = set()
    names: set[str] = set()
    written = unchanged = removed = 0
    try:
        if outdir.exists():
            if not outdir.is_dir():
                raise UsageError(f"{shown(outdir)} is a file, not a directory")
            known = _read_manifest(manifest)
            if known is None and any(outdir.iterdir()):
                raise UsageError(
                    f"{shown(outdir)} is not empty and was not written by 'policydiff site': "
                    "choose a new or empty directory"
                )
            link = _links_in(outdir)
            if link is not None:
                raise _LinkInSiteError(outdir, link)
            previous = known or set()
        outdir.mkdir(parents=True, exist_ok=True)
        root = os.open(outdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for name, text in pages:
                names.add(name)
                if _write_if_changed(root, outdir, name, text.encode("utf-8")):
                    written += 1
                else:
                    unchanged += 1
            for name in sorted(previous - names):
                removed += _remove_page(root, outdir, name)
            listing = {"generator": "policydiff site", "pages": sorted(names)}
            data = (json.dumps(listing, indent=1) + "\n").encode("utf-8")
            _write_if_changed(root, outdir, MANIFEST, data)
        finally:
            os.close(root)
    except OSError as err:
        raise UsageError(
            f"cannot write the site to {shown(outdir)}: {err.strerror or err}"
        ) from None
    return SiteReport(len(names), written, unchanged, removed)


@functools.cache
def _code_fingerprint() -> str:
    """Return a hash of every source and asset file of the package (what pages depend on)."""
    digest = hashlib.sha256(engine_fingerprint().encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.suffix in {".py", ".css", ".js", ".j2"} and path.is_file():
            digest.update(str(path.relative_to(package)).encode() + b"\0")
            with contextlib.suppress(OSError):
                digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def _pages_key(timeline: Timeline, include_technical: bool) -> tuple[str, str]:
    """Return the cache name of a policy's pages and the key of what they were built from."""
    name = f"pages {include_technical:d} {timeline.policy}"
    built_from = repr((_code_fingerprint(), include_technical, timeline.versions))
    return name, hashlib.sha256(built_from.encode("utf-8")).hexdigest()


def _remembered_pages(
    timeline: Timeline, include_technical: bool
) -> tuple[ChangeStats | None, list[tuple[str, str]]] | None:
    """Return a policy's pages as the last run built them, if its versions and code are the same.

    A policy's pages depend only on its versions (commits, trailers) and on the code, so
    a re-run with nothing new for the policy reads them back instead of building them.
    """
    remembered = timeline.remembered
    if remembered is None:
        return None
    name, key = _pages_key(timeline, include_technical)
    payload = remembered.read(name)
    if payload is None:
        return None
    try:
        found = json.loads(zlib.decompress(payload))
    except (zlib.error, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(found, dict) or found.get("key") != key:
        return None
    pages = found.get("pages")
    stats = ChangeStats.from_json(found.get("stats"))
    if (found.get("stats") is not None and stats is None) or not (
        isinstance(pages, list)
        and all(
            isinstance(page, list) and [type(part) for part in page] == [str, str] for page in pages
        )
    ):
        return None
    return stats, [(path, html) for path, html in pages]


def _remember_pages(
    timeline: Timeline,
    include_technical: bool,
    stats: ChangeStats | None,
    pages: list[tuple[str, str]],
) -> None:
    """Keep a policy's pages with its diffs for the next run (sealed, one entry per policy)."""
    if timeline.remembered is None:
        return
    name, key = _pages_key(timeline, include_technical)
    document = {"key": key, "stats": stats.to_json() if stats else None, "pages": pages}
    timeline.remembered.write(name, zlib.compress(json.dumps(document).encode("utf-8"), 1))


def build_pages(
    store: GitStore,
    policies: Sequence[str],
    *,
    include_technical: bool = False,
    progress: Callable[[int, int], None] | None = None,
    searches: Sequence[str] = (),
) -> Iterator[tuple[str, str]]:
    """Yield every page of the site for ``policies`` as (site path, HTML), policy by policy.

    One policy's texts and diffs are held at a time, so memory does not grow with the store.
    """
    # One step per version page and per consecutive redline.
    total = sum(max(2 * len(store.versions(policy)) - 1, 0) for policy in policies)
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    front: list[tuple[str, tuple[Version, ...], ChangeStats | None]] = []
    for policy in policies:
        timeline = Timeline(store, policy, remember_diffs=True)
        if not timeline.versions:
            continue
        remembered = _remembered_pages(timeline, include_technical)
        if remembered is not None:
            last_stats, pages = remembered
            for _ in range(2 * len(timeline.versions) - 1):
                step()
        else:
            site = _PolicySite(timeline, include_technical=include_technical, progress=step)
            pages = [(page.path, page.render()) for page in site.pages()]
            last_stats = site.stats[-1]
            _remember_pages(timeline, include_technical, last_stats, pages)
        yield from pages
        front.append((policy, timeline.versions, last_stats))
    for phrase in searches:
        found, searched = search_store(store, Matcher(phrase), policies)
        yield search_page_path(phrase), _search_page(phrase, found, searched).render()
    yield "index.html", _index(front, searches).render()


def build_site(
    store: GitStore,
    outdir: Path,
    policies: Sequence[str],
    *,
    include_technical: bool = False,
    progress: Callable[[int, int], None] | None = None,
    searches: Sequence[str] = (),
) -> SiteReport:
    """Build the site for ``policies`` and write it to ``outdir``."""
    clash = _layout_clash(policies)
    if clash is not None:
        raise UsageError(clash)
    for phrase in searches:
        Matcher(phrase)  # refuse an empty phrase before anything is written
    pages = build_pages(
        store, policies, include_technical=include_technical, progress=progress, searches=searches
    )
    return write_pages(outdir, pages)
