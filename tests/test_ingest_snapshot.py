import codecs
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from policydiff.core.errors import InputError, UsageError
from policydiff.sources.ingest import read_snapshot

SEED = Path(__file__).parent / "fixtures" / "ingest" / "wayback_seed.txt"
SEED_TIME = datetime(2017, 4, 22, 8, 22, 16, tzinfo=UTC)
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def test_seed(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    path = root / "koozali" / "privacy-policy" / "seed.txt"
    path.parent.mkdir(parents=True)
    shutil.copy(SEED, path)
    snap = read_snapshot(path, root=root)
    raw = SEED.read_bytes()
    assert snap.policy == "koozali/privacy-policy"
    assert snap.captured_at == SEED_TIME
    assert snap.archive_url == (
        "https://web.archive.org/web/20170422082216id_/"
        "https%3A//wiki.contribs.org/SME_Server%3APrivacy_policy"
    )
    assert snap.source_url == "https://wiki.contribs.org/SME_Server:Privacy_policy"
    assert snap.effective_date == date(2016, 2, 8)
    assert snap.text.startswith("# SME Server:Privacy policy - SME Server\n\nPrivacy policy Valid")
    assert snap.text == raw.decode().split("\n", 2)[2]
    assert snap.raw == raw
    assert snap.raw_suffix == "txt"
    assert snap.origin == str(path)
    assert snap.extra_trailers == ()


def test_policy_from_directory_directly_in_root(tmp_path: Path) -> None:
    root = tmp_path / "acme-privacy"
    path = write(root / "2020-01-02.md", "Text")
    snap = read_snapshot(path, root=root)
    assert snap.policy == "acme-privacy"
    assert snap.captured_at == datetime(2020, 1, 2, tzinfo=UTC)
    assert snap.raw_suffix == "md"


def test_unusable_directory_name_says_pass_policy(tmp_path: Path) -> None:
    path = write(tmp_path / "Acme Policies" / "2020-01-02.md", "Text")
    with pytest.raises(InputError, match=r"Acme Policies.*--policy"):
        read_snapshot(path, root=tmp_path)


def test_no_policy_id(tmp_path: Path) -> None:
    path = write(tmp_path / "2020-01-02.md", "Text")
    with pytest.raises(InputError, match=r"2020-01-02\.md: no policy id: pass --policy"):
        read_snapshot(path)


def test_no_capture_time(tmp_path: Path) -> None:
    path = write(tmp_path / "policy.md", "Text")
    with pytest.raises(InputError, match="no capture time: pass --captured"):
        read_snapshot(path, policy="acme/privacy")


def test_invalid_policy_argument_is_usage_error(tmp_path: Path) -> None:
    path = write(tmp_path / "2020-01-02.md", "Text")
    with pytest.raises(UsageError, match="invalid policy id"):
        read_snapshot(path, policy="Not Valid")


FRONT = (
    "---\n"
    "policy: front/policy\n"
    "captured: 2019-05-06T07:08:09Z\n"
    "effective: 2019-01-01\n"
    "source: https://front.example/privacy\n"
    "archive: https://archive.example/front\n"
    "illustrative: true\n"
    "---\n"
    "\n"
)
WAYBACK = "> Snapshot: https://web.archive.org/web/20180101000000/https%3A//wayback.example/p\n\n"
BODY = "# Policy\n\nEffective: 1 March 2015\n"


def test_front_matter_beats_wayback_and_file_name(tmp_path: Path) -> None:
    path = write(tmp_path / "root" / "dir" / "2010-01-01.md", FRONT + WAYBACK + BODY)
    snap = read_snapshot(path, root=tmp_path / "root")
    assert snap.policy == "front/policy"
    assert snap.captured_at == datetime(2019, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert snap.effective_date == date(2019, 1, 1)
    assert snap.source_url == "https://front.example/privacy"
    assert snap.archive_url == "https://archive.example/front"
    assert snap.extra_trailers == (("Illustrative", "true"),)
    assert snap.text == BODY


def test_arguments_beat_front_matter(tmp_path: Path) -> None:
    path = write(tmp_path / "2010-01-01.md", FRONT + BODY)
    snap = read_snapshot(
        path,
        policy="arg/policy",
        captured=datetime(2020, 2, 3, 4, 5, 6),  # noqa: DTZ001 - naive is read as UTC
        effective=date(2020, 1, 1),
        source="https://arg.example/p",
    )
    assert snap.policy == "arg/policy"
    assert snap.captured_at == datetime(2020, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert snap.effective_date == date(2020, 1, 1)
    assert snap.source_url == "https://arg.example/p"
    assert snap.archive_url == "https://archive.example/front"


def test_wayback_beats_file_name_and_text_gives_effective(tmp_path: Path) -> None:
    path = write(tmp_path / "2010-01-01.md", WAYBACK + BODY)
    snap = read_snapshot(path, policy="a/b")
    assert snap.captured_at == datetime(2018, 1, 1, tzinfo=UTC)
    assert snap.source_url == "https://wayback.example/p"
    assert snap.effective_date == date(2015, 3, 1)
    assert snap.text == BODY


def test_file_name_date_used_last(tmp_path: Path) -> None:
    path = write(tmp_path / "20170422082216.txt", "Text")
    assert read_snapshot(path, policy="a/b").captured_at == SEED_TIME


def test_illustrative_false_adds_no_trailer(tmp_path: Path) -> None:
    path = write(tmp_path / "2010-01-01.md", "---\nillustrative: false\n---\nText")
    assert read_snapshot(path, policy="a/b").extra_trailers == ()


def test_bad_front_matter_values_are_input_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "x.md", "---\npolicy: Bad Id\ncaptured: 2017-04-22\n---\nText")
    with pytest.raises(InputError, match=r"x\.md: front matter 'policy': invalid policy id"):
        read_snapshot(path)
    path = write(tmp_path / "y.md", "---\npolicy: a/b\ncaptured: 2017-02-30\n---\nText")
    with pytest.raises(InputError, match=r"y\.md: invalid front matter 'captured'"):
        read_snapshot(path)
    path = write(
        tmp_path / "z.md", "---\npolicy: a/b\ncaptured: 2017-01-01\neffective: soon\n---\nT"
    )
    with pytest.raises(InputError, match="invalid front matter 'effective'"):
        read_snapshot(path)


def test_future_capture_in_file_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "2024-06-05.md", "Text")
    with pytest.raises(InputError, match=r"date in the file name .* is in the future"):
        read_snapshot(path, policy="a/b", now=NOW)
    path = write(tmp_path / "f.md", "---\ncaptured: 2030-01-01\n---\nText")
    with pytest.raises(InputError, match="in the future"):
        read_snapshot(path, policy="a/b", now=NOW)


def test_only_front_matter_is_empty(tmp_path: Path) -> None:
    path = write(tmp_path / "2010-01-01.md", "---\npolicy: a/b\n---\n\n  \n")
    with pytest.raises(InputError, match="empty snapshot"):
        read_snapshot(path)


def test_raw_bytes_kept_exactly(tmp_path: Path) -> None:
    data = codecs.BOM_UTF16_BE + "---\npolicy: a/b\n---\r\nLine\r\n".encode("utf-16-be")
    path = write(tmp_path / "2010-01-01.txt", data)
    snap = read_snapshot(path)
    assert snap.raw == data
    assert snap.text == "Line\n"


@pytest.mark.parametrize(
    ("data", "encoding", "text"),
    [
        (codecs.BOM_UTF8 + b"Caf\xc3\xa9\r\n", None, "Café\n"),
        (codecs.BOM_UTF16_LE + "Café\rX".encode("utf-16-le"), None, "Café\nX"),
        (codecs.BOM_UTF16_BE + "Café".encode("utf-16-be"), None, "Café"),
        (b"Caf\xe9", "latin-1", "Café"),
    ],
)
def test_encodings_from_files(tmp_path: Path, data: bytes, encoding: str | None, text: str) -> None:
    path = write(tmp_path / "2010-01-01.txt", data)
    assert read_snapshot(path, policy="a/b", encoding=encoding).text == text


def test_invalid_utf8_file(tmp_path: Path) -> None:
    path = write(tmp_path / "2010-01-01.txt", b"Caf\xe9")
    with pytest.raises(InputError, match=r"2010-01-01\.txt: .*offset 3.*--encoding"):
        read_snapshot(path, policy="a/b")


def test_unknown_encoding_argument(tmp_path: Path) -> None:
    path = write(tmp_path / "2010-01-01.txt", b"x")
    with pytest.raises(UsageError, match="unknown text encoding"):
        read_snapshot(path, policy="a/b", encoding="nope")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\0\0", "binary file, not a text snapshot"),
        (b"text\0more", "binary file, not a text snapshot"),
        (b"", "empty snapshot"),
        (b" \n\t\r\n", "empty snapshot"),
    ],
)
def test_refused_files(tmp_path: Path, data: bytes, message: str) -> None:
    path = write(tmp_path / "2010-01-01.txt", data)
    with pytest.raises(InputError, match=message):
        read_snapshot(path, policy="a/b")


def test_size_limit_checked_before_reading(tmp_path: Path) -> None:
    path = write(tmp_path / "2010-01-01.txt", b"x" * 101)
    with pytest.raises(
        InputError, match=r"over the 100 bytes size limit; raise the limit with --max-size"
    ):
        read_snapshot(path, policy="a/b", max_bytes=100)
    assert read_snapshot(path, policy="a/b", max_bytes=101).text == "x" * 101


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory: "):
        read_snapshot(tmp_path / "missing.txt", policy="a/b")
    with pytest.raises(InputError, match="is a directory"):
        read_snapshot(tmp_path, policy="a/b")


def test_html_kept_as_decoded_without_extractor(tmp_path: Path) -> None:
    html = "<html><meta charset=windows-1252><body><p>“Effective” 1 May 2020</p></body></html>"
    path = write(tmp_path / "2020-05-02.htm", html.encode("cp1252"))
    snap = read_snapshot(path, policy="a/b", source="https://e.example/")
    assert snap.raw_suffix == "html"
    assert snap.text == html


def test_html_extractor_hook(tmp_path: Path) -> None:
    seen: list[tuple[str, str | None]] = []

    def extract(html: str, url: str | None) -> str:
        seen.append((html, url))
        return "Effective 1 May 2020\n"

    path = write(tmp_path / "2020-05-02.html", "<p>x</p>")
    snap = read_snapshot(path, policy="a/b", source="https://e.example/", extract_html=extract)
    assert seen == [("<p>x</p>", "https://e.example/")]
    assert snap.text == "Effective 1 May 2020\n"
    assert snap.effective_date == date(2020, 5, 1)


def test_front_matter_not_read_from_html(tmp_path: Path) -> None:
    path = write(tmp_path / "2020-05-02.html", "---\npolicy: x/y\n---\n<p>x</p>")
    with pytest.raises(InputError, match="no policy id"):
        read_snapshot(path)


CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")
def test_corpus_reads_unchanged() -> None:
    # Real policies open with setext underlines and "---" rules: none may be taken for
    # front matter or a header, so every text must come back byte for byte.
    from policydiff.sources.ingest import discover_snapshots

    pairs = discover_snapshots([CORPUS])
    assert len(pairs) == 118
    for path, root in pairs:
        snap = read_snapshot(path, root=root)
        assert snap.text == path.read_text(encoding="utf-8")
        assert snap.policy == path.parent.relative_to(CORPUS).as_posix()
        assert snap.captured_at.date().isoformat() == path.stem
