from datetime import UTC, datetime
from pathlib import Path

import pytest

from policydiff.core.errors import InputError
from policydiff.sources.ingest.wayback import decode_source_url, parse_wayback_header

SEED = Path(__file__).parent / "fixtures" / "ingest" / "wayback_seed.txt"
ARCHIVE_URL = (
    "https://web.archive.org/web/20170422082216id_/"
    "https%3A//wiki.contribs.org/SME_Server%3APrivacy_policy"
)


def test_seed_header() -> None:
    text = SEED.read_text(encoding="utf-8")
    info, body = parse_wayback_header(text)
    assert info is not None
    assert info.captured_at == datetime(2017, 4, 22, 8, 22, 16, tzinfo=UTC)
    assert info.archive_url == ARCHIVE_URL
    assert info.source_url == "https://wiki.contribs.org/SME_Server:Privacy_policy"
    assert body.startswith("# SME Server:Privacy policy - SME Server\n")
    # Exactly the header line and the blank line after it are removed.
    header, blank, rest = text.split("\n", 2)
    assert header.startswith("> *The following text")
    assert blank == ""
    assert body == rest


def test_bare_link_in_first_blockquote() -> None:
    text = "> Archived copy: web.archive.org/web/20200101000000/https://example.com/p\n\nBody\n"
    info, body = parse_wayback_header(text)
    assert info is not None
    assert info.archive_url == "https://web.archive.org/web/20200101000000/https://example.com/p"
    assert info.source_url == "https://example.com/p"
    assert info.captured_at == datetime(2020, 1, 1, tzinfo=UTC)
    assert body == "Body\n"


def test_multi_line_blockquote_and_no_blank_line() -> None:
    text = (
        "> Extracted from a snapshot\n"
        ">\n"
        "> <https://web.archive.org/web/20190102030405if_/http://example.com/a_(b)>\n"
        "# Title\n"
    )
    info, body = parse_wayback_header(text)
    assert info is not None
    assert info.source_url == "http://example.com/a_(b)"
    assert body == "# Title\n"


def test_blockquote_without_wayback_link_is_body() -> None:
    text = "> A quote about privacy\n\nBody\n"
    assert parse_wayback_header(text) == (None, text)


def test_wayback_link_later_in_text_is_not_a_header() -> None:
    text = "Intro\n\n> see https://web.archive.org/web/20170422082216/https://x.org\n"
    assert parse_wayback_header(text) == (None, text)


def test_short_timestamp_is_not_a_header() -> None:
    text = "> https://web.archive.org/web/2017/https://x.org\n\nBody"
    assert parse_wayback_header(text) == (None, text)


def test_impossible_timestamp_is_refused() -> None:
    with pytest.raises(InputError, match="impossible timestamp 20171332000000"):
        parse_wayback_header("> https://web.archive.org/web/20171332000000/https://x.org\n\nB")


@pytest.mark.parametrize(
    ("archived", "source"),
    [
        (
            "https%3A//wiki.contribs.org/SME_Server%3APrivacy_policy",
            "https://wiki.contribs.org/SME_Server:Privacy_policy",
        ),
        ("https://example.com/a%20b?q=1%262", "https://example.com/a%20b?q=1%262"),
        ("http:/example.com/p", "http://example.com/p"),
    ],
)
def test_decode_source_url(archived: str, source: str) -> None:
    assert decode_source_url(archived) == source
