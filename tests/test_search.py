"""`policydiff search`: a phrase through every recorded version, matched past cosmetic noise."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from helpers import REPO, SEED, run_cli, seed_body
from policydiff.engine.search import EventKind, Matcher, context_of, search_history
from policydiff.store.gitstore import GitStore

POLICY = "koozali/privacy-policy"
OLD = "email address and a password."
PHRASE = "IP address you registered from"
CORPUS = Path(os.environ.get("POLICYDIFF_CORPUS", REPO.parent / "shared" / "corpus"))


def add(store: Path, tmp_path: Path, day: str, body: str) -> None:
    snapshot = tmp_path / f"{day}.md"
    snapshot.write_text(f"---\ncaptured: {day}T00:00:00Z\n---\n{body}", encoding="utf-8")
    result = run_cli(["--store", str(store), "add", str(snapshot), "--policy", POLICY])
    assert result.exit_code == 0, result.stderr


@pytest.fixture
def sme_store(tmp_path: Path) -> Path:
    """The 2016 seed, then a version adding the phrase, one dropping it, one bringing it back.

    The later ones write it differently each time (wrapped, emphasised, curly quotes):
    search must see through all of that.
    """
    store = tmp_path / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    added = run_cli(["--store", str(store), "add", str(SEED), "--policy", POLICY])
    assert added.exit_code == 0, added.stderr
    body = seed_body()
    assert OLD in body
    add(
        store,
        tmp_path,
        "2018-05-25",
        body.replace(OLD, "email address, a password and the IP\naddress you registered from."),
    )
    add(store, tmp_path, "2019-01-01", body)
    add(
        store,
        tmp_path,
        "2020-01-01",
        body.replace(
            OLD, "email address, a password and the _IP address_ you\u2019ve registered from."
        ).replace("you\u2019ve", "you"),
    )
    return store


def test_search_finds_when_the_phrase_entered_left_and_came_back(sme_store: Path) -> None:
    result = run_cli(["--store", str(sme_store), "search", PHRASE, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == "policydiff.search/1"
    assert document["versions_searched"] == 4
    (hits,) = document["results"]
    assert hits["policy"] == POLICY
    assert [(e["kind"], e["version"]) for e in hits["events"]] == [
        ("appeared", 2),
        ("removed", 3),
        ("returned", 4),
    ]
    assert hits["first"]["captured_at"] == "2018-05-25T00:00:00Z"
    assert hits["in_latest"] is True
    assert hits["context_version"] == 4
    assert "IP address" in hits["context"]
    assert "registered from" in hits["context"]


def test_search_text_output_and_exit_codes(sme_store: Path) -> None:
    found = run_cli(["--store", str(sme_store), "search", PHRASE])
    assert found.exit_code == 0
    assert "appeared: v2 (valid from 2016-02-08, archived 2018-05-25)" in found.stdout
    assert "removed: v3 (valid from 2016-02-08, archived 2019-01-01)" in found.stdout
    assert "still there" in found.stdout
    assert "found in 1 of 1 policy (4 version(s) searched)" in found.stderr
    missing = run_cli(["--store", str(sme_store), "search", "biometric"])
    assert missing.exit_code == 1
    assert missing.stdout == ""
    assert "Error" not in missing.stderr
    regex = run_cli(
        ["--store", str(sme_store), "search", "--regex", r"ip address you\s+registered"]
    )
    assert regex.exit_code == 0, regex.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "   "], "the search phrase is empty"),
        (["search", "--", "***"], "has no words"),
        (["search", "--regex", "("], "invalid regular expression"),
        (["search", "x", "--policy", "../etc"], "Error:"),
        (["search", "x", "--policy", "nobody/here"], "no policy"),
    ],
)
def test_search_bad_input(sme_store: Path, args: list[str], message: str) -> None:
    result = run_cli(["--store", str(sme_store), *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_identical_texts_are_matched_once(sme_store: Path) -> None:
    reads: list[str] = []
    with GitStore(sme_store) as store:
        history = store.versions(POLICY)
        history = [*history, *history]  # the same texts again

        def text_of(version: object) -> str:
            reads.append(version.commit)  # type: ignore[attr-defined]
            return store.text(version)  # type: ignore[arg-type]

        hits = search_history(history, text_of, Matcher(PHRASE))
    assert hits is not None
    assert [e.kind for e in hits.events] == [
        EventKind.APPEARED,
        *[EventKind.REMOVED, EventKind.RETURNED] * 3,
    ]
    # Three distinct texts matched (v3 restores the seed's text exactly), each once, plus
    # one read for the context.
    assert len(reads) == 3 + 1


def test_context_is_cut_at_words() -> None:
    sentence = " ".join(f"word{i}" for i in range(200)) + " the needle here " + "tail " * 100
    context = context_of(sentence + ".", Matcher("the needle here"))
    assert "the needle here" in context
    assert context.startswith("\u2026 word")
    assert context.endswith(" \u2026")
    assert len(context) <= 310


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").exists(), reason="no corpus")
def test_search_across_the_corpus(tmp_path: Path) -> None:
    source = tmp_path / "corpus"
    shutil.copytree(CORPUS, source, ignore=shutil.ignore_patterns("*.tsv", "README*"))
    store = tmp_path / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    assert run_cli(["--store", str(store), "import", str(source)]).exit_code == 0
    started = time.perf_counter()
    result = run_cli(["--store", str(store), "search", "biometric", "--format", "json"])
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["versions_searched"] == 118
    policies = {hits["policy"] for hits in document["results"]}
    assert {"x/privacy-policy", "bluesky/privacy-policy", "linkedin/privacy-policy"} <= policies
    bluesky = next(h for h in document["results"] if h["policy"] == "bluesky/privacy-policy")
    assert bluesky["first"]["captured_at"].startswith("2025-08-15")
    # Speed is the bench's business; this only records the figure when it fails.
    assert elapsed < 60, elapsed


@pytest.mark.parametrize(
    ("phrase", "text", "found"),
    [
        ("ip address", "We keep the IP address.", True),
        ("ip address", "We ship addresses.", False),  # whole words only
        ("ip address", "Your _IP\naddress_ is kept.", True),  # markup and wrapping
        ("don't sell", "We don\u2019t sell data.", True),  # curly quote
        ("financial data", "Your \ufb01nancial data.", True),  # ligature (NFKC)
        ("e-mail", "Your e\u2013mail.", True),  # an en dash reads as a hyphen, as in compare
        ("e-mail", "Your e\u2014mail.", False),  # an em dash is a separator, not a hyphen
        ("end of one", "The end of\n\none paragraph.", False),  # within one paragraph
        ("cookies", "[Cookies](https://example.com/c) are used.", True),  # link text
    ],
)
def test_matcher(phrase: str, text: str, found: bool) -> None:
    assert Matcher(phrase).found_in_text(text) is found


def test_site_search_page(sme_store: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    built = run_cli(["--store", str(sme_store), "site", str(site), "--search", PHRASE])
    assert built.exit_code == 0, built.stderr
    pages = list((site / "search").glob("*.html"))
    assert len(pages) == 1
    page = pages[0]
    assert page.name.startswith("ip-address-you-registered-from-")
    html = page.read_text(encoding="utf-8")
    assert "Search: \u201cIP address you registered from\u201d" in html
    assert "appeared: <a href=" in html
    assert "still there" in html
    # Every link on the page leads to a page of the site.
    for target in re.findall(r'href="([^"#]+)"', html):
        assert (page.parent / target).resolve().is_file(), target
    index = (site / "index.html").read_text(encoding="utf-8")
    assert f'href="search/{page.name}"' in index
    # Without --search the page is removed again: the site holds what this run was asked.
    again = run_cli(["--store", str(sme_store), "site", str(site)])
    assert again.exit_code == 0, again.stderr
    assert not page.exists()
    empty = run_cli(["--store", str(sme_store), "site", str(site), "--search", "  "])
    assert empty.exit_code == 2
    assert "the search phrase is empty" in empty.stderr
