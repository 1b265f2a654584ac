"""The HTML format: one standalone page (or a fragment plus CSS) with a linked redline.

The page loads nothing (no scripts, fonts or images), so it works from ``file://`` and
carries a Content-Security-Policy that forbids everything but its own stylesheet. Every
piece of policy text, label and path goes through ``html.escape``. Policy text is shown
formatted (render.mdhtml lays the runs over markdown-it's tokens); its links are kept
only for ``http``, ``https`` and ``mailto`` targets, the page's own links are the
``#pd-s-N`` and ``#pd-move-N-to``/``-from`` anchors. A section with cosmetic edits is
rendered twice, without and with them, and a checkbox (CSS only) picks the view.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from policydiff.core.diff_model import MovedBlock, Op, SectionDiff, SectionStatus
from policydiff.engine.report import (
    CompareReport,
    Elided,
    Excerpt,
    Run,
    Side,
    View,
    effective_line,
    elided_text,
    empty_note,
    escape_controls,
    excerpt,
    hidden_lines,
    join_path,
    paragraph_text,
    renumbered_line,
    section_notes,
    select_sections,
    status_words,
    summary_line,
    verdict_line,
    words_line,
)
from policydiff.publish.render.mdhtml import render_runs, table_headers

CSS = """\
.pd-report { --pd-del-bg: #ffe1e1; --pd-del-fg: #8a1010; --pd-ins-bg: #d9f5dd;
  --pd-ins-fg: #0b5a1c; --pd-muted: #5f6368; --pd-rule: #d0d4d9; --pd-moved-fg: #0a5e78;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  max-width: 60rem; margin: 0 auto; padding: 1rem 1.5rem; color: #1f2328; }
.pd-report h1 { font-size: 1.5rem; margin: 0 0 .5rem; overflow-wrap: anywhere; }
.pd-report h2 { font-size: 1.15rem; margin: 0 0 .25rem; overflow-wrap: anywhere; }
.pd-report .pd-verdict { font-weight: 600; }
.pd-report table { border-collapse: collapse; margin: .5rem 0; }
.pd-report th, .pd-report td { text-align: left; vertical-align: top;
  padding: .2rem .75rem .2rem 0; border-bottom: 1px solid var(--pd-rule); }
.pd-report code { font-size: .85em; overflow-wrap: anywhere; }
.pd-report .pd-counts { padding-left: 1.2rem; }
.pd-report .pd-toc ol { padding-left: 1.6rem; }
.pd-report .pd-toc a { overflow-wrap: anywhere; }
.pd-report .pd-status, .pd-report .pd-words { color: var(--pd-muted); font-size: .9em; }
.pd-report .pd-section { border-top: 1px solid var(--pd-rule); padding-top: 1rem;
  margin-top: 1.5rem; }
.pd-report .pd-notes, .pd-report .pd-elided { color: var(--pd-muted); font-style: italic;
  margin: .25rem 0; }
.pd-report .pd-text { overflow-wrap: anywhere; margin: .5rem 0; }
.pd-report .pd-text > :first-child { margin-top: 0; }
.pd-report .pd-text p, .pd-report .pd-text ul, .pd-report .pd-text ol,
.pd-report .pd-text blockquote, .pd-report .pd-text pre { margin: .4rem 0; }
.pd-report .pd-text h3, .pd-report .pd-text h4, .pd-report .pd-text h5,
.pd-report .pd-text h6 { font-size: 1.05rem; margin: .6rem 0 .3rem; }
.pd-report .pd-text h3.pd-md-h1 { font-size: 1.2rem; }
.pd-report .pd-text ul, .pd-report .pd-text ol { padding-left: 1.6rem; }
.pd-report .pd-text ol.pd-ol { list-style: none; }
.pd-report .pd-text .pd-marker { font-variant-numeric: tabular-nums; }
.pd-report .pd-text pre, .pd-report .pd-text .pd-plain { white-space: pre-wrap; }
.pd-report .pd-text blockquote { border-left: 3px solid var(--pd-rule); margin-left: 0;
  padding-left: .75rem; }
.pd-report .pd-text .pd-md-table th, .pd-report .pd-text .pd-md-table td {
  border: 1px solid var(--pd-rule); padding: .2rem .5rem; }
.pd-report .pd-text .pd-image { font-style: italic; }
.pd-report .pd-text .pd-fold td { color: var(--pd-muted); font-style: italic; }
.pd-report .pd-text li.pd-marker-ins::marker { color: var(--pd-ins-fg); }
.pd-report .pd-text li.pd-marker-del::marker { color: var(--pd-del-fg); }
.pd-report .pd-text li.pd-cosmetic::marker { color: var(--pd-muted); }
.pd-report del, .pd-report .pd-key-del { background: var(--pd-del-bg);
  color: var(--pd-del-fg); text-decoration: line-through; }
.pd-report ins, .pd-report .pd-key-ins { background: var(--pd-ins-bg);
  color: var(--pd-ins-fg); text-decoration: underline; }
.pd-report del.pd-cosmetic, .pd-report ins.pd-cosmetic, .pd-report .pd-key-cosmetic {
  background: none; color: var(--pd-muted); text-decoration-line: underline;
  text-decoration-style: dotted; }
.pd-report del.pd-cosmetic { text-decoration-line: line-through; }
.pd-report .pd-note { color: var(--pd-muted); font-style: italic; font-size: .9em; }
.pd-report span.pd-moved, .pd-report ins.pd-moved, .pd-report .pd-key-moved {
  background: none; color: var(--pd-moved-fg); text-decoration-line: underline;
  text-decoration-style: double; }
.pd-report ins.pd-moved { background: var(--pd-ins-bg); }
.pd-report del.pd-moved { color: var(--pd-moved-fg); text-decoration-line: line-through;
  border-bottom: 3px double var(--pd-moved-fg); }
.pd-report .pd-sep { white-space: pre; }
.pd-report .pd-legend { list-style: none; padding: 0; margin: .5rem 0;
  display: flex; flex-wrap: wrap; gap: .25rem 1rem; font-size: .9em; }
.pd-report .pd-crumbs { color: var(--pd-muted); font-size: .8em; margin: 0;
  overflow-wrap: anywhere; }
.pd-report .pd-toggle-label { font-size: .9em; }
.pd-report .pd-toggle:not(:checked) ~ .pd-section .pd-view-cosmetic,
.pd-report .pd-toggle:checked ~ .pd-section .pd-view-plain { display: none; }
.pd-report .pd-move-note { font-style: italic; color: var(--pd-muted);
  border: 1px dashed var(--pd-rule); padding: 0 .25em; }
.pd-report .pd-move-note:target { outline: 2px solid var(--pd-muted); }
@media (prefers-color-scheme: dark) {
  .pd-report { --pd-del-bg: #4b1d1d; --pd-del-fg: #ffb4b4; --pd-ins-bg: #173d20;
    --pd-ins-fg: #aef0b9; --pd-muted: #a0a6ad; --pd-rule: #3a3f45; --pd-moved-fg: #7fd3ec;
    color: #e6e6e6; background: #15171a; }
}
@media print {
  .pd-report { max-width: none; padding: 0; font-size: 10pt; color: #000; background: none; }
  .pd-report a { color: inherit; text-decoration: none; }
  .pd-report h2 { break-after: avoid; }
  .pd-report .pd-toc { break-after: page; }
  .pd-report .pd-toggle, .pd-report .pd-toggle-label { display: none; }
  .pd-report del, .pd-report ins { -webkit-print-color-adjust: exact;
    print-color-adjust: exact; }
}
"""

_CSP_TEMPLATE = (
    "default-src 'none'; style-src {style_hashes}; img-src 'none'; font-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)


def content_security_policy(*styles: str) -> str:
    """Return a CSP that allows these inline stylesheets (by hash) and nothing else."""
    hashes = [
        f"'sha256-{base64.b64encode(hashlib.sha256(css.encode('utf-8')).digest()).decode()}'"
        for css in styles
    ]
    return _CSP_TEMPLATE.format(style_hashes=" ".join(hashes) or "'none'")


def escape(text: str) -> str:
    """Return text safe inside HTML elements and quoted attributes, controls made visible."""
    return html.escape(escape_controls(text), quote=True)


_TAGS = {Op.DELETE: "del", Op.INSERT: "ins"}


@dataclass(frozen=True, slots=True)
class HtmlParts:
    """A report as an embeddable fragment (one ``<article>``) and the CSS it needs."""

    body: str
    css: str
    title: str


def render_parts(report: CompareReport, view: View, *, memo: RenderMemo | None = None) -> HtmlParts:
    """Return the report as an ``<article class="pd-report">`` fragment, its CSS and title.

    ``memo`` keeps excerpts and formatted pieces for the next reports (see RenderMemo).
    """
    sections = select_sections(report, view)
    out = ['<article class="pd-report">', *_header(report, view), *_legend()]
    if sections:
        out += _toc(sections)
    views = [_views(section, view, report.diff.moves, memo) for section in sections]
    if any(cosmetic is not None for _, cosmetic in views):
        # A sibling before the sections, so ``:checked ~ .pd-section`` picks their view:
        # without cosmetic edits unless --show-cosmetic asked for them.
        checked = " checked" if view.show_cosmetic else ""
        out += [
            f'<input type="checkbox" class="pd-toggle" id="pd-show-cosmetic"{checked}>',
            (
                '<label class="pd-toggle-label" for="pd-show-cosmetic">'
                "Show cosmetic edits (quotes, dashes, spacing, markup)</label>"
            ),
        ]
    # Both ends of a moved block link to each other when both are on the page (in the
    # same view when the section has two).
    anchors = frozenset(
        move_anchor(i, direction) + suffix
        for s, (_, cosmetic) in zip(sections, views, strict=True)
        for suffix in ("", _COSMETIC_SUFFIX)
        if suffix == "" or cosmetic is not None
        for ids, direction in ((s.moved_out, "to"), (s.moved_in, "from"))
        for i in ids
    )
    for number, (section, pair) in enumerate(zip(sections, views, strict=True), start=1):
        out += _section(number, section, report, pair, anchors, memo)
    out.append("</article>")
    return HtmlParts(body="\n".join(out) + "\n", css=CSS, title=page_title(report))


# The ids of a section's cosmetic view end with this (both views hold the move notes).
_COSMETIC_SUFFIX = "-c"


def _views(
    section: SectionDiff, view: View, moves: Sequence[MovedBlock], memo: RenderMemo | None = None
) -> tuple[Excerpt, Excerpt | None]:
    """Return a section's excerpt without cosmetic edits, and with them if that differs."""
    cut = memo.excerpt if memo is not None else excerpt
    plain = cut(section, replace(view, show_cosmetic=False), moves)
    inside = [m for m in moves if m.id in section.moved_in]
    if not any(
        s.cosmetic and s.op is not Op.EQUAL
        for s in (*section.segments, *(s for m in inside for s in m.segments))
    ):
        return plain, None
    cosmetic = cut(section, replace(view, show_cosmetic=True), moves)
    return plain, (None if cosmetic == plain else cosmetic)


def render_document(report: CompareReport, view: View) -> str:
    """Return the report as a standalone HTML page."""
    return wrap_document(render_parts(report, view))


def render(report: CompareReport, view: View) -> str:
    """Return the report as a standalone HTML page (the ``html`` format)."""
    return render_document(report, view)


def wrap_document(parts: HtmlParts) -> str:
    """Return a standalone page around a fragment, with a CSP allowing only its own CSS."""
    csp = content_security_policy(parts.css)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(csp)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="policydiff">\n'
        f"<title>{escape(parts.title)}</title>\n"
        f"<style>{parts.css}</style>\n</head>\n<body>\n{parts.body}</body>\n</html>\n"
    )


def page_title(report: CompareReport) -> str:
    """Return the plain-text title of a report (escape it before use)."""
    return f"Compare {report.old.label} \u2192 {report.new.label}"


def _header(report: CompareReport, view: View) -> list[str]:
    """Return the heading, verdict, side table and counts."""
    summary = report.diff.summary
    out = [
        "<header>",
        (
            f'<h1>Compare <span class="pd-label">{escape(report.old.label)}</span> \u2192 '
            f'<span class="pd-label">{escape(report.new.label)}</span></h1>'
        ),
        f'<p class="pd-verdict">{escape(verdict_line(report))}</p>',
        *_sides(report.old, report.new),
        '<ul class="pd-counts">',
        f"<li>{escape(summary_line(summary))}</li>",
        f"<li>{escape(words_line(summary))}</li>",
        *[f"<li>{escape(line)}</li>" for line in [renumbered_line(report.diff)] if line],
        f"<li>{escape(effective_line(report))}</li>",
    ]
    out += [f"<li>{escape(line)}</li>" for line in hidden_lines(report, view)]
    out += ["</ul>", "</header>"]
    return out


# What each style means, drawn with the same classes as the redline (not del/ins, which
# stay the report's own changes).
_LEGEND = (
    ("pd-key-ins", "inserted"),
    ("pd-key-del", "deleted"),
    ("pd-key-moved", "moved"),
    ("pd-key-cosmetic", "cosmetic"),
)


def _legend() -> list[str]:
    """Return the key to the redline's styles."""
    keys = "".join(f'<li><span class="{cls}">{word}</span></li>' for cls, word in _LEGEND)
    return [f'<ul class="pd-legend" aria-label="Legend">{keys}</ul>']


def _sides(old: Side, new: Side) -> list[str]:
    """Return a table of what is known about each side."""
    rows = [
        ("Version", old.label, new.label),
        ("Captured", _when(old.captured_at), _when(new.captured_at)),
        ("Effective", _day(old), _day(new)),
    ]
    out = [
        '<table class="pd-sides">',
        (
            '<thead><tr><th scope="col"></th><th scope="col">Old</th>'
            '<th scope="col">New</th></tr></thead>'
        ),
        "<tbody>",
    ]
    out += [
        f'<tr><th scope="row">{name}</th><td>{escape(a)}</td><td>{escape(b)}</td></tr>'
        for name, a, b in rows
    ]
    out.append(
        f'<tr><th scope="row">SHA-256</th><td><code>{escape(old.sha256)}</code></td>'
        f"<td><code>{escape(new.sha256)}</code></td></tr>"
    )
    out += ["</tbody>", "</table>"]
    return out


def _when(moment: datetime | None) -> str:
    """Return a capture time for display."""
    return "\u2013" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _day(side: Side) -> str:
    """Return a side's recorded effective date for display."""
    return "\u2013" if side.effective_date is None else side.effective_date.isoformat()


def _toc(sections: tuple[SectionDiff, ...]) -> list[str]:
    """Return the linked list of shown sections."""
    out = ['<nav class="pd-toc" aria-label="Sections">', "<h2>Sections</h2>", "<ol>"]
    for number, section in enumerate(sections, start=1):
        status = status_words(section)
        out.append(
            f'<li><a href="#pd-s-{number}">{escape(join_path(section.path))}</a> '
            f'<span class="pd-status">{status}</span> '
            f'<span class="pd-words">+{section.words_inserted} '
            f"\u2212{section.words_deleted}</span></li>"
        )
    out += ["</ol>", "</nav>"]
    return out


def _section(
    number: int,
    section: SectionDiff,
    report: CompareReport,
    views: tuple[Excerpt, Excerpt | None],
    anchors: frozenset[str] = frozenset(),
    memo: RenderMemo | None = None,
) -> list[str]:
    """Return one section: anchored heading, notes and redline excerpt (or its two views)."""
    notes = " \u00b7 ".join(section_notes(section, report.diff))
    out = [
        f'<section class="pd-section pd-{section.status.value}" id="pd-s-{number}">',
        *_heading(section),
        f'<p class="pd-notes">{escape(notes)}</p>',
    ]
    layout = Layout(
        anchors=anchors,
        headers=table_headers(section.old_text, section.new_text),
        tables=section.table_rows is not None,
    )
    plain, cosmetic = views
    if cosmetic is None:
        out += _body(section, plain, layout, memo=memo)
    else:
        out.append('<div class="pd-view-plain">')
        out += _body(section, plain, layout, hidden=True, memo=memo)
        out.append("</div>")
        out.append('<div class="pd-view-cosmetic">')
        out += _body(section, cosmetic, replace(layout, suffix=_COSMETIC_SUFFIX), memo=memo)
        out.append("</div>")
    out.append("</section>")
    return out


class RenderMemo:
    """Excerpts and formatted pieces shared by the reports of one policy's many pairs.

    A site renders a redline for many pairs of a policy's versions, and a section changed
    once brings the same section diff, so the same excerpt and pieces, to every pair
    spanning that change and to the section's history page. Each is kept by all it
    depends on: an excerpt by its section diff, view and the moves its text refers to; a
    piece by its runs, layout and folds.
    """

    __slots__ = ("excerpts", "pieces")

    def __init__(self) -> None:
        self.excerpts: dict[tuple[SectionDiff, View, tuple[MovedBlock, ...]], Excerpt] = {}
        self.pieces: dict[tuple[tuple[Run, ...], Layout, frozenset[int]], str] = {}

    def excerpt(
        self, section: SectionDiff, view: View, moves: Sequence[MovedBlock] = ()
    ) -> Excerpt:
        """Return ``excerpt(section, view, moves)``, made once (callers must not change it)."""
        ids = {segment.move_id for segment in section.segments if segment.move_id is not None}
        # Only the moves its segments refer to are read (by id): the rest cannot matter.
        key = (section, view, tuple(move for move in moves if move.id in ids))
        found = self.excerpts.get(key)
        if found is None:
            found = self.excerpts[key] = excerpt(section, view, key[2])
        return found


@dataclass(frozen=True, slots=True)
class Layout:
    """What rendering a section's pieces needs besides the runs."""

    anchors: frozenset[str] = frozenset()
    # Header rows of the section's tables, spacing collapsed (see mdhtml.table_headers).
    headers: frozenset[str] = frozenset()
    # Lines starting with a pipe are table rows (the section's tables were diffed by row).
    tables: bool = False
    # Appended to the ids of move notes (the cosmetic view's copy of a note).
    suffix: str = ""


def excerpt_html(
    section: SectionDiff, pieces: Excerpt, memo: RenderMemo | None = None
) -> list[str]:
    """Return a section's excerpt as formatted blocks (no move links: one section alone)."""
    layout = Layout(
        headers=table_headers(section.old_text, section.new_text),
        tables=section.table_rows is not None,
    )
    return _body(section, pieces, layout, memo=memo)


def _body(
    section: SectionDiff,
    pieces: Excerpt,
    layout: Layout,
    *,
    hidden: bool = False,
    memo: RenderMemo | None = None,
) -> list[str]:
    """Return a section's pieces, formatted, with folded text as one-line marks.

    ``hidden``: the cosmetic edits are in the other view (said when nothing else shows).
    """
    out: list[str] = []
    if not pieces:
        note = empty_note(section)
        if hidden and section.status is not SectionStatus.UNCHANGED:
            note = (
                "(only cosmetic edits: quotes, dashes, markup; "
                "\u201cShow cosmetic edits\u201d above shows them)"
            )
        out.append(f'<p class="pd-elided">{escape(note)}</p>')
    # A list marker changed at the start of the next item's line belongs with that item.
    carry: tuple[Run, ...] = ()
    for index, piece in enumerate(_joined_tables(pieces) if layout.tables else pieces):
        if isinstance(piece, _Table):
            shown = formatted(piece.runs, layout, piece.folds, memo)
            out.append(f'<div class="pd-text">{shown}</div>')
            continue
        if isinstance(piece, Elided):
            # The item whose marker changed is folded away: the marker opens the fold.
            lead = f"{redline(carry, layout.anchors, layout.suffix)} " if carry else ""
            out.append(f'<p class="pd-elided">{lead}{elided_text(piece)}</p>')
            carry = ()
        else:
            runs: tuple[Run, ...] = tuple(piece)
            next_carry: tuple[Run, ...] = ()
            if index + 1 < len(pieces):
                runs, next_carry = _trailing_marker(runs)
            shown = formatted(carry + runs, layout, memo=memo)
            out.append(f'<div class="pd-text">{shown}</div>')
            carry = next_carry
    return out


@dataclass(frozen=True, slots=True)
class _Table:
    """Table pieces of an excerpt joined into one, each fold of rows a row of its own."""

    runs: tuple[Run, ...]
    # Indexes of the runs standing for folded rows.
    folds: frozenset[int]


def _joined_tables(pieces: Excerpt) -> list[tuple[Run, ...] | Elided | _Table]:
    """Join table-only pieces separated by folded rows into one table (columns aligned)."""
    out: list[tuple[Run, ...] | Elided | _Table] = []
    index = 0
    while index < len(pieces):
        piece = pieces[index]
        end = index
        # Extend over (fold of rows only, table piece) pairs.
        while (
            _table_only(pieces[end])
            and end + 2 < len(pieces)
            and isinstance(fold := pieces[end + 1], Elided)
            and fold.rows
            and not fold.paragraphs
            and _table_only(pieces[end + 2])
        ):
            end += 2
        if end == index:
            out.append(piece)
            index += 1
            continue
        runs: list[Run] = []
        folds: set[int] = set()
        for part in pieces[index : end + 1]:
            if isinstance(part, Elided):
                folds.add(len(runs))
                runs.append(Run(Op.EQUAL, f"| {elided_text(part)} |\n"))
            else:
                text = paragraph_text(part)
                runs.extend(part)
                if not text.endswith("\n"):
                    runs.append(Run(Op.EQUAL, "\n"))
        out.append(_Table(tuple(runs), frozenset(folds)))
        index = end + 1
    return out


def _table_only(piece: tuple[Run, ...] | Elided) -> bool:
    """Whether a piece holds table rows only."""
    if isinstance(piece, Elided):
        return False
    lines = [line for line in paragraph_text(piece).split("\n") if line.strip()]
    return bool(lines) and all(line.lstrip().startswith("|") for line in lines)


def formatted(
    runs: Sequence[Run],
    layout: Layout | None = None,
    folds: frozenset[int] = frozenset(),
    memo: RenderMemo | None = None,
) -> str:
    """Return runs as formatted HTML: the markdown's blocks, the changes marked inside them."""
    shape = layout if layout is not None else Layout()
    if memo is not None:
        runs = tuple(runs)
        if (shape.anchors or shape.suffix) and all(run.note is None for run in runs):
            # Only move notes use the anchors and suffix: without one, the piece is the
            # same on every page (a section's history and the redlines that show it).
            shape = replace(shape, anchors=frozenset(), suffix="")
        key = (runs, shape, folds)
        found = memo.pieces.get(key)
        if found is None:
            found = memo.pieces[key] = formatted(runs, shape, folds)
        return found

    def style(index: int, text: str) -> str:
        if index < 0:
            return escape(text)
        return _run_html(runs[index], text, shape.anchors, shape.suffix)

    def separator(before: int, after: int) -> str:
        first, second = runs[before], runs[after]
        return _separator(first, second) if _meet(first, second) else ""

    return render_runs(
        runs, style, separator, headers=shape.headers, tables=shape.tables, folds=folds
    )


def _heading(section: SectionDiff) -> list[str]:
    """Return a section's own number and title as its heading, its parents as a breadcrumb."""
    path = section.path
    exists = section.new_path is not None
    title = section.new_title if exists else section.old_title
    label = section.new_label if exists else section.old_label
    if title is None or not path:
        # Preamble and paragraph units: the last path element is their name.
        own = join_path(path[-1:])
    else:
        own = f"{label} {title}" if label and not title.startswith(label) else title
    out = []
    if len(path) > 1:
        out.append(f'<p class="pd-crumbs">{escape(join_path(path[:-1]))}</p>')
    out.append(f"<h2>{escape(own)}</h2>")
    return out


# A bullet or number that opens a list item ("*", "\\*", "-", "+", "1.", "a)").
_MARKER = re.compile(r"\\?[*+-]|\w{1,3}[.)]")


def _trailing_marker(runs: tuple[Run, ...]) -> tuple[tuple[Run, ...], tuple[Run, ...]]:
    """Split a lone changed list marker off the end of a paragraph.

    The word diff can end one paragraph with the next item's changed marker on a line of
    its own; it is shown at the start of that item instead (HTML only, runs untouched).
    """
    end = len(runs)
    while end and runs[end - 1].op is Op.EQUAL and not runs[end - 1].text.strip():
        end -= 1
    if end < 2:
        return runs, ()
    marker, before = runs[end - 1], runs[end - 2]
    if (
        marker.op is Op.EQUAL
        or marker.note is not None
        or marker.cosmetic_note
        or not _MARKER.fullmatch(marker.text)
        or before.op is not Op.EQUAL
        or not before.text.rstrip(" \t").endswith("\n")
    ):
        return runs, ()
    return runs[: end - 1], (marker, Run(Op.EQUAL, " "))


def move_anchor(move_id: int, direction: str) -> str:
    """Return the id of a move note (``pd-move-3-to`` at its origin, ``-from`` at its end)."""
    return f"pd-move-{move_id}-{direction}"


def _note(run: Run, anchors: frozenset[str], suffix: str = "") -> str:
    """Return a note on moved text: anchored, and linked to the other end if it is shown."""
    note = run.note
    if note is None:  # pragma: no cover - only called for notes
        return escape(run.text)
    other = move_anchor(note.move_id, "from" if note.direction == "to" else "to")
    own = move_anchor(note.move_id, note.direction) + suffix
    # The other end in the same view if it has one, else in the one it has.
    target = next(
        (o for o in (other + suffix, other, other + _COSMETIC_SUFFIX) if o in anchors), None
    )
    tag, href = ("a", f' href="#{target}"') if target is not None else ("span", "")
    return f'<{tag} class="pd-move-note" id="{own}"{href}>{escape(run.text)}</{tag}>'


def _run_html(run: Run, text: str, anchors: frozenset[str], suffix: str = "") -> str:
    """Return some of a run's text (all of it for a note) in the run's style."""
    if run.note is not None:
        return _note(run, anchors, suffix)
    escaped = escape(text)
    if run.op is Op.EQUAL:
        return f'<span class="pd-moved">{escaped}</span>' if run.moved else escaped
    if run.cosmetic_note:
        return f'<span class="pd-note">[~{escape(run.text)}~]</span>'
    classes = [name for name, on in (("pd-cosmetic", run.cosmetic), ("pd-moved", run.moved)) if on]
    attrs = f' class="{" ".join(classes)}"' if classes else ""
    if run.cosmetic and not run.moved:
        # Dotted, muted and titled: told apart from word changes without colour.
        attrs += ' title="cosmetic edit"'
    tag = _TAGS[run.op]
    return f"<{tag}{attrs}>{escaped}</{tag}>"


def redline(runs: tuple[Run, ...], anchors: frozenset[str] = frozenset(), suffix: str = "") -> str:
    """Return runs as one line of escaped text with ``<del>``/``<ins>`` around the changes.

    The markup is shown as written (for a list marker that opens a fold); ``formatted``
    shows a piece's formatting. Notes on moved text become anchors (linked to the other
    end when ``anchors`` holds its id); the unchanged words of moved text are spans.
    """
    out = []
    previous: Run | None = None
    for run in runs:
        if _meet(previous, run):
            out.append(_separator(previous, run))
        previous = run
        out.append(_run_html(run, run.text, anchors, suffix))
    # pre-wrap would show the blank lines ending the last paragraph; CSS spaces the blocks.
    return "".join(out).rstrip()


def _meet(before: Run | None, after: Run) -> bool:
    """Whether a deletion and an insertion touch with no space between them."""
    if before is None or before.note is not None or after.note is not None:
        return False
    if {before.op, after.op} != {Op.DELETE, Op.INSERT}:
        return False
    if before.cosmetic_note or after.cosmetic_note:
        return False
    return (
        bool(before.text)
        and bool(after.text)
        and not (before.text[-1].isspace() or after.text[0].isspace())
    )


def _separator(before: Run | None, after: Run) -> str:
    """Return a thin space between a deletion and an insertion that meet.

    It is HTML only (the JSON runs are untouched) and copies as a space, so
    "25 May 2018" and "1 January 2020" read as two dates, on screen and when pasted.
    """
    cosmetic = " pd-cosmetic" if before is not None and before.cosmetic and after.cosmetic else ""
    return f'<span class="pd-sep{cosmetic}">&thinsp;</span>'
