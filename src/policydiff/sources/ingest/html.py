"""Extract a policy from an HTML page as markdown: find the content, drop the site's chrome.

Parsing is beautifulsoup4 over lxml (CSS selectors from soupsieve); conversion to
markdown is markdownify, configured for ATX headings, ``-`` bullets, ``**strong**`` and
``_emphasis_``. Which part of the page is the policy:

1. ``--select CSS`` when given (every match, in page order);
2. MediaWiki's ``#mw-content-text`` (its ``.mw-parser-output``), with the page title from
   ``#firstHeading``. Checked before ``main``, because MediaWiki skins put ``main`` /
   ``[role=main]`` around the title bar, tabs and notices as well;
3. ``main``, then ``article``, then ``[role=main]``: the one with the most text, if it holds
   at least a third of the page's prose;
4. otherwise the tightest element holding 90 % of the page's prose (prose is text outside
   links, so link-heavy menus weigh nothing).

Scripts, styles, forms' controls and images are always dropped; navigation, sidebars,
site-wide headers and footers, cookie banners, skip links and MediaWiki's edit links,
table of contents, category links and jump links are dropped from the content, as is
whatever ``--remove CSS`` matches. Links are made absolute against the page URL.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Comment, Tag
from bs4.element import NavigableString
from markdownify import ATX, BACKSLASH, MarkdownConverter

from policydiff.core.config import RangeSelector, selector_items
from policydiff.core.errors import InputError, UsageError
from policydiff.sources.ingest.decode import DEFAULT_MAX_BYTES, decode_bytes, text_codec
from policydiff.sources.ingest.pdf import pdf_to_markdown
from policydiff.sources.ingest.snapshot import HtmlExtractor

# Bump when a change to this module changes the text it extracts: backfill resume state
# and re-extraction provenance name it.
EXTRACTOR_VERSION = 1

# Never text: dropped from the whole page before anything else.
_NEVER_TEXT = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "canvas",
    "math",
    "img",
    "picture",
    "video",
    "audio",
    "map",
    "link",
    "meta",
    "input",
    "select",
    "textarea",
    "option",
)

# Site chrome, by tag, ARIA role, id and class. Plain set lookups rather than one CSS
# selector list: matching ~50 selectors against every element took half the extraction
# time of a 1 MB page. `header` and `footer` are handled apart (see _is_page_landmark).
_CHROME_TAGS = frozenset({"nav", "aside", "dialog"})
_CHROME_ROLES = frozenset(
    {"navigation", "complementary", "search", "banner", "contentinfo", "dialog", "alertdialog"}
)
_CHROME_IDS = frozenset(
    {
        # MediaWiki: table of contents, categories, jump links, notices, skin navigation.
        "toc",
        "catlinks",
        "mw-hidden-catlinks",
        "jump-to-nav",
        "siteNotice",
        "siteSub",
        "contentSub",
        "contentSub2",
        "mw-navigation",
        "mw-head",
        "mw-panel",
        # Cookie banners of the common consent managers.
        "onetrust-consent-sdk",
        "onetrust-banner-sdk",
        "CybotCookiebotDialog",
        "usercentrics-root",
        "cookie-banner",
        "cookie-notice",
    }
)
_CHROME_CLASSES = frozenset(
    {
        # MediaWiki: edit links (old and new markup), TOC, categories, jump links, notices.
        "mw-editsection",
        "editsection",
        "toc",
        "mw-toc-heading",
        "catlinks",
        "mw-jump-link",
        "mw-jump",
        "sitenotice",
        "printfooter",
        "mw-indicators",
        "navbox",
        "noprint",
        "mw-footer",
        "mw-empty-elt",
        # Cookie banners and skip links.
        "cc-window",
        "cookie-banner",
        "cookie-notice",
        "skip-link",
        "skip-links",
        "skip-to-content",
        "visually-hidden-focusable",
    }
)
# A header or footer is the site's banner or contentinfo unless it sits in one of these
# (the ARIA mapping rule): an article's own header often holds its title and date.
_SECTIONING = frozenset({"article", "aside", "main", "nav", "section"})

_MEDIAWIKI_CONTENT = "#mw-content-text"
_LANDMARKS = ("main", "article", "[role=main]")
# A landmark must hold this share of the page's prose to be trusted as the content.
_LANDMARK_SHARE = 1 / 3
# The fallback descends into a child while it holds this share of its parent's prose.
_DESCEND_SHARE = 0.9

# Deeper pages are refused before any tree work. libxml2 builds no HTML tree deeper than
# 256 levels by default either; real pages stay far below (a few dozen levels), and the
# markdown conversion recurses about three frames per level, within the default stack.
MAX_DEPTH = 256

_UNSAFE_SCHEMES = frozenset({"javascript", "data", "vbscript"})
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_TABLE_PARTS = frozenset({"thead", "tbody", "tfoot", "tr", "td", "th"})

# Text at the start of a paragraph that markdown would read as a list, heading or quote.
_BLOCK_START = re.compile(r"^(?:(\d{1,9})([.)])(?=\s|$)|([-+*])(?=\s)|(#{1,6})(?=\s|$)|(>))")
_UNDERSCORE_AT_EDGE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_HARD_BREAK_AT_END = re.compile(r"\\\n(?=\n|\Z)")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(frozen=True, slots=True)
class ExtractRules:
    """Per-policy choices: which part of the page is the policy, and what to cut from it."""

    select: str | None = None
    remove: str | None = None

    def describe(self) -> str:
        """Return the rules as one line for provenance, e.g. ``select=main; remove=.ad``."""
        parts = [f"extractor {EXTRACTOR_VERSION}"]
        if self.select:
            parts.append(f"select={self.select}")
        if self.remove:
            parts.append(f"remove={self.remove}")
        return "; ".join(parts)


NO_RULES = ExtractRules()


@dataclass(frozen=True, slots=True)
class Extraction:
    """The extracted markdown and how the content was found."""

    text: str
    found_by: str


def check_selector(css: str, *, what: str = "selector") -> str:
    """Return ``css`` if it is a valid CSS selector list, else raise ``UsageError``."""
    import soupsieve

    if not css.strip() or any(c in css for c in "\r\n\0"):
        raise UsageError(f"{what} must be a non-empty CSS selector on one line")
    try:
        soupsieve.compile(css)
    except soupsieve.SelectorSyntaxError as err:
        reason = str(err).splitlines()[0]
        raise UsageError(f"invalid CSS {what} {css!r}: {reason}") from None
    return css


def _node_spans(root: Tag) -> tuple[dict[int, int], dict[int, int]]:
    """Return each node's position in document order and that of its last descendant."""
    nodes = [root, *root.descendants]
    first = {id(node): index for index, node in enumerate(nodes)}
    last: dict[int, int] = {}
    for index in range(len(nodes) - 1, -1, -1):
        node = nodes[index]
        contents = node.contents if isinstance(node, Tag) else []
        last[id(node)] = last[id(contents[-1])] if contents else index
    return first, last


def _range_bounds(soup: BeautifulSoup, selector: RangeSelector) -> tuple[int, int]:
    """Return the range as [start, end) positions in document order (as the DOM Range API)."""
    start = soup.select_one(selector.start)
    if start is None:
        raise InputError(f"the range start selector {selector.start!r} matches nothing on the page")
    end = soup.select_one(selector.end)
    if end is None:
        raise InputError(f"the range end selector {selector.end!r} matches nothing on the page")
    first, last = _node_spans(soup)
    low = last[id(start)] + 1 if selector.start_after else first[id(start)]
    high = last[id(end)] + 1 if selector.end_after else first[id(end)]
    if high < low:
        raise InputError(
            f"the range end {selector.end!r} comes before its start {selector.start!r} on the page"
        )
    return low, high


def _cut_range(soup: BeautifulSoup, selector: RangeSelector, *, keep_inside: bool) -> None:
    """Remove the nodes outside the range (``keep_inside``) or inside it, in place.

    Ancestors that straddle an edge stay, holding only their children on the kept side,
    as ``Range.cloneContents`` and ``Range.deleteContents`` leave them.
    """
    low, high = _range_bounds(soup, selector)
    first, last = _node_spans(soup)
    doomed = []
    covered = -1  # nodes up to this position lie inside a node already doomed
    for node in soup.descendants:
        begin, finish = first[id(node)], last[id(node)]
        if begin <= covered:
            continue
        inside = begin >= low and finish < high
        outside = finish < low or begin >= high
        if outside if keep_inside else inside:
            doomed.append(node)
            covered = finish
    for node in doomed:
        node.extract()


def _weights(root: Tag) -> dict[int, int]:
    """Return each element's prose weight: non-space characters of text outside links."""
    weights: dict[int, int] = {}

    def visit(tag: Tag, in_link: bool) -> int:
        total = 0
        link = in_link or tag.name == "a"
        for child in tag.children:
            if isinstance(child, Tag):
                total += visit(child, link)
            elif not link and isinstance(child, NavigableString):
                # Comments were removed before weighing.
                total += sum(len(word) for word in child.split())
        weights[id(tag)] = total
        return total

    visit(root, in_link=False)
    return weights


def _is_page_landmark(tag: Tag) -> bool:
    """Whether a header/footer is the site's banner or footer (not inside sectioning content)."""
    return not any(
        parent.name in _SECTIONING or parent.get("role") == "main" for parent in tag.parents
    )


def _drop(root: Tag, css: str) -> None:
    """Remove every element under ``root`` matching ``css`` (never ``root`` itself)."""
    for tag in root.select(css):
        if tag is not root and not tag.decomposed:
            tag.decompose()


def _is_chrome(tag: Tag) -> bool:
    """Whether ``tag`` is navigation, a sidebar, a banner, a notice or MediaWiki furniture."""
    if tag.name in _CHROME_TAGS or tag.get("id") in _CHROME_IDS:
        return True
    if tag.get("role") in _CHROME_ROLES:
        return True
    if tag.name in {"header", "footer"}:
        return _is_page_landmark(tag)
    classes = tag.get("class")
    if classes and not _CHROME_CLASSES.isdisjoint(classes):
        return True
    if tag.name == "a" and str(tag.get("href", "")).startswith("#"):
        # "Skip to content" links point into the page and say so.
        return tag.get_text(" ", strip=True).lower().startswith(("skip to", "jump to"))
    return False


def _drop_chrome(root: Tag) -> None:
    """Remove navigation, sidebars, banners, site headers/footers and MediaWiki furniture."""
    for tag in root.find_all(name=True):
        if isinstance(tag, Tag) and not tag.decomposed and _is_chrome(tag):
            tag.decompose()


def _heaviest(tags: Iterable[Tag], weights: dict[int, int]) -> Tag | None:
    """Return the tag with the most prose, or None if there is none."""
    best: Tag | None = None
    for tag in tags:
        if best is None or weights.get(id(tag), 0) > weights.get(id(best), 0):
            best = tag
    return best


def _densest(body: Tag, weights: dict[int, int]) -> Tag:
    """Descend from ``body`` while one child holds nearly all prose and no heading is beside it."""
    node = body
    while True:
        total = weights.get(id(node), 0)
        children = [child for child in node.children if isinstance(child, Tag)]
        best = _heaviest(children, weights)
        if best is None or total == 0 or weights.get(id(best), 0) < _DESCEND_SHARE * total:
            return node
        others = [child for child in children if child is not best]
        if any(child.name in _HEADINGS or child.find(_HEADINGS) for child in others):
            return node
        node = best


def _find_content(soup: BeautifulSoup) -> tuple[list[Tag], str, str | None]:
    """Return the content elements, how they were found, and a page title to prepend."""
    content = soup.select_one(_MEDIAWIKI_CONTENT)
    if content is not None:
        inner = content.select_one(":scope > .mw-parser-output") or content
        heading = soup.select_one("#firstHeading")
        # Newer skins split the title into namespace, separator and name spans.
        title = " ".join(heading.get_text().split()) if heading is not None else None
        _drop_chrome(inner)
        return [inner], "mediawiki", title or None
    body = soup.body or soup
    _drop_chrome(body)
    weights = _weights(body)
    page = weights.get(id(body), 0)
    for css in _LANDMARKS:
        best = _heaviest(soup.select(css), weights)
        if best is not None and weights.get(id(best), 0) >= _LANDMARK_SHARE * page:
            return [best], css, None
    return [_densest(body, weights)], "density", None


def _selected(soup: BeautifulSoup, css: str) -> list[Tag]:
    """Return the outermost elements matching ``css``, in page order."""
    matches = soup.select(css)
    # By identity: bs4 compares tags by markup, and two identical blocks are both content.
    ids = {id(tag) for tag in matches}
    chosen = [tag for tag in matches if not any(id(p) in ids for p in tag.parents)]
    if not chosen:
        raise InputError(f"the content selector {css!r} matches nothing on the page")
    for tag in chosen:
        _drop_chrome(tag)
    return chosen


def _remove(soup: BeautifulSoup, value: str) -> None:
    """Drop what a ``remove`` value names: its CSS matches, then its ranges (as OTA does)."""
    items = selector_items(value, partial(check_selector, what="--remove selector"))
    for item in items:
        if isinstance(item, str):
            _drop(soup, item)
    for item in items:
        if isinstance(item, RangeSelector):
            _cut_range(soup, item, keep_inside=False)


def _select(soup: BeautifulSoup, value: str) -> list[Tag]:
    """Return the content a ``select`` value names: each item's content, in its order."""
    import copy

    items = selector_items(value, partial(check_selector, what="--select selector"))
    if len(items) == 1 and isinstance(items[0], str):
        return _selected(soup, items[0])
    roots: list[Tag] = []
    for item in items:
        if isinstance(item, str):
            # An item matching nothing adds nothing (only no content at all is an error).
            with contextlib.suppress(InputError):
                roots.extend(_selected(soup, item))
            continue
        piece = copy.copy(soup)
        _cut_range(piece, item, keep_inside=True)
        root = piece.body or piece
        _drop_chrome(root)
        roots.append(root)
    if not roots:
        raise InputError(f"the content selectors {value!r} match nothing on the page")
    return roots


def _base_url(soup: BeautifulSoup, page_url: str | None) -> str | None:
    """Return the URL relative links resolve against: ``<base href>`` joined to the page URL."""
    base = soup.find("base", href=True)
    if isinstance(base, Tag):
        href = str(base.get("href", "")).strip()
        if href:
            return urljoin(page_url or "", href) or None
    return page_url


def _fix_links(root: Tag, base: str | None) -> None:
    """Make link targets absolute, drop script links and tooltips (MediaWiki titles every link)."""
    for link in root.find_all("a"):
        if not isinstance(link, Tag):
            continue
        link.attrs.pop("title", None)
        href = link.get("href")
        if href is None:
            continue
        target = str(href).strip()
        scheme = urlsplit(target).scheme.lower()
        if scheme in _UNSAFE_SCHEMES or not target:
            del link["href"]
        elif base is not None:
            link["href"] = urljoin(base, target)


def _unwrap_layout_tables(root: Tag) -> None:
    """Turn tables used for page layout (holding headings or tables) into plain blocks."""
    for table in root.find_all("table"):
        if not isinstance(table, Tag) or table.decomposed:
            continue
        if table.get("role") == "presentation" or table.find(["table", *_HEADINGS]):
            for part in [table, *table.find_all(list(_TABLE_PARTS))]:
                if isinstance(part, Tag):
                    part.name = "div"


class _Converter(MarkdownConverter):
    """markdownify with ATX headings, ``-`` bullets, ``_em_`` and minimal escaping."""

    def __init__(self) -> None:
        super().__init__(
            heading_style=ATX,
            bullets="-",
            newline_style=BACKSLASH,
            escape_asterisks=True,
            escape_underscores=True,
            escape_misc=False,
            # Line breaks in the HTML source are layout, not text: one paragraph, one line.
            wrap=True,
            wrap_width=None,
        )

    def escape(self, text: str, parent_tags: set[str]) -> str:
        """Escape ``*`` everywhere and ``_`` only where markdown could read it as emphasis."""
        del parent_tags
        return _UNDERSCORE_AT_EDGE.sub(r"\\_", text.replace("*", r"\*"))

    def convert_em(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        """Write emphasis as ``_text_``, keeping surrounding spaces outside the markers."""
        del el
        if "_noformat" in parent_tags:
            return text
        inner = text.strip()
        if not inner:
            return ""
        before = " " if text[:1].isspace() else ""
        after = " " if text[-1:].isspace() else ""
        return f"{before}_{inner}_{after}"

    convert_i = convert_em

    def convert_p(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        """Write a paragraph, escaping a start that markdown would read as a list or heading."""
        del el
        text = text.strip(" \t\r\n")
        if "_inline" in parent_tags:
            return f" {text} "
        text = _BLOCK_START.sub(_escape_block_start, text, count=1)
        return f"\n\n{text}\n\n" if text else ""

    def convert_td(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        """Write a table cell on one line, escaping ``|`` so it does not split the cell."""
        del parent_tags
        span = str(el.get("colspan", "1"))
        columns = max(1, min(1000, int(span))) if span.isdigit() else 1
        cell = " ".join(text.split()).replace("|", r"\|")
        return f" {cell} |" + " |" * (columns - 1)

    convert_th = convert_td


def _escape_block_start(match: re.Match[str]) -> str:
    """Backslash-escape the marker of a paragraph that starts like a list, heading or quote."""
    if match[1] is not None:
        return f"{match[1]}\\{match[2]}"
    return "\\" + match[0]


def _tidy(markdown: str) -> str:
    """Strip trailing spaces and dangling hard breaks, collapse blank runs, end with one newline."""
    text = _TRAILING_SPACE.sub("", markdown)
    text = _HARD_BREAK_AT_END.sub("\n", text)
    text = _BLANK_RUNS.sub("\n\n", text).strip("\n")
    return text + "\n" if text else ""


class _DepthCounter:
    """An lxml parser target that only counts open elements, stopping past ``MAX_DEPTH``."""

    def __init__(self) -> None:
        self.depth = 0

    def start(self, tag: str, attrib: object) -> None:
        """Count an element opened (the parser closes implied ends as the tree builder does)."""
        del tag, attrib
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _TooDeepError

    def end(self, tag: str) -> None:
        """Count an element closed."""
        del tag
        self.depth -= 1

    def close(self) -> None:
        """Nothing to return: reaching the end means the page is shallow enough."""


class _TooDeepError(Exception):
    """The page nests elements deeper than ``MAX_DEPTH`` (never leaves this module)."""


def check_depth(html: str) -> None:
    """Raise ``InputError`` if ``html`` nests elements deeper than ``MAX_DEPTH``.

    One pass of lxml's HTML parser (the one BeautifulSoup uses below, so implied end tags
    count alike) with a target that keeps only a counter: linear time, and it stops at the
    first element too deep. The tree work after it is quadratic in the depth.
    """
    from lxml import etree  # type: ignore[import-untyped]

    parser = etree.HTMLParser(target=_DepthCounter())
    try:
        parser.feed(html)
        parser.close()
    except _TooDeepError:
        raise InputError(
            f"the page nests its elements too deeply to extract (more than {MAX_DEPTH} levels)"
        ) from None
    except etree.LxmlError:
        # Not this check's business: the real parse below recovers or reports it.
        return


def extract(html: str, page_url: str | None = None, rules: ExtractRules = NO_RULES) -> Extraction:
    """Extract the policy from an HTML page as markdown, following ``rules``."""
    check_depth(html)
    try:
        return _extract(html, page_url, rules)
    except RecursionError:
        # Parsing and conversion recurse per nesting level; real pages stay far below this.
        raise InputError("the page nests its elements too deeply to extract") from None


def _extract(html: str, page_url: str | None, rules: ExtractRules) -> Extraction:
    """Do the work of ``extract``."""
    soup = BeautifulSoup(html, "lxml")
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for tag in soup.find_all(_NEVER_TEXT):
        if isinstance(tag, Tag) and not tag.decomposed:
            tag.decompose()
    if rules.remove:
        _remove(soup, rules.remove)
    base = _base_url(soup, page_url)
    title: str | None = None
    if rules.select:
        roots, found_by = _select(soup, rules.select), "select"
    else:
        roots, found_by, title = _find_content(soup)
    converter = _Converter()
    parts: list[str] = []
    if title:
        heading = soup.new_tag("h1")
        heading.string = title
        parts.append(converter.convert_soup(heading))
    for root in roots:
        if root.name in _TABLE_PARTS:
            # Content found inside a layout table cell: convert it as a block, not a cell.
            root.name = "div"
        _fix_links(root, base)
        _unwrap_layout_tables(root)
        parts.append(converter.convert_soup(root))
    text = _tidy("\n\n".join(parts))
    if not text.strip():
        raise InputError(
            f"no text found in the page (content found by {found_by}); "
            "name the policy's element with --select CSS"
        )
    return Extraction(text, found_by)


def html_to_markdown(html: str, page_url: str | None = None) -> str:
    """Extract the policy text with the automatic rules (an ``HtmlExtractor``)."""
    return extract(html, page_url).text


def extractor_for(rules: ExtractRules) -> HtmlExtractor:
    """Return an ``HtmlExtractor`` applying ``rules``, for ``read_snapshot(extract_html=...)``."""

    def run(html: str, page_url: str | None) -> str:
        return extract(html, page_url, rules).text

    return run


# --------------------------------------------------------------------------- fetched pages

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_PDF_TYPES = frozenset({"application/pdf", "application/x-pdf"})
_MARKDOWN_TYPES = frozenset({"text/markdown", "text/x-markdown"})
_TEXT_TYPES = frozenset({"text/plain", *_MARKDOWN_TYPES})
_HTML_SNIFF = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b",
    re.IGNORECASE | re.DOTALL,
)
# WHATWG: a page labelled latin-1 or ascii is decoded as windows-1252 by every browser.
_LATIN1_ALIASES = frozenset({"latin-1", "iso8859-1", "ascii"})


def page_kind(media_type: str | None, url: str, raw: bytes) -> str:
    """Return the stored source suffix of a fetched page: ``html``, ``pdf``, ``md`` or ``txt``."""
    path = urlsplit(url).path.lower()
    if media_type in _HTML_TYPES:
        return "html"
    if media_type in _PDF_TYPES or raw.startswith(b"%PDF-"):
        # Servers label PDFs application/octet-stream (or text/plain); the signature decides.
        return "pdf"
    if media_type in _MARKDOWN_TYPES or (media_type == "text/plain" and path.endswith(".md")):
        return "md"
    if media_type in _TEXT_TYPES:
        return "txt"
    if media_type is None or media_type == "application/octet-stream":
        if _HTML_SNIFF.match(raw[:4096]):
            return "html"
        return "md" if path.endswith((".md", ".markdown")) else "txt"
    raise InputError(f"{url} is {media_type}, not an HTML, PDF or text page")


def _header_codec(charset: str | None, raw: bytes) -> str | None:
    """Return the codec a Content-Type charset names, unless a BOM overrides it."""
    if charset is None or raw.startswith(
        (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    ):
        return None
    name = text_codec(charset)
    if name is None:
        # An unknown label in a header is ignored, as browsers do; the meta prescan decides.
        # So is a codec that is no character set (idna, base64).
        return None
    return "cp1252" if name in _LATIN1_ALIASES else name


@dataclass(frozen=True, slots=True)
class PageText:
    """A fetched page's text, how its source is stored, and the header charset used, if any."""

    text: str
    suffix: str
    charset: str | None


def page_text(
    raw: bytes,
    *,
    url: str,
    media_type: str | None,
    charset: str | None,
    rules: ExtractRules = NO_RULES,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> PageText:
    """Decode a fetched page (BOM, then header charset, then meta) and extract its text."""
    kind = page_kind(media_type, url, raw)
    if kind == "pdf":
        if rules.select or rules.remove:
            raise InputError(f"{url} is a PDF: --select and --remove apply to HTML pages only")
        try:
            return PageText(pdf_to_markdown(raw), kind, None)
        except InputError as err:
            raise InputError(f"{url}: {err}") from None
    codec = _header_codec(charset, raw)
    decoded = decode_bytes(raw, encoding=codec, is_html=kind == "html", max_bytes=max_bytes)
    text = extract(decoded, url, rules).text if kind == "html" else decoded
    return PageText(text, kind, codec)
