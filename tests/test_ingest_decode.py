import codecs

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from policydiff.core.errors import InputError, UsageError
from policydiff.sources.ingest import decode
from policydiff.sources.ingest.decode import (
    DEFAULT_MAX_BYTES,
    decode_bytes,
    format_size,
    lookup_encoding,
)

TEXT = "Privacy — “quoted” café\nsecond line\n"


def dec(raw: bytes, *, encoding: str | None = None, is_html: bool = False, **kw: int) -> str:
    return decode_bytes(raw, encoding=encoding, is_html=is_html, **kw)


def test_plain_utf8() -> None:
    assert dec(TEXT.encode()) == TEXT


def test_utf8_bom_is_dropped() -> None:
    assert dec(codecs.BOM_UTF8 + TEXT.encode()) == TEXT


def test_explicit_utf8_also_drops_bom() -> None:
    assert dec(codecs.BOM_UTF8 + TEXT.encode(), encoding="UTF8") == TEXT


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
    ],
)
def test_wide_encodings_with_bom(bom: bytes, codec: str) -> None:
    assert dec(bom + TEXT.encode(codec)) == TEXT


def test_utf16_without_bom_needs_encoding() -> None:
    raw = TEXT.encode("utf-16-le")
    with pytest.raises(InputError, match="binary file"):
        dec(raw)
    assert dec(raw, encoding="utf-16-le") == TEXT


def test_invalid_utf8_names_offset_and_encoding_option() -> None:
    raw = b"abc\xe9def"
    with pytest.raises(InputError, match=r"offset 3.*--encoding"):
        dec(raw)


def test_latin1_with_encoding() -> None:
    assert dec("café\n".encode("latin-1"), encoding="latin-1") == "café\n"


def test_unknown_encoding_is_usage_error() -> None:
    with pytest.raises(UsageError, match="no-such-codec"):
        dec(b"x", encoding="no-such-codec")


def test_bytes_to_bytes_codec_is_not_a_text_encoding() -> None:
    with pytest.raises(UsageError, match="base64"):
        lookup_encoding("base64")


def test_html_meta_charset() -> None:
    html = '<html><head><meta charset="windows-1251"></head><body>Привет</body></html>'
    assert dec(html.encode("cp1251"), is_html=True) == html


def test_html_http_equiv_charset() -> None:
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
        "</head><body>個人情報</body></html>"
    )
    assert dec(html.encode("shift_jis"), is_html=True) == html


def test_html_latin1_label_reads_as_windows_1252() -> None:
    html = "<meta charset=iso-8859-1><p>“smart” quotes</p>"
    assert dec(html.encode("cp1252"), is_html=True) == html


def test_html_unknown_charset_is_input_error() -> None:
    with pytest.raises(InputError, match=r"unknown charset 'klingon'.*--encoding"):
        dec(b"<meta charset=klingon><p>x</p>", is_html=True)


def test_charset_declaration_ignored_for_non_html() -> None:
    with pytest.raises(InputError, match="--encoding"):
        dec("<meta charset=latin-1>café".encode("latin-1"))


def test_explicit_encoding_beats_html_declaration() -> None:
    html = "<meta charset=utf-8><p>café</p>"
    assert dec(html.encode("latin-1"), encoding="latin-1", is_html=True) == html


@pytest.mark.parametrize(
    "raw",
    [
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"PK\x03\x04\x14\0",
        b"GIF89a\x01\0\x01\0",
        b"\xff\xd8\xff\xe0\0\x10JFIF",
        b"hello\0world",
    ],
)
def test_binary_refused(raw: bytes) -> None:
    with pytest.raises(InputError, match="binary file, not a text snapshot"):
        dec(raw)


def test_magic_refused_even_with_explicit_encoding() -> None:
    with pytest.raises(InputError, match="binary file"):
        dec(b"%PDF-1.4 whatever", encoding="latin-1")


@pytest.mark.parametrize("raw", [b"", b"   ", b"\n\r\n\t \n", codecs.BOM_UTF8 + b" \n"])
def test_empty_or_whitespace_refused(raw: bytes) -> None:
    with pytest.raises(InputError, match="empty snapshot"):
        dec(raw)


def test_crlf_and_cr_normalised() -> None:
    assert dec(b"a\r\nb\rc\n\r\nd") == "a\nb\nc\n\nd"


def test_crlf_normalised_in_utf16() -> None:
    assert dec(codecs.BOM_UTF16_LE + "a\r\nb".encode("utf-16-le")) == "a\nb"


def test_size_limit() -> None:
    assert dec(b"x" * 10, max_bytes=10) == "x" * 10
    with pytest.raises(InputError, match=r"11 bytes, over the 10 bytes size limit.*--max-size"):
        dec(b"x" * 11, max_bytes=10)


def test_default_limit_is_20_mib() -> None:
    assert DEFAULT_MAX_BYTES == 20 * 1024 * 1024
    assert format_size(DEFAULT_MAX_BYTES) == "20 MiB"


@given(st.text())
def test_any_utf8_text_round_trips(text: str) -> None:
    # A leading U+FEFF is indistinguishable from a BOM, and NUL marks binary input.
    assume(text.strip() and "\0" not in text and not text.startswith("\ufeff"))
    raw = text.encode()
    assume(not any(raw.startswith(magic) for magic, _ in decode._MAGIC))
    assert dec(raw) == text.replace("\r\n", "\n").replace("\r", "\n")
