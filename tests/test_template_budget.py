"""Announcement templates are untrusted data: sandboxed, one file, and rendered within a budget.

A store's ``templates/`` folder may come from whoever wrote the store, and ``--template``
from anywhere. Each hostile template below runs through the real CLI and must end in one
``Error:`` line naming the template, exit 2, quickly: includes and imports are refused,
huge values are refused before they are built, and a template that only loops is stopped
by the time budget. Also here: ``announce --format json -o``, the ``announce.diff_url``
check at ``config set`` time, and the Content-Security-Policy of ``announce --format html``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from browser import chromium_available, dump_dom, parse_dom
from helpers import run_cli
from policydiff.core.errors import UsageError
from policydiff.publish.announce import MAX_TEMPLATE_CHARS, TEMPLATE_SECONDS, render_announcement

POLICY = "acme/privacy"
OLD = "# Privacy policy\n\n## Data\n\nWe keep your data safe.\n"
NEW = "# Privacy policy\n\n## Data\n\nWe share your data with our partners.\n"
# Refusals take no render time at all; what is measured is mostly start-up (in-process).
QUICK = 3.0


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding two versions of POLICY with a substantive change."""
    root = tmp_path_factory.mktemp("template-budget")
    path = root / "store"
    assert run_cli(["--store", str(path), "init"]).exit_code == 0
    for day, text in (("2020-01-01", OLD), ("2021-01-01", NEW)):
        source = root / f"{day}.md"
        source.write_text(text, encoding="utf-8")
        added = run_cli(["--store", str(path), "add", str(source), "--policy", POLICY])
        assert added.exit_code == 0, added.stderr
    return path


def announce(store: Path, *args: str) -> tuple[int, str, str, float]:
    """Run ``announce`` on the store; return exit code, stdout, stderr and seconds taken."""
    started = time.monotonic()
    result = run_cli(["--store", str(store), "announce", "--format", "text", *args])
    return result.exit_code, result.stdout, result.stderr, time.monotonic() - started


@dataclass(frozen=True)
class Hostile:
    """A template that must be refused or stopped, and what the error says."""

    name: str
    source: str
    says: str
    seconds: float = QUICK


BIG = "{% set b = 'x' * 999999 %}{% set l = [b, b, b, b, b, b, b, b, b, b] %}"
HOSTILE = [
    Hostile("include", '{% include "announce.text.j2" %}', "cannot include, import or extend"),
    Hostile("import", '{% import "macros.j2" as m %}', "cannot include, import or extend"),
    Hostile("from-import", '{% from "m.j2" import x %}', "cannot include, import or extend"),
    Hostile("extends", '{% extends "base.j2" %}', "cannot include, import or extend"),
    Hostile("include-ignore-missing", '{% include "x" ignore missing %}', "cannot include"),
    Hostile("range-1e9", "{{ range(10**9) | list | length }}", "range() is given 1,000,000,000"),
    Hostile("loop-range-1e7", "{% for i in range(10**7) %}x{% endfor %}", "range() is given"),
    Hostile("recursion", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "too deeply"),
    Hostile("str-times-3e9", "{{ 'A' * 3000000000 }}", "3,000,000,000 characters"),
    Hostile("str-times-1e8", "{{ 'x' * 10**8 }}", "100,000,000 characters"),
    Hostile("list-times-1e9", "{{ [1] * 10**9 }}", "over the budget"),
    Hostile("huge-power", "{{ 2 ** 1000000000 }}", "raising 2 to the power"),
    Hostile("percent-width", "{{ '%0999999999d' % 1 }}", "% formatting"),
    Hostile("format-width", "{{ '{:>999999999}'.format(1) }}", "str.format()"),
    Hostile("format-filter", "{{ '%0999999999d' | format(1) }}", "format filter"),
    Hostile("center-filter", "{{ 'x' | center(10**9) }}", "center filter is given"),
    Hostile("replace-method", "{% set b = 'x' * 999999 %}{{ b.replace('x', b) }}", "replace"),
    Hostile(
        "replace-chain",
        "{% set b = 'x' * 999 %}{{ b | replace('x', b) | replace('x', b) }}",
        "replace filter",
    ),
    Hostile("join-big-separator", BIG + "{{ l | join(b) }}", "join filter"),
    Hostile("repr-of-shared-list", BIG + "{{ [l, l, l, l, l, l, l, l, l, l] }}", "this value"),
    Hostile("concat-of-shared-list", BIG + "{{ [l, l] ~ '' }}", "joining these values with ~"),
    Hostile(
        "concat-doubling",
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s | length }}",
        "joining these values with ~",
    ),
    Hostile(
        "plus-doubling",
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
        "{% endfor %}{{ ns.s | length }}",
        "adding these values",
    ),
    Hostile(
        "output-cap",
        "{% for i in range(99999) %}{{ 'y' * 99 }}\n{% endfor %}",
        f"output is over the budget of {MAX_TEMPLATE_CHARS:,}",
    ),
    Hostile("no-mutation", "{% set l = [] %}{{ l.append(1) }}", "unsafe"),
    Hostile("no-internals", "{{ ''.__class__.__mro__ }}", "unsafe"),
    Hostile("no-lipsum", "{{ lipsum(10**6) }}", "'lipsum' is undefined"),
    Hostile("division-by-zero", "{{ 1 / 0 }}", "ZeroDivisionError"),
    Hostile(
        "nested-loops-with-calls",
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
        f"stopped after {TEMPLATE_SECONDS:g} s",
        TEMPLATE_SECONDS + QUICK,
    ),
    Hostile(
        "nested-loops-without-calls",
        "{% set r = range(99999) | list %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}",
        f"stopped after {TEMPLATE_SECONDS:g} s",
        TEMPLATE_SECONDS + QUICK,
    ),
]


@pytest.mark.parametrize("case", HOSTILE, ids=[case.name for case in HOSTILE])
def test_hostile_template_is_refused_quickly(store: Path, tmp_path: Path, case: Hostile) -> None:
    template = tmp_path / f"{case.name}.j2"
    template.write_text(case.source, encoding="utf-8")
    code, out, err, took = announce(store, "--template", str(template))
    assert code == 2, out[:200]
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"Error: template {template}"), lines[0]
    assert case.says in lines[0], lines[0]
    assert "Traceback" not in err
    assert out == ""
    assert took < case.seconds, f"{case.name} took {took:.2f} s"


def test_store_template_is_held_to_the_same_rules(store: Path) -> None:
    folder = store / "templates"
    folder.mkdir(exist_ok=True)
    template = folder / "announce.text.j2"
    try:
        for source, says in (
            ('{% include "../../etc/passwd" %}', "cannot include"),
            ("{{ 'A' * 3000000000 }}", "3,000,000,000 characters"),
        ):
            template.write_text(source, encoding="utf-8")
            code, _, err, took = announce(store)
            assert code == 2
            assert err.splitlines() == [err.strip()]
            assert f"template {template}" in err
            assert says in err
            assert took < QUICK
    finally:
        template.unlink()


def test_real_templates_still_render(store: Path, tmp_path: Path) -> None:
    # What real templates do: underlines, loops, macros, joins, formatting, a small range.
    template = tmp_path / "real.j2"
    template.write_text(
        "{% macro line(c) %}{{ c * (title | length) }}{% endmacro %}"
        "{{ title }}\n{{ line('=') }}\n"
        "{% for change in changes %}{{ loop.index }}. {{ change.label ~ ': ' ~ change.what }}\n"
        "{% endfor %}"
        "{{ changes | map(attribute='label') | join(', ') }}\n"
        "{{ '%s change(s)' | format(changes | length) }} {{ '{:>4}'.format(1) }}\n"
        "{% for i in range(3) %}-{% endfor %}\n"
        "{{ 'x' * 900000 }}\n",
        encoding="utf-8",
    )
    code, out, err, _ = announce(store, "--template", str(template))
    assert code == 0, err
    assert out.startswith("Privacy policy\n==============\n1. Changed: Data\n")
    assert "1 change(s)    1\n---" in out
    assert "x" * 900000 in out


def test_time_budget_holds_off_the_main_thread() -> None:
    # No alarm can be set outside the main thread: the checks at every call stop it.
    loop = "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
    caught: list[BaseException] = []

    def render() -> None:
        try:
            render_announcement({}, "text", source=loop, name="threaded.j2")
        except UsageError as err:
            caught.append(err)

    started = time.monotonic()
    worker = threading.Thread(target=render)
    worker.start()
    worker.join(TEMPLATE_SECONDS + 30)
    took = time.monotonic() - started
    assert not worker.is_alive()
    stopped = f"template threaded.j2: stopped after {TEMPLATE_SECONDS:g} s"
    assert [str(e).split(",")[0] for e in caught] == [stopped]
    assert took < TEMPLATE_SECONDS + QUICK


def test_announce_json_goes_to_the_output_file(store: Path, tmp_path: Path) -> None:
    target = tmp_path / "notice.json"
    result = run_cli(["--store", str(store), "announce", "--format", "json", "-o", str(target)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["schema"] == "policydiff.announce/1"
    assert document["policy"] == POLICY
    printed = run_cli(["--store", str(store), "announce", "--format", "json"])
    assert json.loads(printed.stdout) == document


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("https://example.org/diff/{policy}/{old}..{new}", True),
        ("http://example.org/d?from={old}&to={new}", True),
        ("https://example.org/diff/{old}|{new}", False),
        ("https://example.org/diff/{version}", False),
        ('https://example.org/"quoted"', False),
        ("https://example.org/<b>", False),
        ("https://example.org/a^b", False),
        ("https://example.org/a`b`", False),
        ("https://example.org/a\\b", False),
        ("javascript:alert(1)", False),
        ("https:///no-host", False),
    ],
)
def test_diff_url_is_checked_when_set_as_announce_uses_it(
    store: Path, value: str, accepted: bool
) -> None:
    base = ["--store", str(store)]
    try:
        setting = run_cli([*base, "config", "set", "announce.diff_url", value])
        if not accepted:
            assert setting.exit_code == 2
            assert setting.stderr.startswith("Error: ")
            assert len(setting.stderr.splitlines()) == 1
            assert run_cli([*base, "config", "get", "announce.diff_url"]).exit_code == 2
            return
        assert setting.exit_code == 0, setting.stderr
        # Whatever 'config set' accepts, announce uses.
        drafted = run_cli([*base, "announce", "--format", "text"])
        assert drafted.exit_code == 0, drafted.stderr
        assert "example.org/d" in drafted.stdout
    finally:
        run_cli([*base, "config", "unset", "announce.diff_url"])


def test_announce_url_is_checked_the_same_way(store: Path) -> None:
    refused = run_cli(["--store", str(store), "config", "set", "announce.url", 'https://e.org/"x"'])
    assert refused.exit_code == 2
    assert len(refused.stderr.splitlines()) == 1


CSP_META = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">')


def style_hashes(csp: str) -> list[str]:
    """Return the style hashes a CSP allows."""
    style = next(part for part in csp.split(";") if part.strip().startswith("style-src"))
    return re.findall(r"'sha256-([^']+)'", style)


def test_announce_html_carries_the_compare_pages_csp(store: Path, tmp_path: Path) -> None:
    import base64
    import hashlib
    import html

    page = tmp_path / "notice.html"
    result = run_cli(["--store", str(store), "announce", "--format", "html", "-o", str(page)])
    assert result.exit_code == 0, result.stderr
    text = page.read_text(encoding="utf-8")
    (meta,) = CSP_META.findall(text)
    csp = html.unescape(meta)
    assert csp.startswith("default-src 'none'; style-src 'sha256-")
    assert "script-src" not in csp
    # The meta is in the head, before anything the template wrote into it but the charset.
    assert text.index("Content-Security-Policy") < text.index("<title>")
    (style,) = re.findall(r"<style>(.*?)</style>", text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode()
    assert style_hashes(csp) == [digest]
    # The same policy string as 'compare --format html' builds, from the same function.
    compare = tmp_path / "compare.html"
    assert (
        run_cli(
            ["--store", str(store), "compare", POLICY, "--format", "html", "-o", str(compare)]
        ).exit_code
        == 0
    )
    (compare_meta,) = CSP_META.findall(compare.read_text(encoding="utf-8"))
    assert re.sub(r"sha256-[^']+", "H", csp) == re.sub(
        r"sha256-[^']+", "H", html.unescape(compare_meta)
    )


def hostile_html_template(folder: Path) -> Path:
    """A store-style HTML template with two stylesheets, an inline script and an image."""
    template = folder / "hostile.html.j2"
    template.write_text(
        "<!DOCTYPE html>\n<html lang=\"en\" data-x='a>b'>\n<!-- <head> -->\n<head>\n"
        "<title>{{ title }}</title>\n<style>p { color: #123456; }</style>\n"
        "<style>h1 { color: #654321; }</style>\n</head>\n<body>\n<h1>{{ title }}</h1>\n"
        "<p id=\"t\">text</p>\n<script>document.title = 'script ran';</script>\n"
        '<img src="https://example.invalid/x.png">\n</body>\n</html>\n',
        encoding="utf-8",
    )
    return template


def test_announce_html_csp_covers_a_custom_template(store: Path, tmp_path: Path) -> None:
    template = hostile_html_template(tmp_path)
    page = tmp_path / "hostile.html"
    result = run_cli(
        ["--store", str(store), "announce", "--format", "html", "--template", str(template),
         "-o", str(page)]
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    text = page.read_text(encoding="utf-8")
    (meta,) = CSP_META.findall(text)
    assert len(style_hashes(meta.replace("&#x27;", "'"))) == 2
    # First thing after <html ...>: the comment holding "<head>" cannot move it.
    assert text.index("Content-Security-Policy") < text.index("<!-- <head> -->")


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="needs /usr/bin/chromium")
def test_chromium_applies_the_announce_csp(store: Path, tmp_path: Path) -> None:
    page = tmp_path / "notice.html"
    assert (
        run_cli(["--store", str(store), "announce", "--format", "html", "-o", str(page)]).exit_code
        == 0
    )
    run = dump_dom(page, tmp_path / "profile")
    assert "Content Security Policy" not in run.stderr  # the page's own style is allowed
    assert "Refused to" not in run.stderr
    hostile = tmp_path / "hostile.html"
    template = hostile_html_template(tmp_path)
    made = run_cli(
        ["--store", str(store), "announce", "--format", "html", "--template", str(template),
         "-o", str(hostile)]
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    run = dump_dom(hostile, tmp_path / "profile2")
    dom = parse_dom(run.stdout)
    titles = [" ".join(t.text) for t in dom.tags("title")]
    assert titles
    assert "script ran" not in titles[0]
    assert "Executing inline script violates the following Content Security Policy" in run.stderr
    assert "Loading the image 'https://example.invalid/x.png' violates" in run.stderr
    assert "inline style violates" not in run.stderr  # both stylesheets are allowed
