"""Text exports as small companies really write them, made readable for DuckDB's CSV reader.

DuckDB reads UTF-8 (or a configured single encoding) with one kind of line ending per file. Real
exports break that in ways that say nothing about their rows: Excel's "Unicode text" is UTF-16
with a byte-order mark, old Mac tools end lines with CR alone, and two exports concatenated (one
from Windows) mix CRLF and LF, which stops DuckDB's parser outright ("The CSV Parser state machine
reached an invalid state"). For such a file the platform reads a normalized copy instead: decoded
(by its byte-order mark, else the configured encoding), every line ending turned into LF, written
as UTF-8. Bytes that do not decode are carried over unchanged (surrogate escapes), so DuckDB still
quarantines exactly the lines that hold them, as it does for the original file. Lineage keeps the
original file's path and hash: the copy is only how it is read.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path

HEADER_PEEK_BYTES = 1024 * 1024
FIRST_READ_BYTES = 8 * 1024
COPY_CHUNK_CHARACTERS = 4 * 1024 * 1024

# Byte-order marks, longest first (the UTF-32 LE mark starts like UTF-16 LE's).
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# What a first line that is not text most likely is, for the rejection message.
BINARY_SIGNATURES = (
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook?); export the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook; export the sheet as CSV"),
    (b"%PDF", "a PDF document, not a data export"),
    (b"\x1f\x8b", "gzip-compressed data; name the file *.gz so it is decompressed"),
    (b"PAR1", "a Parquet file; name it *.parquet or set format: parquet"),
)


@dataclass(frozen=True)
class TextLayout:
    """How a text export is encoded, as far as its first bytes tell."""

    byte_order_mark: str | None  # the Python codec its byte-order mark names, if it has one
    line_endings: str  # "lf", "crlf", "cr" (seen in the first line), "none" (a single line)

    @property
    def needs_copy(self) -> str | None:
        """Why DuckDB cannot read the file as it is, or None."""
        if self.byte_order_mark in ("utf-16", "utf-32"):
            return f"{self.byte_order_mark.upper()} text (byte-order mark)"
        if self.line_endings == "cr":
            return "lines end with CR only"
        return None


@dataclass(frozen=True)
class CsvHead:
    columns: list[str]
    layout: TextLayout


def open_binary(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def python_codec(encoding: str) -> str:
    """The Python codec for an encoding named in sources.yaml (DuckDB's names)."""
    normalized = encoding.lower().replace("_", "-")
    return "utf-8-sig" if normalized in ("utf-8", "utf8") else normalized


def read_csv_head(path: Path, *, delimiter: str, quote: str, encoding: str) -> CsvHead:
    """The column names in the first line and the file's text layout, or ValueError saying why
    there are none."""
    head = _read_head(path)
    if not head.strip(b" \t\r\n\x00"):
        raise ValueError("empty file: no header line")
    for signature, meaning in BINARY_SIGNATURES:
        if head.startswith(signature):
            raise ValueError(f"not a text export: it is {meaning}")
    byte_order_mark = _byte_order_mark(head)
    codec = byte_order_mark or python_codec(encoding)
    # Only the first line is needed; the peek may end inside a character.
    text = codecs.getincrementaldecoder(codec)(errors="strict")
    try:
        decoded = text.decode(head, final=False)
    except UnicodeDecodeError as error:
        decoded = _decodable_prefix(head, codec, error)
    first_line, line_endings = _first_line(decoded)
    if "\x00" in first_line:
        raise ValueError(
            "line 1 (header) holds NUL bytes: binary data, or UTF-16 text without a byte-order "
            "mark (set options.encoding: utf-16 in sources.yaml)"
        )
    reader = csv.reader(io.StringIO(first_line), delimiter=delimiter, quotechar=quote or None)
    try:
        columns = [name.strip() for name in next(reader, [])]
    except csv.Error as error:
        raise ValueError(f"line 1 (header) cannot be parsed: {error}") from error
    return CsvHead(columns, TextLayout(byte_order_mark, line_endings))


def read_jsonl_layout(path: Path) -> TextLayout:
    """The layout of a JSON lines file, or ValueError if it holds nothing."""
    head = _read_head(path)
    if not head.strip(b" \t\r\n\x00"):
        raise ValueError("empty file: no JSON lines")
    byte_order_mark = _byte_order_mark(head)
    decoded = head.decode(byte_order_mark or "utf-8", errors="replace")
    return TextLayout(byte_order_mark, _first_line(decoded)[1])


def _read_head(path: Path) -> bytes:
    """The file's first bytes, enough to hold its first line (and the start of the second, to
    tell CR from CRLF), up to HEADER_PEEK_BYTES. Reading a fixed 1 MB of each of 730 daily
    exports took 0.6 s; most headers fit the first read."""
    try:
        with open_binary(path) as handle:
            head = handle.read(FIRST_READ_BYTES)
            while len(head) < HEADER_PEEK_BYTES and not _has_line_break(head):
                more = handle.read(len(head) * 8)
                if not more:
                    break
                head += more
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"cannot be read: {error}") from error
    return head


def _has_line_break(head: bytes) -> bool:
    """A line break that is not the last byte (a CR there may be the first half of CRLF)."""
    return b"\n" in head or b"\r" in head[:-1]


def _byte_order_mark(head: bytes) -> str | None:
    return next((codec for mark, codec in BYTE_ORDER_MARKS if head.startswith(mark)), None)


def _decodable_prefix(head: bytes, codec: str, error: UnicodeDecodeError) -> str:
    """The text before an undecodable byte, if the header line ends before it; else the error
    names the byte (a whole file in another encoding is a configuration matter)."""
    prefix = head[: error.start].decode(codec)
    if "\n" in prefix or "\r" in prefix:
        return prefix
    raise ValueError(
        f"line 1 (header) is not valid {codec.removesuffix('-sig')}: byte {error.start}; "
        "set options.encoding in sources.yaml if the file uses another encoding"
    ) from error


def _first_line(text: str) -> tuple[str, str]:
    match = re.search(r"\r\n|\r|\n", text)
    if match is None:
        return text, "none"
    ending = {"\r\n": "crlf", "\r": "cr", "\n": "lf"}[match.group()]
    if ending == "cr" and match.end() == len(text):
        ending = "crlf"  # the peek ended between CR and LF: cannot tell, assume the common one
    return text[: match.start()], ending


def write_normalized_copy(
    source: Path, target: Path, *, encoding: str, byte_order_mark: str | None
) -> None:
    """Decode `source` (gzip-aware), turn CRLF and CR line endings into LF, write UTF-8.

    Undecodable bytes of a UTF-8 (or single-byte) file pass through unchanged, so the reader
    still quarantines the lines that hold them; a UTF-16/32 file must decode whole."""
    codec = byte_order_mark or python_codec(encoding)
    errors = "strict" if codec.startswith(("utf-16", "utf-32")) else "surrogateescape"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with (
            open_binary(source) as raw,
            io.TextIOWrapper(raw, encoding=codec, errors=errors, newline=None) as text,
            target.open("w", encoding="utf-8", errors="surrogateescape", newline="\n") as out,
        ):
            shutil.copyfileobj(text, out, COPY_CHUNK_CHARACTERS)
    except UnicodeDecodeError as error:
        raise ValueError(
            f"is not valid {codec} text (byte {error.start} of a chunk cannot be decoded)"
        ) from error
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"cannot be read: {error}") from error


def gzip_stream_error(path: Path) -> str | None:
    """Why a .gz file is incomplete or corrupt, or None. DuckDB reads a gzip stream cut short
    (a copy still being written, a broken transfer) up to where it ends without complaint, which
    would load part of a file as if it were whole."""
    decompressor = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        with path.open("rb") as handle:
            while data := handle.read(HEADER_PEEK_BYTES):
                while data:
                    # Output is discarded; a bounded size keeps memory flat on large files.
                    decompressor.decompress(data, HEADER_PEEK_BYTES)
                    data = decompressor.unconsumed_tail
                    if decompressor.eof and decompressor.unused_data:
                        # The next member of a multi-member file (as `cat a.gz b.gz` makes).
                        data = decompressor.unused_data + data
                        decompressor = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    except zlib.error as error:
        return f"corrupt gzip data: {error}"
    if not decompressor.eof:
        return (
            "gzip data cut short: the file ends before its compressed stream does (a copy still "
            "being written, or a broken transfer); nothing of it is loaded"
        )
    return None
