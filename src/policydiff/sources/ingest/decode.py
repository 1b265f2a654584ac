"""Turn a snapshot file's bytes into text: pick the encoding, refuse binary, normalise newlines."""

from __future__ import annotations

import codecs
import re
from typing import BinaryIO

from policydiff.core.errors import InputError, UsageError

MIB = 1024 * 1024
DEFAULT_MAX_BYTES = 20 * MIB

# Checked longest first so the UTF-32 LE BOM (FF FE 00 00) is not read as a UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"%PDF-", "PDF document"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"PK\x05\x06", "ZIP archive"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"\x1f\x8b", "gzip archive"),
    (b"\x7fELF", "ELF executable"),
)

# The HTML standard's prescan looks at the first 1024 bytes for a charset declaration;
# this one regex covers both <meta charset=...> and the http-equiv content="...; charset=..." form.
_HTML_PRESCAN_BYTES = 1024
_META_CHARSET = re.compile(
    rb"<meta\b[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)", re.IGNORECASE
)

# WHATWG Encoding: browsers decode pages labelled latin-1/ascii as windows-1252, and a
# UTF-16 label found by an ASCII prescan cannot be right, so it means UTF-8.
_HTML_LABEL_OVERRIDES = {
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "utf-16": "utf-8",
    "utf-16-le": "utf-8",
    "utf-16-be": "utf-8",
}


def format_size(size: int) -> str:
    """Return a byte count as ``N MiB`` when whole mebibytes, else ``N bytes``."""
    if size >= MIB and size % MIB == 0:
        return f"{size // MIB} MiB"
    return f"{size} bytes"


def check_size(size: int, max_bytes: int) -> None:
    """Raise ``InputError`` when ``size`` exceeds the ``max_bytes`` limit."""
    if size > max_bytes:
        raise InputError(
            f"snapshot is {size} bytes, over the {format_size(max_bytes)} size limit; "
            "raise the limit with --max-size"
        )


# Codecs Python counts as text encodings that no document is written in: idna and punycode
# encode host names (and fail with a bare UnicodeError on ordinary text), the escape codecs
# read Python string literals, and "undefined" refuses everything.
_NOT_DOCUMENT_CODECS = frozenset(
    {"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape"}
)


def text_codec(name: str) -> str | None:
    """Return the canonical name of ``name`` if it is a character encoding for documents."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    # codecs.lookup also knows bytes-to-bytes and str-to-str codecs (base64, zlib, rot13).
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_DOCUMENT_CODECS:
        return None
    return info.name


def lookup_encoding(name: str) -> str:
    """Return the canonical codec name for ``name``, or raise ``UsageError`` if unusable."""
    canonical = text_codec(name)
    if canonical is None:
        raise UsageError(f"unknown text encoding {name!r} for --encoding")
    return canonical


_UTF8 = frozenset({"utf-8", "utf-8-sig"})


def _is_wide(codec: str) -> bool:
    """Whether ``codec`` is a UTF-16/32 form, in which NUL bytes are ordinary."""
    return codec.startswith(("utf-16", "utf-32"))


def _html_charset(raw: bytes) -> str | None:
    """Return the codec an HTML document declares in its first 1024 bytes, if any."""
    match = _META_CHARSET.search(raw[:_HTML_PRESCAN_BYTES])
    if match is None:
        return None
    label = match[1].decode("ascii")
    canonical = text_codec(label)
    if canonical is None:
        # Unknown labels and codecs that are not character sets (idna, base64) alike.
        raise InputError(
            f"HTML declares unknown charset {label!r}; pass --encoding to name the real one"
        )
    return _HTML_LABEL_OVERRIDES.get(canonical, canonical)


def _choose_codec(raw: bytes, *, encoding: str | None, is_html: bool) -> str:
    """Pick the codec: explicit ``encoding``, then a BOM, then an HTML declaration, then UTF-8."""
    if encoding is not None:
        canonical = lookup_encoding(encoding)
        # An explicit "utf-8" should still drop a BOM rather than keep U+FEFF in the text.
        return "utf-8-sig" if canonical == "utf-8" else canonical
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            return codec
    if is_html:
        declared = _html_charset(raw)
        if declared is not None:
            return declared
    return "utf-8-sig"


def _refuse_binary(raw: bytes, codec: str) -> None:
    """Raise ``InputError`` for known binary formats and for NUL bytes in a narrow encoding."""
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            raise InputError(f"binary file, not a text snapshot ({kind})")
    if not _is_wide(codec) and b"\0" in raw:
        raise InputError(f"binary file, not a text snapshot (NUL byte at offset {raw.index(0)})")


def normalize_newlines(text: str) -> str:
    """Turn CRLF and lone CR line endings into LF."""
    if "\r" not in text:
        # The usual case: the two passes below would copy the whole text for nothing.
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode_bytes(
    raw: bytes,
    *,
    encoding: str | None,
    is_html: bool,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> str:
    """Decode a snapshot's bytes to LF-normalised text, refusing binary, invalid or empty input."""
    check_size(len(raw), max_bytes)
    codec = _choose_codec(raw, encoding=encoding, is_html=is_html)
    _refuse_binary(raw, codec)
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as err:
        # Never guess: a wrong guess silently corrupts the archived text.
        bad = raw[err.start : err.end].hex(" ")
        raise InputError(
            f"not valid {codec} text: byte(s) {bad} at offset {err.start}; "
            "pass --encoding to name the file's encoding"
        ) from None
    except UnicodeError as err:
        # A codec that fails without saying where (none of the accepted ones should).
        raise InputError(f"cannot decode the file as {codec}: {err}") from None
    # Codecs like utf-16-le or latin-1 keep a BOM as U+FEFF; it is never policy text.
    text = text.removeprefix("\ufeff")
    # In UTF-8 only a NUL byte decodes to NUL, and _refuse_binary has looked for those.
    if codec not in _UTF8 and "\0" in text:
        raise InputError("binary file, not a text snapshot (NUL character in decoded text)")
    text = normalize_newlines(text)
    if is_blank(text):
        raise InputError("empty snapshot: the file holds no text")
    return text


def is_blank(text: str) -> bool:
    """Whether ``text`` is empty or only whitespace (``not text.strip()``, without a copy)."""
    # str.isspace and str.strip agree on what is whitespace; isspace stops at the first
    # other character instead of copying the whole text.
    return not text or text.isspace()


def read_at_most(handle: BinaryIO, max_bytes: int, expected: int | None = None) -> bytes:
    """Read ``handle`` to its end, but no more than ``max_bytes + 1`` bytes.

    In chunks: one ``read(max_bytes + 1)`` would allocate the whole limit up front, which
    fails for a large ``--max-size`` even on a small file. ``expected`` (the size the file
    reports) sizes the first chunk, so a small file costs no mebibyte-sized buffer.
    """
    chunks: list[bytes] = []
    size = 0
    # One byte past the expected size: a file that grew since is still read to its end.
    chunk_size = MIB if expected is None else min(MIB, expected + 1)
    while size <= max_bytes and (chunk := handle.read(min(chunk_size, max_bytes + 1 - size))):
        chunks.append(chunk)
        size += len(chunk)
        chunk_size = MIB
    return b"".join(chunks)
