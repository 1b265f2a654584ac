"""Open Terms Archive declarations: ``config import-declarations`` and ``track --declarations``.

The fixtures in fixtures/ota/declarations are written in the published format
(https://docs.opentermsarchive.org/terms/reference/declaration/); their URLs say
``http://SERVER`` and are pointed at the local test server when copied into tmp_path.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers import run_cli
from httpserver import LocalServer, Reply
from policydiff.store.gitstore import GitStore
from test_bad_input import store_state

FIXTURES = Path(__file__).parent / "fixtures" / "ota"
FAST = ["--backoff", "0", "--retries", "1", "--timeout", "5"]
TRACKED = [
    "acme/privacy-policy",
    "acme/terms-of-service",
    "claude-ai/commercial-terms",
    "claude-ai/privacy-policy",
    "le-chat/community-guidelines",
    "le-chat/terms-of-service",
]
SKIPPED = {
    "le-chat/privacy-policy": "filters removeTrackingIds, removeElementsByText cannot run here",
}


def html(body: str) -> bytes:
    return f"<!DOCTYPE html><html><head><title>T</title></head><body>{body}</body></html>".encode()


PAGES = {
    "/acme/privacy": html(
        "<nav>Menu</nav><div id='policy'><h1>Acme privacy</h1><p>We keep your data safe.</p>"
        "</div><div class='promo'><p>Buy our premium plan today.</p></div>"
    ),
    "/acme/terms": html(
        "<div id='terms-intro'><h1>Acme terms</h1></div><aside><p>Unrelated sidebar.</p></aside>"
        "<div class='terms-body'><p>You may use Acme fairly.</p>"
        "<div class='cookie-banner'>Accept cookies?</div><p class='share'>Share this</p></div>"
    ),
    # Open Terms Archive's range selector example: no element wraps the terms.
    "/lechat/terms": html(
        "<main><ul><li>Home</li><li>Terms and Conditions</li></ul>"
        "<h1 id='terms-title'>Le Chat terms</h1><p>Effective as of: January 1, 2024</p>"
        "<p class='promo-start'>Try Le Chat Pro</p><p>Now 50% off</p>"
        "<p class='promo-end'>Subscribe</p>"
        "<h2>Authorized uses</h2><p>You can use this service at the office.</p></main>"
        "<div><ul id='footer-menu'><li>About</li><li>Contact</li></ul></div>"
    ),
    "/lechat/guidelines": html(
        "<div class='guidelines'><h1>Guidelines</h1><p>Be kind to one another.</p></div>"
    ),
    "/claude/privacy": html(
        "<header>Claude</header><article><h1>Claude privacy</h1>"
        "<p>We process prompts to answer them.</p></article>"
    ),
    # Combined: both pages' <main> (the declaration's select), the second without .aside.
    "/claude/commercial-1": html(
        "<nav>Menu</nav><main><h1>Commercial terms</h1><p>Part one: fees.</p></main>"
    ),
    "/claude/commercial-2": html(
        "<nav>Menu</nav><main><h2>Usage</h2><p>Part two: limits.</p>"
        "<p class='aside'>See also our blog.</p></main>"
    ),
}
# Pages of skipped documents: served, so that a request for them would be seen.
SKIPPED_PATHS = [
    "/lechat/privacy",
    "/claude/old-privacy",
    "/claude/older-privacy",
]


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        for path, body in PAGES.items():
            running.route(path, Reply(body=body))
        for path in SKIPPED_PATHS:
            running.route(path, Reply(body=html("<main><p>Never to be read.</p></main>")))
        yield running


def collection(tmp_path: Path, server: LocalServer) -> Path:
    """Copy the fixture collection into tmp_path with its URLs on the test server."""
    root = tmp_path / "collection"
    shutil.copytree(FIXTURES, root)
    for path in (root / "declarations").iterdir():
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("http://SERVER", server.url("")), encoding="utf-8")
    return root


def cli(store_dir: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli(["--store", str(store_dir), *args])
    return result.exit_code, result.stdout, result.stderr


def git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=True
    ).stdout


def test_import_then_track(store_dir: Path, server: LocalServer, tmp_path: Path) -> None:
    root = collection(tmp_path, server)
    code, out, err = cli(store_dir, "config", "import-declarations", str(root))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    for policy in TRACKED:
        assert any(line.startswith(f"{policy}: imported http://127.0.0.1:") for line in lines)
    for policy, why in SKIPPED.items():
        assert any(line.startswith(f"{policy}: skipped: ") and why in line for line in lines)
    assert (
        "claude-ai/privacy-policy: 2 earlier declaration(s), valid until "
        "2024-03-01T10:00:00+00:00 at the latest: not tracked"
    ) in lines
    # One settings commit holding the tracked documents' settings, and nothing else.
    assert git(store_dir, "log", "-1", "--format=%s").strip() == (
        "settings: import 6 Open Terms Archive document(s) from collection"
    )
    code, shown, _ = cli(store_dir, "config", "list", "--format", "json")
    settings = {item["key"]: item["value"] for item in json.loads(shown)["settings"]}
    # A list keeps its order (Open Terms Archive's), so it stays a list.
    assert settings["policy.acme/terms-of-service.select"] == '["#terms-intro", ".terms-body"]'
    assert (store_dir / "policydiff.toml").read_text().count(
        'select = ["#terms-intro", ".terms-body"]'
    ) == 1
    assert settings["policy.le-chat/terms-of-service.select"] == (
        '[{"startBefore": "#terms-title", "endBefore": "#footer-menu"}]'
    )
    assert settings["policy.acme/terms-of-service.remove"] == ".cookie-banner, .share"
    assert settings["policy.acme/privacy-policy.title"] == "Acme Privacy Policy"
    assert settings["policy.acme/privacy-policy.organisation"] == "Acme"
    assert settings["policy.acme/privacy-policy.type"] == "privacy policy"
    assert {k.split(".")[1] for k in settings if k.endswith(".url")} == set(TRACKED)

    code, out, err = cli(store_dir, "track", *FAST)
    assert (code, err) == (0, "")
    # One line per policy, in the order they are recorded.
    assert sorted(out.splitlines()) == [f"{policy}: recorded version 1" for policy in TRACKED]
    store = GitStore(store_dir)
    assert sorted(store.policies()) == TRACKED
    privacy = store.text(store.versions("acme/privacy-policy")[-1])
    assert "We keep your data safe." in privacy
    assert "premium" not in privacy
    assert "Menu" not in privacy
    terms = store.text(store.versions("acme/terms-of-service")[-1])
    assert "# Acme terms" in terms
    assert "You may use Acme fairly." in terms
    for noise in ("sidebar", "Accept cookies", "Share this"):
        assert noise not in terms
    chat = store.text(store.versions("le-chat/terms-of-service")[-1])
    assert chat == (
        "# Le Chat terms\n\nEffective as of: January 1, 2024\n\n## Authorized uses\n\n"
        "You can use this service at the office.\n"
    )
    assert not set(SKIPPED_PATHS) & set(server.paths())
    # Combined as Open Terms Archive does: each page's <main>, joined by a rule, in order.
    commercial = GitStore(store_dir).versions("claude-ai/commercial-terms")[-1]
    assert store.text(commercial) == (
        "# Commercial terms\n\nPart one: fees.\n\n- - -\n\n## Usage\n\nPart two: limits.\n"
    )

    # Importing the same collection again changes nothing: no new commit.
    head = git(store_dir, "rev-parse", "HEAD")
    assert cli(store_dir, "config", "import-declarations", str(root))[0] == 0
    assert git(store_dir, "rev-parse", "HEAD") == head


def test_track_declarations_in_one_step(
    store_dir: Path, server: LocalServer, tmp_path: Path
) -> None:
    root = collection(tmp_path, server)
    code, out, err = cli(store_dir, "track", *FAST, "--declarations", str(root / "declarations"))
    assert code == 0
    # One line per policy, in the order they are recorded.
    assert sorted(out.splitlines()) == [f"{policy}: recorded version 1" for policy in TRACKED]
    # The per-document report goes to stderr, so stdout stays one line per policy.
    assert "le-chat/privacy-policy: skipped: filters removeTrackingIds" in err
    assert "claude-ai/commercial-terms: imported " in err
    assert sorted(GitStore(store_dir).policies()) == TRACKED
    assert not set(SKIPPED_PATHS) & set(server.paths())


def test_json_report_lists_filters_scripts_and_history(
    store_dir: Path, server: LocalServer, tmp_path: Path
) -> None:
    root = collection(tmp_path, server)
    code, out, _ = cli(store_dir, "config", "import-declarations", str(root), "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["schema"] == "policydiff.declarations/1"
    assert report["committed"] is True
    assert report["errors"] == []
    documents = {doc["policy"]: doc for doc in report["documents"]}
    assert sorted(documents) == sorted([*TRACKED, *SKIPPED])
    assert documents["le-chat/privacy-policy"]["filters"] == [
        "removeTrackingIds",
        "removeElementsByText",
    ]
    assert documents["le-chat/privacy-policy"]["status"] == "skipped"
    assert documents["claude-ai/commercial-terms"]["combine"] == [
        {"url": server.url("/claude/commercial-1")},
        {"url": server.url("/claude/commercial-2"), "remove": ".aside"},
    ]
    assert documents["acme/privacy-policy"] | {"url": None} == {
        "policy": "acme/privacy-policy",
        "file": "Acme.json",
        "service": "Acme",
        "terms_type": "Privacy Policy",
        "url": None,
        "select": "#policy",
        "remove": None,
        "filters": [],
        "execute_client_scripts": False,
        "combine": [],
        "status": "imported",
        "skipped": None,
        "warnings": [],
    }
    assert [(h["policy"], h["valid_until"], h["expired"]) for h in report["history"]] == [
        ("claude-ai/privacy-policy", "2024-03-01T10:00:00+00:00", True),
        ("claude-ai/privacy-policy", "2023-01-15T08:30:00+00:00", True),
    ]
    assert report["history"][0]["fetch"] == server.url("/claude/old-privacy")


def test_document_that_gains_a_filter_stops_being_tracked(
    store_dir: Path, server: LocalServer, tmp_path: Path
) -> None:
    root = collection(tmp_path, server)
    assert cli(store_dir, "config", "import-declarations", str(root))[0] == 0
    acme = root / "declarations" / "Acme.json"
    declaration = json.loads(acme.read_text(encoding="utf-8"))
    declaration["terms"]["Privacy Policy"]["filter"] = ["removeShareButton"]
    acme.write_text(json.dumps(declaration), encoding="utf-8")

    code, out, _ = cli(store_dir, "config", "import-declarations", str(root))
    assert code == 0
    assert "acme/privacy-policy: skipped: filters removeShareButton cannot run here" in out
    code, _, err = cli(store_dir, "config", "get", "policy.acme/privacy-policy.url")
    assert (code, err) == (2, "Error: policy.acme/privacy-policy.url is not set\n")
    code, out, _ = cli(store_dir, "track", *FAST)
    assert code == 0
    assert "acme/privacy-policy" not in out
    assert "acme/privacy-policy" not in GitStore(store_dir).policies()
    assert "/acme/privacy" not in server.paths()


def test_no_select_is_imported_with_a_warning(store_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "decl"
    folder.mkdir()
    (folder / "Plain.json").write_text(
        json.dumps({"name": "Plain", "terms": {"Imprint": {"fetch": "https://plain.example/"}}})
    )
    code, out, _ = cli(store_dir, "config", "import-declarations", str(folder))
    assert code == 0
    assert out.splitlines() == [
        "plain/imprint: imported https://plain.example/",
        (
            "plain/imprint: warning: no select: the content is found automatically and may "
            "differ from Open Terms Archive's"
        ),
    ]


# --------------------------------------------------------------------------- bad files

GOOD = {"name": "Good", "terms": {"Privacy Policy": {"fetch": "https://good.example/p"}}}


def terms(body: object) -> str:
    return json.dumps({"name": "Bad", "terms": {"Privacy Policy": body}})


BAD_FILES: list[tuple[str, str | bytes, str]] = [
    ("invalid JSON", '{"name": "Bad", "terms": {', "not valid JSON: "),
    ("not UTF-8", b'{"name": "B\xe9"}', "not UTF-8 text"),
    ("deep nesting", "[" * 100_000 + "]" * 100_000, "nested more than 16 levels deep"),
    ("nesting past the bound", terms({"select": [[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]}), "nested"),
    ("over 1 MiB", json.dumps({"name": "B" * (1024 * 1024), "terms": {}}), "over the limit of"),
    ("a list at the top", "[]", "not a service declaration"),
    ("no terms", json.dumps({"name": "Bad"}), "not a service declaration"),
    ("terms not an object", json.dumps({"name": "Bad", "terms": ["x"]}), "not a service"),
    ("file URL", terms({"fetch": "file:///etc/passwd"}), "'Privacy Policy': fetch: not an http"),
    ("javascript URL", terms({"fetch": "javascript:alert(1)"}), "fetch: not an http(s) URL"),
    ("URL not a string", terms({"fetch": 42}), "fetch must be a URL string"),
    ("no fetch", terms({"select": "main"}), "fetch (the document's URL) is missing"),
    ("bad selector", terms({"fetch": "https://b.example/", "select": "div["}), "invalid CSS"),
    ("bad remove", terms({"fetch": "https://b.example/", "remove": ["ok", "p::"]}), "invalid CSS"),
    ("selector a number", terms({"fetch": "https://b.example/", "select": 3}), "select must be"),
    (
        "range without end",
        terms({"fetch": "https://b.example/", "select": {"startBefore": "h1"}}),
        "a range selector is one of startBefore/startAfter and one of endBefore/endAfter",
    ),
    (
        "range with a bad selector",
        terms({"fetch": "https://b.example/", "select": {"startAfter": "h1", "endBefore": "[["}}),
        "invalid CSS select selector '[['",
    ),
    ("unknown property", terms({"fetch": "https://b.example/", "script": "x"}), "'script'"),
    (
        "scripts not a boolean",
        terms({"fetch": "https://b.example/", "executeClientScripts": "yes"}),
        "executeClientScripts must be true or false",
    ),
    ("filter not a list", terms({"fetch": "https://b.example/", "filter": "x"}), "filter must"),
    ("empty combine", terms({"combine": []}), "combine must be a non-empty list"),
    ("combine file URL", terms({"combine": [{"fetch": "file:///x"}]}), "combine: fetch: not"),
    (
        "two terms types, one policy id",
        json.dumps({"name": "B", "terms": {"Terms of Service": {"fetch": "https://b.example/"},
                                           "Terms Of Service": {"fetch": "https://b.example/"}}}),
        "policy id bad/terms-of-service is also declared by Bad.json ('Terms of Service')",
    ),
    ("name with a newline", json.dumps({"name": "A\nB", "terms": {"T": {"fetch": "https://b.example/"}}}), "title"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "expected"),
    [(content, expected) for _, content, expected in BAD_FILES],
    ids=[name for name, _, _ in BAD_FILES],
)
def test_bad_declaration_is_one_error_others_imported(
    store_dir: Path, tmp_path: Path, content: str | bytes, expected: str
) -> None:
    folder = tmp_path / "decl"
    folder.mkdir()
    (folder / "Good.json").write_text(json.dumps(GOOD), encoding="utf-8")
    bad = folder / "Bad.json"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        bad.write_text(content, encoding="utf-8")
    code, out, err = cli(store_dir, "config", "import-declarations", str(folder))
    assert code == 2
    assert err == (
        "Error: 1 declaration file(s) could not be read (listed above); 1 document(s) imported\n"
    )
    errors = [line for line in out.splitlines() if ": error: " in line]
    assert len(errors) == 1, out
    assert errors[0].startswith("Bad.json: error: ")
    assert expected in errors[0]
    assert "Traceback" not in out + err
    assert "good/privacy-policy: imported https://good.example/p" in out
    code, value, _ = cli(store_dir, "config", "get", "policy.good/privacy-policy.url")
    assert (code, value) == (0, "https://good.example/p\n")


def test_bad_history_file_is_one_error(store_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "decl"
    folder.mkdir()
    (folder / "Good.json").write_text(json.dumps(GOOD), encoding="utf-8")
    (folder / "Good.history.json").write_text(
        json.dumps(
            {"Privacy Policy": [{"fetch": "https://good.example/old", "validUntil": "soon"}]}
        )
    )
    code, out, _ = cli(store_dir, "config", "import-declarations", str(folder))
    assert code == 2
    assert "Good.history.json: error: 'Privacy Policy': validUntil must be an ISO 8601 date" in out


def test_same_policy_twice_is_an_error(store_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "decl"
    folder.mkdir()
    (folder / "Good.json").write_text(json.dumps(GOOD), encoding="utf-8")
    (folder / "good.json").write_text(json.dumps(GOOD), encoding="utf-8")
    code, out, _ = cli(store_dir, "config", "import-declarations", str(folder))
    assert code == 2
    assert (
        "good.json: error: 'Privacy Policy': policy id good/privacy-policy is also declared "
        "by Good.json ('Privacy Policy')"
    ) in out


def nothing_to_read(tmp: Path) -> Path:
    (tmp / "empty").mkdir()
    return tmp / "empty"


def only_bad_files(tmp: Path) -> Path:
    (tmp / "bad").mkdir()
    (tmp / "bad" / "Bad.json").write_text("{", encoding="utf-8")
    return tmp / "bad"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda tmp: tmp / "missing", "is not a folder of declarations"),
        (nothing_to_read, "holds no declaration files"),
        (only_bad_files, "1 declaration file(s) could not be read"),
    ],
    ids=["missing folder", "empty folder", "only bad files"],
)
def test_nothing_importable_changes_nothing(
    store_dir: Path, tmp_path: Path, make: Callable[[Path], Path], expected: str
) -> None:
    folder = make(tmp_path)
    before = store_state(store_dir)
    for command in (["config", "import-declarations"], ["track", "--declarations"]):
        code, _, err = cli(store_dir, *command, str(folder))
        assert code == 2
        # One error line (track lists the unreadable files above it, on stderr too).
        errors = [line for line in err.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1
        assert err.endswith("\n")
        assert err.splitlines()[-1] == errors[0]
        assert "Traceback" not in err
        assert store_state(store_dir) == before
    assert expected in cli(store_dir, "config", "import-declarations", str(folder))[2]


# --------------------------------------------------------------------------- ranges

RANGE_PAGE = (
    "<html><body><main><ul><li>Home</li></ul>"
    "<h1 id='title'>Terms</h1><p>Intro.</p>"
    "<div class='box'><p>Inside one.</p><span id='mid'>Middle.</span><p>Inside two.</p></div>"
    "<h2 id='end'>Annex</h2><p>Annex text.</p></main>"
    "<footer id='foot'><p>Footer.</p></footer></body></html>"
)


def rule(*items: object) -> str:
    return json.dumps(list(items))


@pytest.mark.parametrize(
    ("select", "remove", "expected"),
    [
        (rule({"startBefore": "#title", "endBefore": "#end"}), None,
         "# Terms\n\nIntro.\n\nInside one.\n\nMiddle.\n\nInside two.\n"),
        (rule({"startAfter": "#title", "endAfter": "#end"}), None,
         "Intro.\n\nInside one.\n\nMiddle.\n\nInside two.\n\n## Annex\n"),
        # An edge inside an element: the element stays with its part on the kept side only.
        (rule({"startBefore": "#title", "endBefore": "#mid"}), None,
         "# Terms\n\nIntro.\n\nInside one.\n"),
        (rule({"startAfter": "#mid", "endBefore": "#foot"}), None,
         "Inside two.\n\n## Annex\n\nAnnex text.\n"),
        # Declaration order, not page order.
        (rule("#end", "#title"), None, "## Annex\n\n# Terms\n"),
        (rule({"startBefore": "#end", "endBefore": "#foot"}, "#title"), None,
         "## Annex\n\nAnnex text.\n\n# Terms\n"),
        ("main", rule({"startBefore": ".box", "endAfter": "#end"}, "ul"),
         "# Terms\n\nIntro.\n\nAnnex text.\n"),
        ("main", rule({"startAfter": "#mid", "endBefore": "#foot"}),
         "- Home\n\n# Terms\n\nIntro.\n\nInside one.\n\nMiddle.\n"),
        # A CSS attribute selector is still a CSS selector, not a list.
        ("[id=title]", None, "# Terms\n"),
    ],
)  # fmt: skip
def test_range_selectors_cut_the_page(select: str, remove: str | None, expected: str) -> None:
    from policydiff.sources.ingest.html import ExtractRules, extract

    assert extract(RANGE_PAGE, None, ExtractRules(select=select, remove=remove)).text == expected


@pytest.mark.parametrize(
    ("select", "error"),
    [
        (rule({"startBefore": "#nope", "endBefore": "#end"}), "range start selector '#nope'"),
        (rule({"startBefore": "#title", "endBefore": "#nope"}), "range end selector '#nope'"),
        (rule({"startBefore": "#end", "endBefore": "#title"}), "comes before its start"),
        (rule({"startBefore": "#title"}), "a range selector is one of startBefore/startAfter"),
        (rule({"startBefore": "#title", "endBefore": "p:::"}), "invalid CSS --select selector"),
        (rule("#nope", ".nothing"), "match nothing on the page"),
        ("[]", "invalid CSS --select selector"),
    ],
)
def test_bad_range_is_one_clear_error(select: str, error: str) -> None:
    from policydiff.core.errors import PolicydiffError
    from policydiff.sources.ingest.html import ExtractRules, extract

    with pytest.raises(PolicydiffError) as raised:
        extract(RANGE_PAGE, None, ExtractRules(select=select))
    assert error in str(raised.value)


def test_range_settings_read_write_and_set(store_dir: Path) -> None:
    (store_dir / "policydiff.toml").write_text(
        '[policy."a/terms"]\nurl = "https://a.example/terms"\n'
        'select = ["main", {startBefore = "#title", endAfter = "#end"}]\n',
        encoding="utf-8",
    )
    assert cli(store_dir, "config", "commit")[0] == 0
    code, out, _ = cli(store_dir, "config", "get", "policy.a/terms.select")
    assert (code, out) == (0, '["main", {"startBefore": "#title", "endAfter": "#end"}]\n')
    # config set takes the same JSON list, and writes it back as a TOML array.
    value = rule({"startAfter": "h1", "endBefore": "footer"})
    assert cli(store_dir, "config", "set", "policy.a/terms.remove", value)[0] == 0
    assert 'remove = [{startAfter = "h1", endBefore = "footer"}]\n' in (
        store_dir / "policydiff.toml"
    ).read_text(encoding="utf-8")
    before = store_state(store_dir)
    code, _, err = cli(store_dir, "config", "set", "policy.a/terms.remove", rule({"endAfter": "x"}))
    assert code == 2
    assert err.startswith("Error: a range selector is one of startBefore/startAfter")
    assert store_state(store_dir) == before


def test_import_keeps_the_file_s_comments_and_is_one_pass(store_dir: Path, tmp_path: Path) -> None:
    (store_dir / "policydiff.toml").write_text(
        '# Our settings: keep this comment.\n[announce]\nto = "list@example.org"\n\n'
        '[policy."good/privacy-policy"]\n# set by hand before\nurl = "https://old.example/p"\n'
        'select = "#old"\n',
        encoding="utf-8",
    )
    assert cli(store_dir, "config", "commit")[0] == 0
    folder = tmp_path / "decl"
    folder.mkdir()
    (folder / "Good.json").write_text(json.dumps(GOOD), encoding="utf-8")
    for index in range(150):
        service = {"name": f"S{index}", "terms": {"Imprint": {"fetch": "https://s.example/"}}}
        (folder / f"S{index}.json").write_text(json.dumps(service), encoding="utf-8")
    code, _, err = cli(store_dir, "config", "import-declarations", str(folder))
    assert (code, err) == (0, "")
    text = (store_dir / "policydiff.toml").read_text(encoding="utf-8")
    assert text.startswith("# Our settings: keep this comment.\n[announce]\n")
    assert '# set by hand before\nurl = "https://good.example/p"\n' in text
    assert 'select = "#old"' not in text  # the declaration has no select: the old one goes
    assert text.count("[policy.") == 151
    assert git(store_dir, "log", "--format=%s", "-2").splitlines() == [
        "settings: import 151 Open Terms Archive document(s) from decl",
        "settings: edit policydiff.toml",
    ]


def test_symlinked_declaration_is_refused(store_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere.json"
    secret.write_text(json.dumps(GOOD), encoding="utf-8")
    folder = tmp_path / "decl"
    folder.mkdir()
    (folder / "Good.json").write_text(json.dumps(GOOD), encoding="utf-8")
    (folder / "Linked.json").symlink_to(secret)
    code, out, _ = cli(store_dir, "config", "import-declarations", str(folder))
    assert code == 2
    assert "Linked.json: error: not a plain file" in out


def test_track_declarations_json_lists_the_import(
    store_dir: Path, server: LocalServer, tmp_path: Path
) -> None:
    root = collection(tmp_path, server)
    result = run_cli(
        ["--store", str(store_dir), "track", *FAST, "--declarations", str(root), "--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["schema"] == "policydiff.track/1"
    assert [p["policy"] for p in report["policies"]] == TRACKED
    assert report["declarations"]["schema"] == "policydiff.declarations/1"
    assert len(report["declarations"]["history"]) == 2
    skipped = [d["policy"] for d in report["declarations"]["documents"] if d["skipped"]]
    assert sorted(skipped) == sorted(SKIPPED)
