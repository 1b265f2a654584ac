"""Site page templates: a store's own replace the packaged ones, in the sandbox, on a budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from browser import chromium_available, dump_dom, parse_dom
from helpers import run_cli
from policydiff.publish.site import MANIFEST, SITE_TEMPLATES, build_site
from policydiff.store.gitstore import GitStore
from test_blame import POLICY, build_story, snapshot
from test_site import HOSTILE, HOSTILE_V1, HOSTILE_V2, csp_hashes, parse
from test_site_browser import load

# A branded index: the organisation's header and colours, the rest as packaged.
BRANDED_INDEX = """{% extends "base.html.j2" %}
{% block style %}{{ super() }} .acme-banner{color:#c00}{% endblock %}
{% block header %}<header class="acme-banner">ACME audit site</header>
{% endblock %}
{% block main %}
<h1>ACME policies</h1>
<ul>
{% for row in policies %}
<li><a href="{{ row.href }}">{{ row.policy }}</a> ({{ row.versions }} versions)</li>
{% endfor %}
</ul>
{% endblock %}
"""

# A version page that shows the policy text in a new layout, and the label in a title.
BRANDED_VERSION = """{% extends "base.html.j2" %}
{% block main %}
<article class="acme" title="{{ label }}"><h1>{{ label }}</h1><div>{{ text }}</div>
{% for name, value in facts %}<p data-fact="{{ name }}">{{ value }}</p>{% endfor %}
</article>
{% endblock %}
"""


def story(tmp_path: Path) -> GitStore:
    """A small store: two versions of the story policy and two of a hostile one."""
    store = build_story(tmp_path / "store", count=2)
    store.record([snapshot(HOSTILE_V1, "2020-01-01", policy=HOSTILE)])
    store.record([snapshot(HOSTILE_V2, "2020-02-01", policy=HOSTILE)])
    return store


def override(store: GitStore, name: str, source: str) -> Path:
    """Write a template into the store's templates/site/ folder."""
    folder = store.path / "templates" / "site"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(source, encoding="utf-8")
    return folder


def site(store: GitStore, out: Path) -> tuple[int, str, str]:
    """Run ``policydiff site OUT``; return exit code, stdout and stderr."""
    result = run_cli(["--store", str(store.path), "site", str(out)])
    return result.exit_code, result.stdout, result.stderr


def pages(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_packaged_templates_are_all_there() -> None:
    from importlib import resources

    folder = resources.files("policydiff.publish") / "templates" / "site"
    assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".j2")) == sorted(
        SITE_TEMPLATES
    )


def test_a_store_template_changes_its_page_only(tmp_path: Path) -> None:
    store = story(tmp_path)
    assert site(store, tmp_path / "plain")[0] == 0
    override(store, "index.html.j2", BRANDED_INDEX)
    code, _, err = site(store, tmp_path / "branded")
    assert code == 0, err
    plain, branded = pages(tmp_path / "plain"), pages(tmp_path / "branded")
    assert plain.keys() == branded.keys()
    changed = sorted(name for name in plain if plain[name] != branded[name])
    assert changed == ["index.html"]
    index = branded["index.html"].decode()
    assert '<header class="acme-banner">ACME audit site</header>' in index
    assert "<h1>ACME policies</h1>" in index
    assert f'href="policies/{POLICY}/index.html"' in index
    # The page's own style, with the brand's rules, is what its CSP allows.
    page = parse(tmp_path / "branded" / "index.html")
    (style,) = page.contents["style"]
    assert style.endswith(".acme-banner{color:#c00}")
    (meta,) = [a for tag, a in page.elements if tag == "meta" and a.get("http-equiv")]
    assert f"style-src {csp_hashes(style)};" in str(meta["content"])
    assert "script-src 'none'" in str(meta["content"])


def test_hostile_policy_text_is_escaped_by_a_store_template(tmp_path: Path) -> None:
    store = story(tmp_path)
    override(store, "version.html.j2", BRANDED_VERSION)
    override(store, "base.html.j2", _packaged("base.html.j2").replace("<main>", "<main id=m>"))
    code, _, err = site(store, tmp_path / "out")
    assert code == 0, err
    version = (tmp_path / "out" / "policies" / HOSTILE / "versions" / "2.html").read_text()
    assert '<article class="acme"' in version
    assert "<main id=m>" in version
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in version
    assert "&lt;style&gt;body{display:none}&lt;/style&gt;" in version
    assert "&#x27;" in version or "&quot;" in version  # quotes escaped in attributes too
    for path in (tmp_path / "out" / "policies" / HOSTILE).rglob("*.html"):
        text = path.read_text()
        assert "<script>alert" not in text, path
        assert "<img" not in text, path
        assert "<b>policy" not in text, path
        page = parse(path)
        assert len(page.contents["style"]) == 1, path  # the hostile <style> stayed text


@pytest.mark.parametrize(
    ("source", "said"),
    [
        pytest.param(
            '{% extends "base.html.j2" %}{% block main %}'
            '{% for i in range(99999) %}{% for j in range(99999) %}{{ "x" * 999 }}'
            "{% endfor %}{% endfor %}{% endblock %}",
            "over the budget",
            id="budget",
        ),
        pytest.param(
            '{% extends "base.html.j2" %}{% block main %}'
            "{{ ''.__class__.__mro__[1].__subclasses__() }}{% endblock %}",
            "unsafe",
            id="sandbox",
        ),
        pytest.param(
            '{% extends "base.html.j2" %}{% block main %}{% include "/etc/passwd" %}{% endblock %}',
            "cannot include, import or extend '/etc/passwd'",
            id="other-file",
        ),
        pytest.param(
            '{% extends "base.html.j2" %}{% block main %}{{ titel }}{% endblock %}',
            "'titel' is undefined",
            id="undefined",
        ),
        pytest.param("<html>{{ title }}</html>", "must carry {{ csp }}", id="no-csp"),
        pytest.param("{% block main %}", "line 1", id="syntax"),
    ],
)
def test_a_bad_store_template_stops_with_nothing_written(
    tmp_path: Path, source: str, said: str
) -> None:
    store = build_story(tmp_path / "store", count=2)
    # The blame pages come late in each policy's pages: several pages are made before.
    override(store, "blame.html.j2", source)
    code, _out, err = site(store, tmp_path / "new")
    assert code == 2
    assert err.startswith("Error: template ")
    assert str(store.path / "templates" / "site" / "blame.html.j2") in err
    assert said in err, err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert not (tmp_path / "new").exists()


def test_a_bad_store_template_leaves_an_existing_site_as_it_was(tmp_path: Path) -> None:
    store = story(tmp_path)
    assert site(store, tmp_path / "out")[0] == 0
    before = pages(tmp_path / "out")
    store.record([snapshot(HOSTILE_V2 + "\nA third version.\n", "2020-03-01", policy=HOSTILE)])
    override(
        store,
        "blame.html.j2",
        '{% extends "base.html.j2" %}{% block main %}{{ 1 // 0 }}{% endblock %}',
    )
    code, _, err = site(store, tmp_path / "out")
    assert code == 2, err
    assert err.startswith("Error: template ")
    assert "ZeroDivisionError" in err
    assert pages(tmp_path / "out") == before  # no new page, no temporary file, no folder
    assert not list((tmp_path / "out").rglob(".*.tmp"))


def test_store_templates_are_part_of_the_page_cache_key(tmp_path: Path) -> None:
    store = story(tmp_path)
    assert site(store, tmp_path / "a")[0] == 0
    override(store, "version.html.j2", BRANDED_VERSION)
    assert site(store, tmp_path / "b")[0] == 0
    target = f"policies/{POLICY}/versions/1.html"
    assert b'<article class="acme"' in pages(tmp_path / "b")[target]
    # An edit of the template is seen by the next run, though the policy did not change.
    override(store, "version.html.j2", BRANDED_VERSION.replace("acme", "acme2"))
    assert site(store, tmp_path / "c")[0] == 0
    assert b'<article class="acme2"' in pages(tmp_path / "c")[target]
    # And without it the packaged template is back, byte for byte.
    (store.path / "templates" / "site" / "version.html.j2").unlink()
    assert site(store, tmp_path / "d")[0] == 0
    assert pages(tmp_path / "d") == pages(tmp_path / "a")


def test_unknown_template_names_are_refused(tmp_path: Path) -> None:
    store = story(tmp_path)
    override(store, "indx.html.j2", BRANDED_INDEX)
    code, _, err = site(store, tmp_path / "out")
    assert code == 2
    assert err.startswith("Error: ")
    assert "indx.html.j2 is not a site template" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_linked_template_is_refused(tmp_path: Path) -> None:
    store = story(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("{{ csp }} secret", encoding="utf-8")
    folder = override(store, "index.html.j2", BRANDED_INDEX)
    (folder / "index.html.j2").unlink()
    (folder / "index.html.j2").symlink_to(secret)
    code, _, err = site(store, tmp_path / "out")
    assert code == 2
    assert "is not a regular file" in err
    assert not (tmp_path / "out").exists()


def test_a_page_larger_than_the_template_budget_still_renders(tmp_path: Path) -> None:
    """A policy text past MAX_TEMPLATE_CHARS is data, not template output: it is shown."""
    from policydiff.publish.announce import MAX_TEMPLATE_CHARS

    store = build_story(tmp_path / "store", count=1)
    paragraph = "We keep <records> & logs of what you do.\n\n"
    big = "# Big\n\n" + paragraph * (MAX_TEMPLATE_CHARS // len(paragraph) + 10)
    store.record([snapshot(big, "2020-01-01", policy="big/policy")])
    build_site(store, tmp_path / "out", ["big/policy"])
    text = (tmp_path / "out" / "policies" / "big" / "policy" / "versions" / "1.html").read_text()
    assert len(text) > MAX_TEMPLATE_CHARS
    assert text.count("&lt;records&gt; &amp; logs") == big.count("<records> & logs")
    assert text.endswith("</html>\n")
    assert (tmp_path / "out" / MANIFEST).is_file()


def _packaged(name: str) -> str:
    """The packaged source of a site template."""
    from importlib import resources

    return (resources.files("policydiff.publish") / "templates" / "site" / name).read_text("utf-8")


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="needs /usr/bin/chromium")
def test_a_brands_style_is_allowed_and_its_script_is_not_in_chromium(tmp_path: Path) -> None:
    store = build_story(tmp_path / "store", count=2)
    override(store, "index.html.j2", BRANDED_INDEX)
    scripted = (
        '{% extends "base.html.j2" %}{% block main %}'
        "<script>document.title = 'ran';</script><h1>Sections</h1>\n{% endblock %}"
    )
    override(store, "sections.html.j2", scripted)
    assert site(store, tmp_path / "out")[0] == 0
    # The brand's CSS is in the page's one <style>: allowed, so Chromium logs nothing.
    dom, _ = load(tmp_path / "out" / "index.html", tmp_path / "profile")
    (header,) = dom.tags("header")
    assert header.attrs["class"] == "acme-banner"
    # A script a template adds is not the picker: the page's policy blocks it.
    page = tmp_path / "out" / "policies" / POLICY / "sections" / "index.html"
    run = dump_dom(page, tmp_path / "profile2")
    assert "Content Security Policy" in run.stderr
    titles = [" ".join(t.text) for t in parse_dom(run.stdout).tags("title")]
    assert titles == [f"Sections of {POLICY}"]
