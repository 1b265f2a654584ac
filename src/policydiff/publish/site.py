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
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from policydiff.core.diff_model import Op
from policydiff.core.errors import UsageError, shown
from policydiff.engine.history import (
    Blame,
    ChangeStats,
    SectionHistory,
    Timeline,
    blame,
    engine_fingerprint,
    section_histories,
    version_stats,
)
from policydiff.engine.report import (
    CompareReport,
    Run,
    View,
    join_path,
    section_notes,
    side_from_version,
)
from policydiff.engine.search import Matcher, PolicyHits, search_store
from policydiff.publish.announce import (
    MAX_TEMPLATE_CHARS,
    TEMPLATE_SECONDS,
    SandboxedTemplates,
    safe_url,
    stylesheets,
)
from policydiff.publish.render.blame import blame_gaps, history_heading, version_tag
from policydiff.publish.render.html import CSS as REPORT_CSS
from policydiff.publish.render.html import (
    RenderMemo,
    escape,
    excerpt_html,
    formatted,
    render_parts,
)
from policydiff.store.inforce import in_force_until, start_of

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from policydiff.core.model import Version
    from policydiff.store.gitstore import GitStore

MANIFEST = ".policydiff-site.json"
# Up to this many versions every pair gets a diff page; beyond, consecutive pairs and
# each version against the latest (a pair costs one diff: n^2/2 grows fast).
ALL_PAIRS_MAX = 6

_ASSETS = resources.files("policydiff.publish") / "site_assets"
_SITE_CSS = (_ASSETS / "site.css").read_text(encoding="utf-8")
_PICKER_JS = (_ASSETS / "picker.js").read_text(encoding="utf-8")
_STYLE = REPORT_CSS + _SITE_CSS
_SLUG = re.compile(r"[^a-z0-9]+")

# The page templates (templates/site/ in the package), each replaceable by a file of the
# same name in the store's templates/site/ folder (see docs/templates.md).
SITE_TEMPLATES = (
    "base.html.j2",
    "index.html.j2",
    "policy.html.j2",
    "version.html.j2",
    "diff.html.j2",
    "compare.html.j2",
    "blame.html.j2",
    "sections.html.j2",
    "section.html.j2",
    "search.html.j2",
)
_TEMPLATES = resources.files("policydiff.publish") / "templates" / "site"
# A page's data may grow this much when escaped ("\u202e" -> 6 characters): its budget is
# an announcement's plus that much room for its texts.
_ESCAPED_GROWTH = 6


def _hash(text: str) -> str:
    """Return the CSP source expression allowing exactly this inline text."""
    return (
        "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"
    )


@functools.lru_cache(maxsize=64)
def _csp(styles: tuple[str, ...], *, script: bool) -> str:
    """Return the page's policy: its own styles (and script) by hash, nothing else at all."""
    allowed = " ".join(_hash(style) for style in styles) or "'none'"
    scripts = _hash(_PICKER_JS) if script else "'none'"
    return (
        f"default-src 'none'; style-src {allowed}; script-src {scripts}; "
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
    """One page of the site: where it goes, and the template and values that make it."""

    path: str
    title: str
    # Breadcrumbs above the content: (label, site path or None for the page itself).
    crumbs: tuple[tuple[str, str | None], ...]
    template: str
    values: Mapping[str, Any]
    # Pair data for the compare picker (JSON-able); the page then carries the script.
    pairs: Mapping[str, Any] | None = None


class SiteTemplates:
    """The site's page templates: packaged ones, some perhaps replaced by a store's own.

    They render in the announcements' sandbox and budget. Plain strings are escaped as
    the compare renderer escapes (controls made visible); ``Markup`` values (redlines, the
    chart) are HTML already. The Content-Security-Policy is worked out from the page as
    rendered: its own ``<style>`` elements by hash, and the picker script where it belongs.
    """

    def __init__(
        self, overrides: Mapping[str, str] | None = None, folder: Path | None = None
    ) -> None:
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(SITE_TEMPLATES))
        if unknown:
            raise UsageError(
                f"{unknown[0]!r} is not a site template (known: {', '.join(SITE_TEMPLATES)})"
            )
        sources = {name: (_TEMPLATES / name).read_text("utf-8") for name in SITE_TEMPLATES}
        sources.update(overrides)
        where = folder if folder is not None else Path("templates", "site")
        shown_names = {
            name: str(where / name) if name in overrides else f"site/{name}"
            for name in SITE_TEMPLATES
        }
        self._templates = SandboxedTemplates(
            sources,
            autoescape=True,
            refusal="a site template may use only the other site templates",
            shown=shown_names,
            escape=escape,
        )
        self._shown = shown_names
        # What a worker process needs to make the same templates (see _build_in_worker).
        self.overrides, self.folder = overrides, folder
        # Pages remembered from an earlier run were made with its templates.
        self.fingerprint = _overrides_fingerprint(overrides)
        self._marker = f"pd-csp-{secrets.token_hex(16)}"

    def render(self, page: Page) -> str:
        """Return the complete HTML document of ``page``."""
        script = page.pairs is not None
        context = {
            **page.values,
            "title": page.title,
            "page": page.path,
            "root": href(page.path, "index.html"),
            "crumbs": [
                {"label": label, "href": None if target is None else href(page.path, target)}
                for label, target in page.crumbs
            ],
            "csp": Markup(self._marker),  # noqa: S704 - our own token, replaced below
            "style": Markup(_STYLE),  # noqa: S704 - the package's stylesheet
            "script": Markup(_PICKER_JS),  # noqa: S704 - the package's script
            "pairs": Markup(json_for_script(page.pairs)) if script else None,  # noqa: S704
        }
        # The budget of an announcement, plus room for the page's own data (a policy's
        # text can be longer than an announcement may be).
        data = _chars_of(page.values)
        text = self._templates.render(
            page.template,
            context,
            chars=MAX_TEMPLATE_CHARS + _ESCAPED_GROWTH * data,
            seconds=TEMPLATE_SECONDS * (1 + data / MAX_TEMPLATE_CHARS),
        )
        if text.count(self._marker) != 1:
            raise UsageError(
                f"template {self._shown[page.template]}: a page must carry {{{{ csp }}}} once, "
                'in <meta http-equiv="Content-Security-Policy" content="{{ csp }}">'
            )
        policy = _csp(tuple(stylesheets(text)), script=script)
        return text.replace(self._marker, escape(policy))


def _overrides_fingerprint(overrides: Mapping[str, str]) -> str:
    """Return a hash of a store's own templates (the packaged ones are in the code's)."""
    return hashlib.sha256(json.dumps(sorted(overrides.items())).encode("utf-8")).hexdigest()


def _chars_of(value: object) -> int:
    """Return about how many characters of text ``value`` holds (strings in containers)."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        else:
            total += 20
    return total


def read_site_templates(folder: Path) -> dict[str, str]:
    """Return the site templates a store provides in ``folder`` (none if it is missing).

    Every file there must be one of ``SITE_TEMPLATES`` and a regular file (not a link):
    a misspelt name is an error, not a template silently left unused.
    """
    if not folder.is_dir():
        return {}
    found = {}
    for path in sorted(folder.iterdir()):
        if path.name not in SITE_TEMPLATES:
            raise UsageError(
                f"{shown(path)} is not a site template (known: {', '.join(SITE_TEMPLATES)})"
            )
        if path.is_symlink() or not path.is_file():
            raise UsageError(f"{shown(path)} is not a regular file: a template must be one")
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            reason = getattr(err, "strerror", None) or err
            raise UsageError(f"cannot read template {shown(path)}: {reason}") from None
        if len(source) > MAX_TEMPLATE_CHARS:
            raise UsageError(
                f"template {shown(path)} is longer than {MAX_TEMPLATE_CHARS:,} characters"
            )
        found[path.name] = source
    return found


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
    renderers = (
        "policydiff.publish.render.html",
        "policydiff.publish.render.mdhtml",
        "policydiff.engine.report",
    )
    for name in renderers:
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


def _to(source: str, target: str, label: str) -> dict[str, str]:
    """Return a link from one site page to another, for a template: its href and label."""
    return {"href": href(source, target), "label": label}


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
        # One policy's redlines and section pages share many pieces (see RenderMemo).
        self.memo = RenderMemo()

    # -- paths

    def version_page(self, version: Version) -> str:
        """Return the site path of a version's text page."""
        return version_page_path(self.policy, version.number)

    def diff_page(self, old: Version, new: Version) -> str:
        """Return the site path of the redline from ``old`` to ``new``."""
        return diff_page_path(self.policy, old.number, new.number)

    def _pairs(self) -> list[tuple[Version, Version]]:
        """Return the pairs that get a redline page, oldest first."""
        # The rule of has_diff_page, made without looking at every pair of a long history.
        versions = self.versions
        if len(versions) <= ALL_PAIRS_MAX:
            return list(itertools.combinations(versions, 2))
        wanted = set(itertools.pairwise(versions))
        wanted |= {(v, versions[-1]) for v in versions[:-1]}
        return sorted(wanted, key=lambda pair: (pair[0].number, pair[1].number))

    # -- pages

    def pages(self) -> list[Page]:
        """Return every page of the policy."""
        redlines = {(old, new): self._remembered_redline(old, new) for old, new in self.pairs}
        # The diffs to make: redlines not remembered, and the steps the section histories
        # and blame follow (technical versions left out), all in one parse-sharing order.
        steps = self.timeline.chain(include_technical=self.include_technical)
        wanted: dict[_Pair, None] = dict.fromkeys(zip([None, *steps], steps, strict=False))
        wanted.update((pair, None) for pair, found in redlines.items() if found is None)
        for old, new in _diff_order(list(wanted)):
            self.timeline.diff(old, new)
        stats = self.stats = version_stats(self.timeline)
        pages = [self._diff(old, new, redlines[old, new]) for old, new in self.pairs]
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
            rows.append(
                {
                    "number": version.number,
                    "captured": _when(version.captured_at),
                    "effective": _effective(version),
                    "change": _change_summary(change),
                    "technical": version.technical,
                    "illustrative": version.illustrative,
                    "suspect": version.suspect or None,
                    "cosmetic_only": change is not None and change.cosmetic_only,
                    "text_href": href(self.home, self.version_page(version)),
                    "redline_href": (
                        href(self.home, self.diff_page(versions[index - 1], version))
                        if index
                        else None
                    ),
                }
            )
        values = {
            "policy": self.policy,
            "first_captured": _day(versions[0].captured_at),
            "last_captured": _day(latest.captured_at),
            "effective": _effective(latest),
            "sections": sections,
            "links": {
                "latest": href(self.home, self.version_page(latest)),
                "blame": href(self.home, f"{self.base}/blame.html"),
                "sections": href(self.home, f"{self.base}/sections/index.html"),
                "compare": href(self.home, f"{self.base}/compare.html"),
            },
            "chart": Markup(chart_svg(versions, stats, links)),  # noqa: S704 - escaped SVG
            "versions": rows,
        }
        crumbs = (self.crumbs[0], (self.policy, None))
        return Page(self.home, self.policy, crumbs, "policy.html.j2", values)

    def _version(self, version: Version) -> Page:
        """Return a version's text page with its provenance."""
        self.progress()
        path = self.version_page(version)
        index = version.number - 1
        nav: list[dict[str, str]] = []
        if index:
            before = self.versions[index - 1]
            nav.append(_to(path, self.version_page(before), f"\u2190 version {before.number}"))
            nav.append(_to(path, self.diff_page(before, version), "redline from it"))
        if index + 1 < len(self.versions):
            after = self.versions[index + 1]
            nav.append(_to(path, self.version_page(after), f"version {after.number} \u2192"))
        if version == self.versions[-1]:
            nav.append(_to(path, f"{self.base}/blame.html", "blame"))
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
        archived = safe_url(version.archive_url)
        values = {
            "label": version.label,
            "links": nav,
            "facts": rows,
            "archive_link": archived or None,
            "text": self.timeline.text(version),
        }
        title = f"{version.label}"
        crumbs = (*self.crumbs, (f"version {version.number}", None))
        return Page(path, title, crumbs, "version.html.j2", values)

    def _diff(self, old: Version, new: Version, remembered: tuple[str, str] | None) -> Page:
        """Return the redline page of a pair, from the compare HTML renderer."""
        if old.number + 1 == new.number:
            self.progress()
        path = self.diff_page(old, new)
        title, redline_body = remembered or self._redline(old, new)
        nav = [_to(path, self.version_page(old), f"text of version {old.number}")]
        nav.append(_to(path, self.version_page(new), f"text of version {new.number}"))
        if old.number + 1 == new.number and old.number > 1:
            before = self.versions[old.number - 2]
            nav.append(_to(path, self.diff_page(before, old), "\u2190 previous change"))
        if old.number + 1 == new.number and new.number < len(self.versions):
            after = self.versions[new.number]
            nav.append(_to(path, self.diff_page(new, after), "next change \u2192"))
        # The compare renderer's HTML, escaped there: the template places it as it is.
        values = {"links": nav, "redline": Markup(redline_body)}  # noqa: S704
        crumb = f"redline {old.number} \u2192 {new.number}"
        return Page(path, title, (*self.crumbs, (crumb, None)), "diff.html.j2", values)

    @staticmethod
    def _redline_name(old: Version, new: Version) -> str:
        """Return the name a pair's redline is remembered under.

        Kept with the pair's diffs (sealed, by the texts' SHA-256s), keyed also by what the
        two sides show and the renderer's code: a re-run with nothing new renders nothing.
        """
        sides = side_from_version(old), side_from_version(new)
        described = hashlib.sha256(repr((_render_fingerprint(), sides)).encode()).hexdigest()
        return f"redline {old.text_sha256}..{new.text_sha256} {described}"

    def _remembered_redline(self, old: Version, new: Version) -> tuple[str, str] | None:
        """Return the title and body of a pair's redline as an earlier run made it, or None."""
        remembered = self.timeline.remembered
        payload = remembered.read(self._redline_name(old, new)) if remembered else None
        if payload is not None:
            with contextlib.suppress(ValueError, UnicodeDecodeError, RecursionError):
                found = json.loads(payload)
                if isinstance(found, list) and [type(x) for x in found] == [str, str]:
                    return found[0], found[1]
        return None

    def _redline(self, old: Version, new: Version) -> tuple[str, str]:
        """Return the title and body of a pair's redline, and remember them for next runs."""
        sides = side_from_version(old), side_from_version(new)
        report = CompareReport(*sides, self.timeline.diff(old, new))
        parts = render_parts(report, View(), memo=self.memo)
        remembered = self.timeline.remembered
        if remembered is not None:
            payload = json.dumps([parts.title, parts.body]).encode("utf-8")
            remembered.write(self._redline_name(old, new), payload)
        return parts.title, parts.body

    def _compare(self) -> Page:
        """Return the any-two-versions page: a picker (script) and the list of pairs."""
        path = f"{self.base}/compare.html"
        latest = self.versions[-1]
        previous = self.versions[-2] if len(self.versions) > 1 else latest
        pairs = {f"{a.number}-{b.number}": href(path, self.diff_page(a, b)) for a, b in self.pairs}
        values = {
            "all_pairs": len(self.versions) <= ALL_PAIRS_MAX,
            "versions": [{"number": v.number, "tag": version_tag(v)} for v in self.versions],
            "default_from": previous.number,
            "default_to": latest.number,
            "redlines": [
                {
                    "href": href(path, self.diff_page(a, b)),
                    "old_tag": version_tag(a),
                    "new_tag": version_tag(b),
                }
                for a, b in self.pairs
            ],
        }
        return Page(
            path,
            f"Compare versions of {self.policy}",
            (*self.crumbs, ("compare", None)),
            "compare.html.j2",
            values,
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
            before = previous_in_chain.get(since.commit)
            change = (
                href(path, self.diff_page(before, since))
                if before is not None and (before.commit, since.commit) in generated
                else None
            )
            rows.append(
                {
                    "classes": " ".join(classes),
                    "since_href": href(path, self.version_page(since)),
                    "since_tag": version_tag(since),
                    "since_title": title,
                    "edited": entry.edited != since,
                    "change_href": change,
                    "text": entry.text,
                }
            )
        values = {
            "label": result.version.label,
            "include_technical": result.include_technical,
            "rows": rows,
        }
        return Page(
            path,
            f"Blame {result.version.label}",
            (*self.crumbs, ("blame", None)),
            "blame.html.j2",
            values,
        )

    def _sections_index(self, histories: list[SectionHistory], paths: list[str]) -> Page:
        """Return the list of sections, each linking to its history."""
        path = f"{self.base}/sections/index.html"
        rows = []
        for history, target in zip(histories, paths, strict=True):
            span = f"versions {history.first.number}\u2013{history.last.number}"
            if history.removed_in is not None:
                span += f" (removed in {history.removed_in.number})"
            rows.append(
                {
                    "href": href(path, target),
                    "name": join_path(history.path),
                    "renamed": len(history.names) > 1,
                    "present": span,
                    "changes": len(history.changes),
                }
            )
        return Page(
            path,
            f"Sections of {self.policy}",
            (*self.crumbs, ("sections", None)),
            "sections.html.j2",
            {"sections": rows},
        )

    def _section(self, history: SectionHistory, path: str) -> Page:
        """Return one section's timeline: each change with its redline."""
        heading = history_heading(history)
        generated = {(a.commit, b.commit) for a, b in self.pairs}
        changes = []
        for change in history.changes:
            version = change.version
            links = [_to(path, self.version_page(version), "text")]
            if (
                change.previous is not None
                and (change.previous.commit, version.commit) in generated
            ):
                links.append(_to(path, self.diff_page(change.previous, version), "whole redline"))
            notes = (
                "in the first version followed"
                if change.previous is None
                else " \u00b7 ".join(section_notes(change.section, change.document))
            )
            if change.previous is None:
                text = (Run(Op.EQUAL, change.section.new_text),)
                # Formatted and escaped by the compare renderer.
                shown = formatted(text, memo=self.memo)
                body = Markup(f'<div class="pd-text">{shown}</div>')  # noqa: S704
            else:
                pieces = self.memo.excerpt(change.section, View())
                body = Markup("".join(excerpt_html(change.section, pieces, self.memo)))  # noqa: S704
            changes.append(
                {
                    "number": version.number,
                    "tag": version_tag(version),
                    "kind": change.kind,
                    "notes": notes,
                    "links": links,
                    "body": body,
                }
            )
        values = {"name": join_path(history.path), "lead": heading[1:], "changes": changes}
        crumbs = (*self.crumbs, ("sections", f"{self.base}/sections/index.html"))
        title = f"History of {join_path(history.path)} \u2013 {self.policy}"
        return Page(
            path, title, (*crumbs, (join_path(history.path), None)), "section.html.j2", values
        )


# The engine keeps the parses of the last texts it compared (compare._analyse): pairs
# taken in an order that reuses them parse each text about once instead of once a pair.
_PARSES_KEPT = 4


_Pair = tuple["Version | None", "Version"]


def _diff_order(pairs: Sequence[_Pair]) -> list[_Pair]:
    """Return pairs in an order whose diffs parse few texts twice (same pairs, same diffs).

    A long history's pairs (consecutive, and each against the latest) are best taken by
    their older version; the all-pairs set of a short one greedily, each next pair the
    one needing the fewest texts not among the last parsed. None stands for the empty
    text before the first version.
    """
    ordered = sorted(pairs, key=lambda pair: (_number(pair[0]), pair[1].number))
    if len(ordered) > math.comb(ALL_PAIRS_MAX, 2) + ALL_PAIRS_MAX:
        return ordered
    parsed: list[str] = []  # least recently used first
    out = []
    while ordered:
        best = min(
            ordered, key=lambda pair: sum(_text_id(v) not in parsed for v in pair)
        )  # min keeps the first of equals: older pairs first
        ordered.remove(best)
        out.append(best)
        for version in best:
            if _text_id(version) in parsed:
                parsed.remove(_text_id(version))
            parsed.append(_text_id(version))
        del parsed[:-_PARSES_KEPT]
    return out


def _number(version: Version | None) -> int:
    """Return a version's number (0 for the empty text before the first)."""
    return 0 if version is None else version.number


def _text_id(version: Version | None) -> str:
    """Return what tells a version's text from others ("" for the empty text)."""
    return "" if version is None else version.text_sha256


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


def search_page_path(phrase: str) -> str:
    """Return the site path of the page answering ``phrase``: readable, and unique per phrase."""
    words = "-".join(re.findall(r"[a-z0-9]+", phrase.casefold()))[:60] or "phrase"
    digest = hashlib.sha256(phrase.encode("utf-8")).hexdigest()[:8]
    return f"search/{words}-{digest}.html"


def _search_page(phrase: str, found: Sequence[PolicyHits], searched: int) -> Page:
    """Return the page that answers one search across the site's policies."""
    path = search_page_path(phrase)

    def version_link(version: Version) -> dict[str, str]:
        label = f"version {version.number} ({_day(version.captured_at)})"
        return _to(path, f"policies/{version.policy}/versions/{version.number}.html", label)

    policies = [
        {
            "policy": hits.policy,
            "href": href(path, policy_home_path(hits.policy)),
            "events": [
                {"kind": event.kind.value, "version": version_link(event.version)}
                for event in hits.events
            ],
            "latest": version_link(hits.latest),
            "in_latest": hits.in_latest,
            "context": hits.context or None,
            "context_version": version_link(hits.context_version) if hits.context else None,
        }
        for hits in found
    ]
    values = {"phrase": phrase, "searched": searched, "policies": policies}
    crumbs = (("All policies", "index.html"), (phrase, None))
    return Page(path, f"Search: {phrase}", crumbs, "search.html.j2", values)


def _index(
    policies: list[tuple[str, tuple[Version, ...], ChangeStats | None]],
    searches: Sequence[str] = (),
) -> Page:
    """Return the site's front page: every policy with its range and last change."""
    rows = [
        {
            "policy": policy,
            "href": href("index.html", policy_home_path(policy)),
            "versions": len(versions),
            "first_captured": _day(versions[0].captured_at),
            "last_captured": _day(versions[-1].captured_at),
            "effective": _effective(versions[-1]),
            "last_change": _change_summary(last),
        }
        for policy, versions, last in policies
    ]
    found = [
        {"phrase": phrase, "href": href("index.html", search_page_path(phrase))}
        for phrase in searches
    ]
    values = {"policies": rows, "searches": found}
    return Page("index.html", "Policy archive", (("All policies", None),), "index.html.j2", values)


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


def _open_folder(
    root: int,
    parts: Sequence[str],
    outdir: Path,
    *,
    create: bool,
    created: list[tuple[str, ...]] | None = None,
) -> int:
    """Open the folder ``parts`` below the open folder ``root``, creating it if asked.

    Each part is opened with ``O_NOFOLLOW``: a link swapped in for a folder fails the open
    instead of leading the site's writes and deletions elsewhere. Folders made are added
    to ``created``.
    """
    fd = os.dup(root)
    try:
        for depth, part in enumerate(parts):
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                    if created is not None:
                        created.append(tuple(parts[: depth + 1]))
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


# A page written but not yet in place: (its folder, its name, the temporary file's name).
_Staged = tuple[tuple[str, ...], str, str]


class _Folders:
    """The folder of the last page staged, kept open: a policy's pages come folder by folder.

    Each folder is opened from the site folder one part at a time (see _open_folder).
    """

    def __init__(self, root: int, outdir: Path, created: list[tuple[str, ...]]) -> None:
        self.root, self.outdir, self.created = root, outdir, created
        self.parts: tuple[str, ...] | None = None
        self.fd = -1

    def open(self, parts: tuple[str, ...]) -> int:
        """Return the open folder ``parts`` (created if missing)."""
        if parts != self.parts:
            self.close()
            self.fd = _open_folder(self.root, parts, self.outdir, create=True, created=self.created)
            self.parts = parts
        return self.fd

    def close(self) -> None:
        """Close the folder kept open."""
        if self.parts is not None:
            os.close(self.fd)
            self.parts = None


def _stage_if_changed(
    root: int,
    outdir: Path,
    name: str,
    page: bytes | StoredPage,
    created: list[tuple[str, ...]],
    folders: _Folders | None = None,
) -> _Staged | None:
    """Write ``page`` beside the site path ``name`` unless the page holds exactly it already.

    Returns the temporary file to move into place, or None. Paths are followed from the
    open site folder ``root`` without following any link; a link where the page goes is
    refused, not written through. A page read back from the last run is compared by its
    SHA-256, and its bytes inflated only if they must be written.
    """
    *parts, leaf = name.split("/")
    if folders is not None:
        folder = folders.open(tuple(parts))
    else:
        folder = _open_folder(root, parts, outdir, create=True, created=created)
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
                if os.fstat(current.fileno()).st_size == len(page) and (
                    hashlib.sha256(current.read()).digest() == page.sha256
                    if isinstance(page, StoredPage)
                    else current.read() == page
                ):
                    return None
        data = page.data() if isinstance(page, StoredPage) else page
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
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=folder)
            raise
    finally:
        if folders is None:
            os.close(folder)
    return tuple(parts), leaf, temporary


def _put_in_place(root: int, outdir: Path, staged: _Staged) -> None:
    """Move a staged page over its site path (atomically)."""
    parts, leaf, temporary = staged
    folder = _open_folder(root, parts, outdir, create=False)
    try:
        os.replace(temporary, leaf, src_dir_fd=folder, dst_dir_fd=folder)
    finally:
        os.close(folder)


def _unstage(
    root: int, outdir: Path, staged: list[_Staged], created: list[tuple[str, ...]]
) -> None:
    """Remove staged pages and the folders made for them: the site stays as it was."""
    for parts, _leaf, temporary in staged:
        with contextlib.suppress(OSError):
            folder = _open_folder(root, parts, outdir, create=False)
            try:
                os.unlink(temporary, dir_fd=folder)
            finally:
                os.close(folder)
    for parts in reversed(created):
        with contextlib.suppress(OSError):
            parent = _open_folder(root, parts[:-1], outdir, create=False)
            try:
                os.rmdir(parts[-1], dir_fd=parent)
            finally:
                os.close(parent)


def _write_if_changed(root: int, outdir: Path, name: str, data: bytes) -> bool:
    """Write ``data`` to the site path ``name`` atomically unless it holds exactly it already.

    Returns whether it was written.
    """
    staged = _stage_if_changed(root, outdir, name, data, [])
    if staged is not None:
        _put_in_place(root, outdir, staged)
    return staged is not None


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


def write_pages(outdir: Path, pages: Iterable[tuple[str, str | StoredPage]]) -> SiteReport:
    """Write (site path, HTML) pages under ``outdir`` where their bytes changed.

    Pages a previous run wrote (listed in its manifest) that are not written now are
    removed; a non-empty folder without a manifest is refused, so that nothing of
    anyone else's is ever overwritten or deleted. Nothing is written or deleted through
    a symbolic link inside ``outdir`` (``outdir`` itself may be one: the user named it);
    a folder holding one is refused before anything is written. Every page is written
    beside its place first and moved there once all are made: a page that fails (a
    store's template over its budget) leaves the folder as it was.
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
        made = not outdir.exists()
        outdir.mkdir(parents=True, exist_ok=True)
        root = os.open(outdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            staged: list[_Staged] = []
            created: list[tuple[str, ...]] = []
            folders = _Folders(root, outdir, created)
            try:
                for name, text in pages:
                    names.add(name)
                    data = text if isinstance(text, StoredPage) else text.encode("utf-8")
                    page = _stage_if_changed(root, outdir, name, data, created, folders)
                    if page is not None:
                        staged.append(page)
                folders.close()
            except BaseException:
                folders.close()
                _unstage(root, outdir, staged, created)
                if made:
                    with contextlib.suppress(OSError):
                        outdir.rmdir()
                raise
            for page in staged:
                _put_in_place(root, outdir, page)
            written = len(staged)
            unchanged = len(names) - written
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
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*")):
        if path.suffix in {".py", ".css", ".js", ".j2"} and path.is_file():
            digest.update(str(path.relative_to(package)).encode() + b"\0")
            with contextlib.suppress(OSError):
                digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def _pages_key(
    timeline: Timeline, include_technical: bool, templates: SiteTemplates | None
) -> tuple[str, str]:
    """Return the cache name of a policy's pages and the key of what they were built from."""
    name = f"pages {include_technical:d} {timeline.policy}"
    own = templates.fingerprint if templates is not None else _overrides_fingerprint({})
    built_from = repr((_code_fingerprint(), own, include_technical, timeline.versions))
    return name, hashlib.sha256(built_from.encode("utf-8")).hexdigest()


class StoredPage:
    """A page as the last run wrote it: its size and SHA-256 now, its bytes when asked.

    A re-run with nothing new compares the page on disk with the digest, and never
    inflates the policy's remembered pages unless a page must be written again.
    """

    __slots__ = ("_bodies", "_end", "_start", "sha256")

    def __init__(self, bodies: _Bodies, start: int, end: int, sha256: bytes) -> None:
        self._bodies, self._start, self._end, self.sha256 = bodies, start, end, sha256

    def __len__(self) -> int:
        return self._end - self._start

    def data(self) -> bytes:
        """Return the page's bytes."""
        data = self._bodies.inflated()[self._start : self._end]
        if hashlib.sha256(data).digest() != self.sha256:
            raise UsageError(self._bodies.damaged)
        return data


class _Bodies:
    """A policy's remembered pages, deflated together, inflated once on first need."""

    def __init__(self, packed: bytes, size: int, policy: str) -> None:
        self._packed: bytes | None = packed
        self._size = size
        self._data = b""
        self.damaged = (
            f"the pages of {policy} remembered in .git/policydiff are damaged: remove that "
            "folder and run 'policydiff site' again"
        )

    def inflated(self) -> bytes:
        """Return every page's bytes, one after the other."""
        if self._packed is not None:
            try:
                self._data = zlib.decompress(self._packed)
            except zlib.error:
                raise UsageError(self.damaged) from None
            self._packed = None
            if len(self._data) != self._size:
                raise UsageError(self.damaged)
        return self._data


# A policy's remembered pages: this line, then the length of a JSON header holding the key,
# the last change's stats and each page's path, size in bytes and SHA-256, the header,
# and the pages' UTF-8 one after the other, deflated. A re-run reads the header alone: a
# page whose file holds those bytes already is left as it is, never inflated.
_PAGES_FORMAT = b"policydiff site pages 2\n"


def _remembered_pages(
    timeline: Timeline, include_technical: bool, templates: SiteTemplates
) -> tuple[ChangeStats | None, list[tuple[str, StoredPage]]] | None:
    """Return a policy's pages as the last run built them, if its versions and code are the same.

    A policy's pages depend only on its versions (commits, trailers), the code and the
    templates, so
    a re-run with nothing new for the policy reads them back instead of building them.
    """
    remembered = timeline.remembered
    if remembered is None:
        return None
    name, key = _pages_key(timeline, include_technical, templates)
    payload = remembered.read(name)
    if payload is None or not payload.startswith(_PAGES_FORMAT):
        return None
    start = len(_PAGES_FORMAT) + 8
    size = int.from_bytes(payload[len(_PAGES_FORMAT) : start], "big")
    try:
        found = json.loads(payload[start : start + size])
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(found, dict) or found.get("key") != key:
        return None
    stats = ChangeStats.from_json(found.get("stats"))
    listed = found.get("pages")
    if (found.get("stats") is not None and stats is None) or not (
        isinstance(listed, list)
        and all(
            isinstance(page, list)
            and [type(part) for part in page] == [str, int, str]
            and page[1] >= 0
            and _SHA256_HEX.fullmatch(page[2])
            for page in listed
        )
    ):
        return None
    bodies = _Bodies(payload[start + size :], sum(page[1] for page in listed), timeline.policy)
    pages = []
    offset = 0
    for path, length, digest in listed:
        pages.append((path, StoredPage(bodies, offset, offset + length, bytes.fromhex(digest))))
        offset += length
    return stats, pages


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _remember_pages(
    timeline: Timeline,
    include_technical: bool,
    stats: ChangeStats | None,
    pages: list[tuple[str, str]],
    templates: SiteTemplates | None = None,
) -> None:
    """Keep a policy's pages with its diffs for the next run (sealed, one entry per policy)."""
    if timeline.remembered is None:
        return
    name, key = _pages_key(timeline, include_technical, templates)
    bodies = [html.encode("utf-8") for _, html in pages]
    listed = [
        [path, len(body), hashlib.sha256(body).hexdigest()]
        for (path, _), body in zip(pages, bodies, strict=True)
    ]
    document = {"key": key, "stats": stats.to_json() if stats else None, "pages": listed}
    header = json.dumps(document).encode("utf-8")
    packed = zlib.compress(b"".join(bodies), 1)
    payload = b"".join([_PAGES_FORMAT, len(header).to_bytes(8, "big"), header, packed])
    timeline.remembered.write(name, payload)


_Pages = list[tuple[str, str]]
# Pages built now (HTML) or read back from the last run.
_AnyPages = Sequence[tuple[str, str | StoredPage]]


def _build_policy(
    timeline: Timeline,
    include_technical: bool,
    templates: SiteTemplates,
    step: Callable[[], None],
) -> tuple[ChangeStats | None, _Pages]:
    """Build one policy's pages (its last change's stats with them) and remember them."""
    site = _PolicySite(timeline, include_technical=include_technical, progress=step)
    pages = [(page.path, templates.render(page)) for page in site.pages()]
    last_stats = site.stats[-1]
    _remember_pages(timeline, include_technical, last_stats, pages, templates)
    return last_stats, pages


# A worker process's store and templates, opened once for every policy it builds.
_WORKER_STATE: dict[tuple[str, ...], tuple[GitStore, SiteTemplates]] = {}


def _build_in_worker(
    path: Path,
    policy: str,
    include_technical: bool,
    overrides: dict[str, str],
    folder: Path | None,
) -> tuple[tuple[Version, ...], ChangeStats | None, _Pages]:
    """Build one policy's pages in a worker process: its versions, last stats and pages."""
    key = (str(path), str(folder), _overrides_fingerprint(overrides))
    if key not in _WORKER_STATE:
        from policydiff.store.gitstore import GitStore

        _WORKER_STATE[key] = GitStore(path), SiteTemplates(overrides, folder)
    store, templates = _WORKER_STATE[key]
    timeline = Timeline(store, policy, remember_diffs=True)
    return (timeline.versions, *_build_policy(timeline, include_technical, templates, _no_step))


def _no_step() -> None:
    """Count nothing (a worker's progress is counted when its policy is done)."""


def default_jobs() -> int:
    """Return how many processes build a site's policies: one per core this process may use."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, _MAX_JOBS))


# Each worker holds a policy's texts and diffs: more than this adds memory more than speed.
_MAX_JOBS = 8


@dataclass(slots=True)
class _Build:
    """One policy of the site on its way: read back, being built elsewhere, or to build here."""

    versions: tuple[Version, ...]
    done: tuple[ChangeStats | None, _AnyPages] | None = None
    future: Future[tuple[tuple[Version, ...], ChangeStats | None, _Pages]] | None = None
    timeline: Timeline | None = None


def _start_workers(jobs: int) -> ProcessPoolExecutor:
    """Start ``jobs`` worker processes (loaded only then: a re-run with nothing new needs none).

    They are spawned, not forked: this process may hold threads (a progress bar) and open
    git pipes that a fork would copy.
    """
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    return ProcessPoolExecutor(jobs, mp_context=get_context("spawn"))


def _ready(build: _Build) -> bool:
    """Whether a policy's pages are there to be yielded without waiting."""
    return build.done is not None or (build.future is not None and build.future.done())


def _policy_pages(
    store: GitStore,
    policies: Sequence[str],
    include_technical: bool,
    templates: SiteTemplates,
    jobs: int,
    step: Callable[[], None],
) -> Iterator[tuple[str, tuple[Version, ...], ChangeStats | None, _AnyPages]]:
    """Yield each policy's (id, versions, last stats, pages), in the order of ``policies``.

    Pages remembered from the last run are read back. The others are built here with
    ``jobs`` 1; else, once two policies need building, by ``jobs`` worker processes (a lone
    policy to build is built here: starting workers would cost more than it saves). At
    most a few policies wait to be yielded, so memory does not grow with the store.
    Every policy is built alone from the store, so the pages are the same either way.
    """
    # Policies read back or built elsewhere wait here for the one before them.
    window = 0 if jobs == 1 else 2 * jobs + 2
    waiting: deque[tuple[str, _Build]] = deque()
    pool: ProcessPoolExecutor | None = None

    def submit(policy: str) -> Future[tuple[tuple[Version, ...], ChangeStats | None, _Pages]]:
        assert pool is not None  # noqa: S101 - made before any submission
        arguments = (include_technical, templates.overrides, templates.folder)
        return pool.submit(_build_in_worker, store.path, policy, *arguments)

    def finish(
        policy: str, build: _Build
    ) -> tuple[str, tuple[Version, ...], ChangeStats | None, _AnyPages]:
        if build.timeline is not None:
            built = _build_policy(build.timeline, include_technical, templates, step)
            return policy, build.versions, *built
        pages: _AnyPages
        if build.future is not None:
            versions, stats, pages = build.future.result()
        else:
            assert build.done is not None  # noqa: S101 - one of the three is set
            versions, (stats, pages) = build.versions, build.done
        for _ in range(2 * len(versions) - 1):
            step()
        return policy, versions, stats, pages

    try:
        for policy in policies:
            timeline = Timeline(store, policy, remember_diffs=True)
            if not timeline.versions:
                continue
            build = _Build(timeline.versions)
            build.done = _remembered_pages(timeline, include_technical, templates)
            if build.done is None:
                deferred = [(name, b) for name, b in waiting if b.timeline is not None]
                if jobs == 1 or (pool is None and not deferred):
                    build.timeline = timeline
                else:
                    if pool is None:
                        pool = _start_workers(jobs)
                    for name, other in deferred:
                        other.future, other.timeline = submit(name), None
                    build.future = submit(policy)
            waiting.append((policy, build))
            while waiting and (len(waiting) > window or _ready(waiting[0][1])):
                yield finish(*waiting.popleft())
        while waiting:
            yield finish(*waiting.popleft())
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def build_pages(
    store: GitStore,
    policies: Sequence[str],
    *,
    include_technical: bool = False,
    progress: Callable[[int, int], None] | None = None,
    searches: Sequence[str] = (),
    templates: SiteTemplates | None = None,
    jobs: int = 1,
) -> Iterator[tuple[str, str | StoredPage]]:
    """Yield every page of the site for ``policies`` as (site path, HTML), policy by policy.

    A few policies' texts and diffs are held at a time, so memory does not grow with the
    store. Pages come from ``templates`` (default: the packaged ones); ``jobs`` processes
    build them (see _policy_pages).
    """
    templates = templates if templates is not None else SiteTemplates()
    # One step per version page and per consecutive redline.
    total = sum(max(2 * len(store.versions(policy)) - 1, 0) for policy in policies)
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    front: list[tuple[str, tuple[Version, ...], ChangeStats | None]] = []
    for policy, versions, last_stats, pages in _policy_pages(
        store, policies, include_technical, templates, jobs, step
    ):
        yield from pages
        front.append((policy, versions, last_stats))
    for phrase in searches:
        found, searched = search_store(store, Matcher(phrase), policies)
        yield search_page_path(phrase), templates.render(_search_page(phrase, found, searched))
    yield "index.html", templates.render(_index(front, searches))


def build_site(
    store: GitStore,
    outdir: Path,
    policies: Sequence[str],
    *,
    include_technical: bool = False,
    progress: Callable[[int, int], None] | None = None,
    searches: Sequence[str] = (),
    template_dir: Path | None = None,
    jobs: int | None = None,
) -> SiteReport:
    """Build the site for ``policies`` and write it to ``outdir``.

    Templates in ``template_dir`` (the store's ``templates/site/``) replace the packaged
    ones of the same name. ``jobs`` processes build the policies' pages (default: one per
    core); the pages are the same whatever their number.
    """
    overrides = read_site_templates(template_dir) if template_dir is not None else {}
    templates = SiteTemplates(overrides, template_dir)
    clash = _layout_clash(policies)
    if clash is not None:
        raise UsageError(clash)
    for phrase in searches:
        Matcher(phrase)  # refuse an empty phrase before anything is written
    pages = build_pages(
        store,
        policies,
        include_technical=include_technical,
        progress=progress,
        searches=searches,
        templates=templates,
        jobs=default_jobs() if jobs is None else max(1, jobs),
    )
    return write_pages(outdir, pages)
