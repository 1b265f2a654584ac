"""The static site: pages, links, CSP, escaping, and writing only what changed."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from helpers import run_cli
from policydiff.engine.history import Timeline, version_stats
from policydiff.publish.site import ALL_PAIRS_MAX, MANIFEST, build_site, chart_svg, json_for_script
from policydiff.store.gitstore import GitStore
from test_blame import POLICY, build_story, snapshot

HOSTILE = "hostile/policy"
HOSTILE_V1 = (
    "# Hostile <b>policy</b> & co\n\n"
    "Text with <script>alert(1)</script> inside.\n\n"
    "## Images <img src=x onerror=alert(1)>\n\n"
    "More: </script><script>alert(2)</script> and <!-- c --> and [x](javascript:alert(3)).\n"
)
HOSTILE_V2 = HOSTILE_V1 + '\n## Styles\n\n<style>body{display:none}</style> "quoted" \u2028 end.\n'


@dataclass
class Parsed:
    """What a page holds: links, ids, elements (tag, attrs) and inline element contents."""

    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    elements: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    contents: dict[str, list[str]] = field(default_factory=dict)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Parsed()
        self._inside: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.page.elements.append((tag, found))
        for name in ("href", "src", "xlink:href", "action", "srcset", "poster"):
            value = found.get(name)
            if value is not None:
                self.page.links.append(value)
        if found.get("id"):
            self.page.ids.add(str(found["id"]))
        if tag in {"script", "style"}:
            self._inside = tag
            self.page.contents.setdefault(tag, []).append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._inside:
            self._inside = None

    def handle_data(self, data: str) -> None:
        if self._inside is not None:
            self.page.contents[self._inside][-1] += data


def parse(path: Path) -> Parsed:
    """Parse a generated page."""
    parser = _Parser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser.page


def check_links(root: Path) -> int:
    """Assert every link in every page under ``root`` is relative and resolves; return count."""
    pages = {path: parse(path) for path in root.rglob("*.html")}
    checked = 0
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            assert not parts.scheme, (path, link)
            assert not parts.netloc, (path, link)
            assert not link.startswith("/"), (path, link)
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            assert target.is_file(), (path, link)
            assert root.resolve() in target.parents, (path, link)
            if parts.fragment:
                assert parts.fragment in pages[target].ids, (path, link)
            checked += 1
    return checked


def csp_hashes(text: str) -> str:
    """Return the CSP source expression for an inline text."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site of the story policy and a hostile one (shared: tests only read it)."""
    folder = tmp_path_factory.mktemp("site")
    store = build_story(folder / "store")
    store.record(
        [snapshot(HOSTILE_V1, "2020-01-01", policy=HOSTILE)],
    )
    store.record([snapshot(HOSTILE_V2, "2020-02-01", policy=HOSTILE)])
    report = build_site(store, folder / "out", store.policies())
    assert report.written == report.pages
    return folder / "out"


def test_pages(site: Path) -> None:
    base = site / "policies" / POLICY
    assert (site / "index.html").is_file()
    assert (site / MANIFEST).is_file()
    for name in ("index.html", "blame.html", "compare.html", "sections/index.html"):
        assert (base / name).is_file(), name
    assert sorted(p.name for p in (base / "versions").iterdir()) == [
        f"{n}.html" for n in range(1, 7)
    ]
    # Six versions: every pair has its redline.
    assert len(list((base / "diffs").iterdir())) == 15
    sections = sorted(p.name for p in (base / "sections").iterdir())
    assert "003-online-services.html" in sections
    assert len(sections) == 8  # seven sections and the index
    timeline = (base / "index.html").read_text()
    assert "<svg" in timeline
    assert "cosmetic only" in timeline
    assert "technical" in timeline


def test_every_link_resolves(site: Path) -> None:
    assert check_links(site) > 300


def test_pages_allow_only_their_own_style_and_script(site: Path) -> None:
    for path in site.rglob("*.html"):
        page = parse(path)
        metas = [a for tag, a in page.elements if tag == "meta" and a.get("http-equiv")]
        assert len(metas) == 1, path
        csp = str(metas[0]["content"])
        assert "default-src 'none'" in csp
        (style,) = page.contents["style"]
        assert f"style-src {csp_hashes(style)};" in csp
        scripts = [a for tag, a in page.elements if tag == "script"]
        if path.name == "compare.html":
            data, code = page.contents["script"]
            assert [a.get("type") for a in scripts] == ["application/json", None]
            assert f"script-src {csp_hashes(code)};" in csp
            assert "</" not in data
        else:
            assert not scripts, path
            assert "script-src 'none'" in csp
        assert not any(
            tag in {"img", "iframe", "object", "embed", "link"} for tag, _ in page.elements
        )
        for _, attrs in page.elements:
            assert not any(name.startswith("on") or name == "style" for name in attrs), path


def test_hostile_text_is_escaped_everywhere(site: Path) -> None:
    base = site / "policies" / HOSTILE
    version = (base / "versions" / "2.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in version
    assert "&lt;img src=x onerror=alert(1)&gt;" in version
    assert "&lt;style&gt;body{display:none}&lt;/style&gt;" in version
    for path in base.rglob("*.html"):
        text = path.read_text()
        assert "<script>alert" not in text, path
        assert "<img" not in text, path
        assert "<b>policy" not in text, path
        assert "javascript:" not in re.sub(r"\[x\]\(javascript:alert\(3\)\)", "", text), path
    diff = (base / "diffs" / "1-2.html").read_text()
    assert "<ins>" in diff or "<ins " in diff


def test_json_for_script_cannot_close_the_element() -> None:
    text = json_for_script({"a": "</script><!-- & \u2028"})
    assert "<" not in text
    assert ">" not in text
    assert "&" not in text
    assert "\u2028" not in text


def test_chart_has_a_bar_link_per_change(tmp_path: Path) -> None:
    store = build_story(tmp_path / "store", count=4)
    timeline = Timeline(store, POLICY)
    stats = version_stats(timeline)
    links = [None, "diffs/1-2.html", "diffs/2-3.html", "diffs/3-4.html"]
    svg = chart_svg(timeline.versions, stats, links)
    assert svg.count("<a href=") == 3
    assert svg.count('class="pd-bar-first"') == 1
    assert svg.count('class="pd-bar-mark"') == 1  # the re-wrap changed no words
    assert svg.count('class="pd-bar-sub"') == 2
    assert ">2017</text>" in svg


def test_rerun_writes_only_changed_pages(tmp_path: Path) -> None:
    store = build_story(tmp_path / "store", count=3)
    out = tmp_path / "out"
    first = build_site(store, out, [POLICY])
    untouched = out / "policies" / POLICY / "versions" / "1.html"
    stamp = untouched.stat().st_mtime_ns
    again = build_site(store, out, [POLICY])
    assert (again.written, again.unchanged, again.removed) == (0, first.pages, 0)
    store.record([snapshot("# New policy\n\nEverything changed.\n", "2018-01-01")])
    grown = build_site(store, out, [POLICY])
    assert grown.pages > first.pages
    assert 0 < grown.written < grown.pages
    assert untouched.stat().st_mtime_ns == stamp
    assert (out / "policies" / POLICY / "diffs" / "3-4.html").is_file()


def test_pages_no_longer_made_are_removed(tmp_path: Path) -> None:
    store = build_story(tmp_path / "store", count=2)
    store.record([snapshot(HOSTILE_V1, "2020-01-01", policy=HOSTILE)])
    out = tmp_path / "out"
    both = build_site(store, out, store.policies())
    one = build_site(store, out, [POLICY])
    assert one.removed == both.pages - one.pages
    assert not (out / "policies" / "hostile").exists()
    check_links(out)


def test_refuses_a_folder_it_did_not_write(tmp_path: Path) -> None:
    store = build_story(tmp_path / "store", count=1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = run_cli(["--store", str(store.path), "site", str(out)])
    assert result.exit_code == 2
    assert "is not empty and was not written by 'policydiff site'" in result.stderr
    assert (out / "notes.txt").read_text() == "mine"


def test_long_histories_get_consecutive_and_latest_pairs(tmp_path: Path) -> None:
    store = build_story(tmp_path / "store", count=6)
    extra = [f"# Policy\n\nVersion {n} says {n} things.\n" for n in range(7, 7 + ALL_PAIRS_MAX - 4)]
    store.record([snapshot(text, f"2018-0{i + 1}-01") for i, text in enumerate(extra)])
    count = len(store.versions(POLICY))
    assert count > ALL_PAIRS_MAX
    out = tmp_path / "out"
    result = run_cli(["--store", str(store.path), "site", str(out), "--policy", POLICY])
    assert result.exit_code == 0, result.stderr
    assert re.match(
        r"Site: \d+ page\(s\) in .* \(\d+ written, 0 unchanged, 0 removed\)", result.stderr
    )
    diffs = {p.stem for p in (out / "policies" / POLICY / "diffs").iterdir()}
    consecutive = {f"{n}-{n + 1}" for n in range(1, count)}
    latest = {f"{n}-{count}" for n in range(1, count)}
    assert diffs == consecutive | latest
    compare = (out / "policies" / POLICY / "compare.html").read_text()
    assert f'"1-{count}": "diffs/1-{count}.html"' in compare
    check_links(out)


def test_cli_needs_policies(tmp_path: Path) -> None:
    store = GitStore(build_story(tmp_path / "store", count=1).path)
    result = run_cli(["--store", str(store.path), "site", str(tmp_path / "o"), "--policy", "a/b"])
    assert result.exit_code == 2
    assert result.stderr == "Error: no policy 'a/b' in the store\n"
