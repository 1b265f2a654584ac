"""``policydiff compare`` end to end: argument resolution, formats, output, exit codes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import click
import pytest

from helpers import SEED, run_cli, seed_body

POLICY = "koozali/privacy-policy"
EDIT = ("Your privacy matters to us.", "Your privacy matters a great deal to us.")


def edited(body: str) -> str:
    return body.replace(*EDIT)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with the seed and an edited copy, and no store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("POLICYDIFF_STORE", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    (tmp_path / "old.md").write_bytes(SEED.read_bytes())
    (tmp_path / "new.md").write_text(edited(seed_body()), encoding="utf-8")
    return tmp_path


@pytest.fixture
def archive(files: Path) -> Path:
    """A store (the default ./policy-archive) with two versions of the seed policy."""
    assert run_cli(["init"]).exit_code == 0
    for name, captured in (("old.md", "2017-04-22T08:22:16Z"), ("new.md", "2018-01-01")):
        added = run_cli(["add", name, "--policy", POLICY, "--captured", captured])
        assert added.exit_code == 0, added.stderr
    return files / "policy-archive"


def compare_json(*args: str) -> dict:
    result = run_cli(["compare", *args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def labels(doc: dict) -> tuple[str, str]:
    return doc["old"]["label"], doc["new"]["label"]


# --------------------------------------------------------------------------- two files


def test_two_files_need_no_store(files: Path) -> None:
    result = run_cli(["--store", str(files / "nowhere"), "compare", "old.md", "new.md"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("Compare old.md \u2192 new.md\n")
    assert "Your privacy matters {+a great deal+} to us." in result.stdout
    assert not (files / "nowhere").exists()


def test_files_are_read_like_import_reads_them(files: Path) -> None:
    # Wayback header, front matter, BOM and CRLF are not part of the policy text.
    fronted = "---\npolicy: koozali/privacy-policy\ncaptured: 2017-04-22\n---\n\n" + seed_body()
    (files / "fronted.md").write_text(fronted, encoding="utf-8")
    (files / "crlf.md").write_bytes(b"\xef\xbb\xbf" + seed_body().replace("\n", "\r\n").encode())
    for other in ("fronted.md", "crlf.md"):
        result = run_cli(["compare", "old.md", other, "--exit-code"])
        assert result.exit_code == 0, result.stdout
        assert "The texts are identical." in result.stdout
    doc = compare_json("old.md", "fronted.md")
    assert doc["old"]["captured_at"] == "2017-04-22T08:22:16Z"  # from the Wayback header
    assert doc["old"]["effective_date"] == "2016-02-08"  # stated in the text
    assert doc["new"]["captured_at"] == "2017-04-22T00:00:00Z"  # from the front matter
    assert doc["old"]["policy"] is None
    assert doc["old"]["sha256"] == doc["new"]["sha256"]


PAGE = (
    '<!doctype html><html><head><meta charset="utf-8"><title>Privacy</title></head><body>'
    '<nav><a href="/">Home</a></nav><main><h1>Privacy policy</h1>'
    "<p>Last updated: 1 May 2024</p><h2>Data we collect</h2>"
    "<p>We collect your name and address when you sign up for an account with us.</p>"
    "<h2>Cookies</h2><p>We use cookies to keep you signed in and to measure how the site is "
    "used.</p></main><footer>Example Inc.</footer></body></html>"
)


def test_html_pages_are_compared_by_their_text(files: Path) -> None:
    (files / "a.html").write_text(PAGE, encoding="utf-8")
    (files / "b.html").write_text(PAGE.replace("name and", "name, email and"), encoding="utf-8")
    result = run_cli(["compare", "a.html", "b.html"])
    assert result.exit_code == 0, result.stderr
    assert "We collect your name{+, email+} and address" in result.stdout
    assert "<p>" not in result.stdout
    assert "Home" not in result.stdout  # navigation is not policy text


def test_exit_codes(files: Path) -> None:
    assert run_cli(["compare", "old.md", "new.md", "--exit-code"]).exit_code == 1
    assert run_cli(["compare", "old.md", "old.md", "--exit-code"]).exit_code == 0
    # Without --exit-code differences are success.
    assert run_cli(["compare", "old.md", "new.md"]).exit_code == 0
    (files / "quotes.md").write_text(seed_body().replace("\u2019", "'"), encoding="utf-8")
    cosmetic = run_cli(["compare", "old.md", "quotes.md", "--exit-code"])
    assert cosmetic.exit_code == 0
    assert "No substantive changes" in cosmetic.stdout


def test_missing_file_is_one_error_line(files: Path) -> None:
    result = run_cli(["compare", "old.md", "missing.md", "--exit-code"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: no such file: 'missing.md'")
    assert "Traceback" not in result.stderr


def test_unreadable_input_is_an_input_error(files: Path) -> None:
    (files / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    result = run_cli(["compare", "old.md", "image.png"])
    assert result.exit_code == 2
    assert result.stderr == "Error: image.png: binary file, not a text snapshot (PNG image)\n"


# --------------------------------------------------------------------------- refs


def test_default_is_the_two_latest_versions(archive: Path) -> None:
    doc = compare_json()
    assert labels(doc) == (f"{POLICY}@1 (2017-04-22)", f"{POLICY}@2 (2018-01-01)")
    assert doc["old"]["policy"] == POLICY
    assert (doc["old"]["version"], doc["new"]["version"]) == (1, 2)
    assert doc["old"]["captured_at"] == "2017-04-22T08:22:16Z"
    assert doc["old"]["effective_date"] == "2016-02-08"
    assert doc["summary"]["words_inserted"] == 3


@pytest.mark.parametrize(
    ("args", "versions"),
    [
        ([POLICY], (1, 2)),
        (["1"], (1, 2)),
        (["previous"], (1, 2)),
        (["2", "1"], (2, 1)),
        (["latest", "previous"], (2, 1)),
        (["2015-01-01"], None),  # no version in force then: an error, checked below
        ([POLICY, "1"], (1, 2)),
        ([POLICY, "2", "1"], (2, 1)),
        ([f"{POLICY}@1"], (1, 2)),
        ([f"{POLICY}@2", f"{POLICY}@1"], (2, 1)),
        (["2018-06-01", "1"], (2, 1)),
    ],
)
def test_refs(archive: Path, args: list[str], versions: tuple[int, int] | None) -> None:
    if versions is None:
        result = run_cli(["compare", *args])
        assert result.exit_code == 2
        assert result.stderr.startswith("Error: no version of koozali/privacy-policy")
        return
    doc = compare_json(*args)
    assert (doc["old"]["version"], doc["new"]["version"]) == versions


def test_files_against_versions(archive: Path) -> None:
    Path("draft.md").write_text(edited(seed_body()) + "\nA new line.\n", encoding="utf-8")
    for args in (["draft.md"], [POLICY, "draft.md"], ["latest", "draft.md"]):
        doc = compare_json(*args)
        assert labels(doc) == (f"{POLICY}@2 (2018-01-01)", "draft.md"), args
        assert doc["summary"]["words_inserted"] == 3
    doc = compare_json("draft.md", "1")
    assert labels(doc) == ("draft.md", f"{POLICY}@1 (2017-04-22)")


def test_an_existing_file_wins_over_a_ref(archive: Path) -> None:
    Path("1").write_text("# One\n\nA file called 1.\n", encoding="utf-8")
    doc = compare_json("1", "new.md")
    assert labels(doc) == ("1", "new.md")
    doc = compare_json(f"{POLICY}@1", "new.md")
    assert doc["old"]["version"] == 1


def test_with_several_policies_name_one(archive: Path) -> None:
    added = run_cli(["add", "new.md", "--policy", "other/terms", "--captured", "2018-02-01"])
    assert added.exit_code == 0, added.stderr
    result = run_cli(["compare"])
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: the store holds 2 policies; name one: koozali/privacy-policy, other/terms\n"
    )
    assert compare_json(POLICY)["new"]["version"] == 2
    # Versions of different policies can be compared too.
    doc = compare_json(f"{POLICY}@1", "other/terms@1")
    assert doc["new"]["policy"] == "other/terms"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["a", "b", "c", "d"],
            "Error: expected at most three arguments ([POLICY] [OLD] [NEW]), got 4",
        ),
        (["not a ref"], "Error: 'not a ref' is not an existing file, a policy in the store"),
        (["5"], "Error: koozali/privacy-policy has 2 version(s); there is no version 5"),
        ([POLICY, "old.md", "new.md"], "Error: POLICY is not used when OLD and NEW are both files"),
        (["old.md", "1", "2"], "Error: 'old.md' is a file; compare takes at most two files"),
        (["no/such", "1", "2"], "Error: no policy 'no/such' in the store"),
        (["Bad@1"], "Error: invalid policy id 'Bad'"),
    ],
)
def test_bad_arguments(archive: Path, args: list[str], message: str) -> None:
    result = run_cli(["compare", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1


def test_refs_without_a_store_say_so(files: Path) -> None:
    result = run_cli(["compare", "1", "2"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: no store at policy-archive")


# --------------------------------------------------------------------------- options


def test_formats_go_to_stdout(files: Path) -> None:
    outputs = {
        fmt: run_cli(["compare", "old.md", "new.md", "--format", fmt]).stdout
        for fmt in ("term", "markdown", "html", "json", "unified")
    }
    assert outputs["markdown"].startswith("## Compare old.md")
    assert outputs["html"].startswith("<!DOCTYPE html>")
    assert json.loads(outputs["json"])["schema"] == "policydiff.compare/1"
    assert outputs["unified"].startswith("--- old.md\n+++ new.md\n")


def test_output_file_is_written_atomically(files: Path) -> None:
    target = files / "report.html"
    target.write_text("previous report", encoding="utf-8")
    result = run_cli(["compare", "old.md", "new.md", "--format", "html", "-o", "report.html"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == "Wrote the html report to report.html\n"
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert sorted(p.name for p in files.iterdir()) == ["new.md", "old.md", "report.html"]


def test_terminal_output_file_is_plain_and_fixed_width(files: Path) -> None:
    forced = run_cli(["--color", "compare", "old.md", "new.md", "-o", "report.txt"])
    assert forced.exit_code == 0
    text = (files / "report.txt").read_text(encoding="utf-8")
    assert "\x1b" not in text
    assert text == run_cli(["compare", "old.md", "new.md"]).stdout


def test_output_to_a_missing_directory_fails_cleanly(files: Path) -> None:
    result = run_cli(["compare", "old.md", "new.md", "-o", "no/such/dir/report.md"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: cannot write no/such/dir/report.md:")


def test_exit_code_with_output(files: Path) -> None:
    result = run_cli(
        ["compare", "old.md", "new.md", "-o", "r.json", "--format", "json", "--exit-code"]
    )
    assert result.exit_code == 1
    assert json.loads((files / "r.json").read_text(encoding="utf-8"))["summary"]["substantive"]


def test_section_filter(files: Path) -> None:
    (files / "two.md").write_text(
        edited(seed_body()).replace("wikis, bugtracker", "wikis, chat, bugtracker"),
        encoding="utf-8",
    )
    result = run_cli(["compare", "old.md", "two.md", "--section", "WEBSITES"])
    assert "wikis, {+chat,+} bugtracker" in result.stdout
    assert "great deal" not in result.stdout
    assert "1 other section(s) with changes not matching --section" in result.stdout
    assert "changed section(s) hidden" not in result.stdout
    # --exit-code looks at the chosen sections only.
    assert (
        run_cli(["compare", "old.md", "new.md", "--section", "websites", "--exit-code"]).exit_code
        == 0
    )
    assert (
        run_cli(["compare", "old.md", "two.md", "--section", "websites", "--exit-code"]).exit_code
        == 1
    )


def test_ignore_cosmetic_and_context(files: Path) -> None:
    (files / "quotes.md").write_text(edited(seed_body()).replace("\u2019", "'"), encoding="utf-8")
    # Cosmetic runs are hidden by default, shown marked apart with --show-cosmetic.
    default = run_cli(["compare", "old.md", "quotes.md"]).stdout
    assert "visitor" not in default
    assert "(only cosmetic edits: quotes, dashes, markup; --show-cosmetic shows them)" in default
    shown = run_cli(["compare", "old.md", "quotes.md", "--show-cosmetic"]).stdout
    assert "visitor[~\u2019\u2192'~]s request" in shown
    hidden = run_cli(["compare", "old.md", "quotes.md", "--ignore-cosmetic"]).stdout
    assert "visitor" not in hidden
    assert "We don't ask" not in hidden
    assert "great deal" in hidden
    assert "Forums and mailinglists" not in run_cli(["compare", "old.md", "new.md"]).stdout
    full = run_cli(["compare", "old.md", "new.md", "--context"]).stdout
    assert "These are available to our community." in full


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--section", " "], "Error: --section needs some text to look for"),
        (
            ["--format", "unified", "--section", "x"],
            "Error: --section and --ignore-cosmetic do not",
        ),
        (["--format", "unified", "--ignore-cosmetic"], "Error: --section and --ignore-cosmetic do"),
        (["--format", "pdf"], "Error: Invalid value for '--format'"),
    ],
)
def test_bad_options(files: Path, args: list[str], message: str) -> None:
    result = run_cli(["compare", "old.md", "new.md", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith(message)


def test_colour_is_forced_or_off(files: Path) -> None:
    coloured = run_cli(["--color", "compare", "old.md", "new.md"]).stdout
    assert "\x1b[4;32ma great deal\x1b[0m" in coloured
    assert "{+" not in coloured
    plain = run_cli(["compare", "old.md", "new.md"], env={"NO_COLOR": "1"}).stdout
    assert "\x1b" not in plain


def test_terminal_pages_only_long_output_on_a_tty(
    files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policydiff.cli import Settings, cli, compare_cmd
    from policydiff.cli.resolve import read_file
    from policydiff.engine.compare import compare_texts
    from policydiff.engine.report import CompareReport, View

    old, old_text = read_file(Path("old.md"))
    new, new_text = read_file(Path("new.md"))
    report = CompareReport(old, new, compare_texts(old_text, new_text))
    paged: list[str] = []
    echoed: list[str] = []
    monkeypatch.setattr(click, "echo_via_pager", lambda text, color: paged.append(text))
    monkeypatch.setattr(click, "echo", lambda text, color, nl: echoed.append(text))
    monkeypatch.setattr(compare_cmd.sys.stdout, "isatty", lambda: True)
    for lines, pages in ((10, True), (200, False)):
        monkeypatch.setattr(
            "shutil.get_terminal_size", lambda lines=lines: os.terminal_size((80, lines))
        )
        with click.Context(cli, obj=Settings(files, color=False)):
            compare_cmd._show_terminal(report, View())
        assert bool(paged) == pages
        paged.clear()
    assert len(echoed) == 1
    assert all(len(line) <= 80 for line in echoed[0].splitlines())


def test_help_describes_the_argument_rules() -> None:
    result = run_cli(["compare", "--help"])
    assert result.exit_code == 0
    assert "Usage: policydiff compare [OPTIONS] [POLICY] [OLD] [NEW]" in result.stdout
    for text in ("compare POLICY FILE", "POLICY@REF", "existing file is always read as a file"):
        assert text in " ".join(result.stdout.split()), text
    assert "compare" in run_cli(["--help"]).stdout
