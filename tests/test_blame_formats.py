"""``blame --format markdown|html``: GFM tables and a standalone page, policy text kept as text."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from browser import chromium_available, dump_dom, parse_dom, run_chromium
from helpers import run_cli

POLICY = "acme/privacy"
HOSTILE = "<script>alert(1)</script> | a [link](javascript:alert(2)) & `code` <!--"
V1 = f"# Privacy\n\n## Data\n\nWe collect your name.\n{HOSTILE}\n\n## Cookies\n\nWe use cookies.\n"
V2 = V1.replace("your name.", "your name and address.")


@pytest.fixture
def store(tmp_path: Path) -> list[str]:
    """Return the --store arguments of a store with two versions, one paragraph changed."""
    args = ["--store", str(tmp_path / "store")]
    assert run_cli([*args, "init"]).exit_code == 0
    for day, text in (("2020-01-01", V1), ("2021-01-01", V2)):
        file = tmp_path / f"{day}.md"
        file.write_text(text, encoding="utf-8")
        assert run_cli([*args, "add", str(file), "--policy", POLICY]).exit_code == 0
    return args


def blame_units(store: list[str], *extra: str) -> list[dict[str, object]]:
    """Return the units of the JSON blame (the reference for the other formats)."""
    result = run_cli([*store, "blame", POLICY, "--format", "json", *extra])
    assert result.exit_code == 0, result.stderr
    units: list[dict[str, object]] = json.loads(result.stdout)["units"]
    return units


@pytest.mark.parametrize("by", ["paragraph", "sentence"])
def test_markdown_is_one_gfm_table_with_a_row_per_unit(store: list[str], by: str) -> None:
    result = run_cli([*store, "blame", POLICY, "--format", "markdown", "--by", by])
    assert result.exit_code == 0, result.stderr
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(result.stdout)
    assert html.count("<table>") == 1
    rows = re.findall(r"<tr>\n<td>(.*?)</td>\n<td>(.*?)</td>\n</tr>", html)
    units = blame_units(store, "--by", by)
    assert len(rows) == len(units)
    assert [since for since, _ in rows] == [
        f"v{u['since']} {'2020' if u['since'] == 1 else '2021'}-01-01" for u in units
    ]
    # The changed paragraph is the newer one; the hostile text reads as written.
    assert "v2 2021-01-01" in {since for since, text in rows if "address" in text}
    hostile = next(text for _, text in rows if "alert(1)" in text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; | a [link](javascript:alert(2))" in hostile
    tags = set(re.findall(r"<([a-z0-9]+)[\s>/]", html))
    assert tags <= {"h2", "p", "em", "ul", "li", "table", "thead", "tbody", "tr", "th", "td", "br"}
    assert "href" not in html


def test_html_is_escaped_and_allows_only_its_own_style(store: list[str], tmp_path: Path) -> None:
    out = tmp_path / "blame.html"
    written = run_cli([*store, "blame", POLICY, "--format", "html", "-o", str(out)])
    assert written.exit_code == 0, written.stderr
    assert written.stdout == ""
    page = out.read_text(encoding="utf-8")
    assert page == run_cli([*store, "blame", POLICY, "--format", "html"]).stdout
    dom = parse_dom(page)
    assert not dom.tags("script")
    assert not dom.tags("a")
    [style] = dom.tags("style")
    digest = base64.b64encode(hashlib.sha256("".join(style.text).encode()).digest()).decode()
    [csp] = [m for m in dom.tags("meta") if m.attrs.get("http-equiv")]
    assert csp.attrs["content"] == (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'none'; font-src 'none'; "
        "base-uri 'none'; form-action 'none'"
    )
    units = [" ".join(cell.text) for cell in dom.tags("td") if cell.attrs["class"] == "pd-unit"]
    assert units == [str(u["text"]).rstrip() for u in blame_units(store)]
    gutters = [" ".join(c.text) for c in dom.tags("td") if c.attrs["class"] == "pd-gutter"]
    assert gutters.count("v2 2021-01-01") == 1


@pytest.mark.skipif(not chromium_available(), reason="no /usr/bin/chromium")
def test_html_loads_in_chromium_without_violations(store: list[str], tmp_path: Path) -> None:
    out = tmp_path / "blame.html"
    assert run_cli([*store, "blame", POLICY, "--format", "html", "-o", str(out)]).exit_code == 0
    run = run_chromium(out, tmp_path / "profile", "--dump-dom")
    assert "Refused to" not in run.stderr
    assert "Content Security Policy" not in run.stderr
    dom = parse_dom(dump_dom(out, tmp_path / "profile2").stdout)
    assert not dom.tags("script")
    assert any("<script>alert(1)</script>" in " ".join(td.text) for td in dom.tags("td"))


def test_term_output_to_a_file_is_plain(store: list[str], tmp_path: Path) -> None:
    out = tmp_path / "blame.txt"
    result = run_cli([*store, "blame", POLICY, "-o", str(out)], env={"FORCE_COLOR": "1"})
    assert result.exit_code == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert "\x1b[" not in text
    assert text == run_cli([*store, "blame", POLICY]).stdout
