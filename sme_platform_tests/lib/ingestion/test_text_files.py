"""The text-file helpers alone: header and layout detection, normalized copies, gzip checks."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from sme_platform.lib.ingestion.text_files import (
    gzip_stream_error,
    read_csv_head,
    read_jsonl_layout,
    write_normalized_copy,
)


def head_of(tmp_path: Path, content: bytes, name: str = "f.csv", **options):
    path = tmp_path / name
    path.write_bytes(content)
    settings = {"delimiter": ",", "quote": '"', "encoding": "utf-8", **options}
    return read_csv_head(path, **settings)


@pytest.mark.parametrize(
    ("content", "byte_order_mark", "line_endings", "needs_copy"),
    [
        (b"a,b\n1,2\n", None, "lf", None),
        (b"a,b\r\n1,2\r\n", None, "crlf", None),
        (b"\xef\xbb\xbfa,b\r\n1,2\r\n", "utf-8-sig", "crlf", None),
        (b"a,b\r1,2\r", None, "cr", "lines end with CR only"),
        (b"\xff\xfe" + "a,b\r\n".encode("utf-16-le"), "utf-16", "crlf", "UTF-16 text"),
        (b"\xfe\xff" + "a,b\n".encode("utf-16-be"), "utf-16", "lf", "UTF-16 text"),
        (b"\xff\xfe\x00\x00" + "a,b\n".encode("utf-32-le"), "utf-32", "lf", "UTF-32 text"),
        (b"a,b", None, "none", None),
    ],
)
def test_the_layout_of_a_text_file_is_read_from_its_first_bytes(
    tmp_path, content, byte_order_mark, line_endings, needs_copy
):
    head = head_of(tmp_path, content)
    assert head.columns == ["a", "b"]
    assert head.layout.byte_order_mark == byte_order_mark
    assert head.layout.line_endings == line_endings
    assert (head.layout.needs_copy or "").startswith(needs_copy or "")
    assert bool(head.layout.needs_copy) == bool(needs_copy)


def test_a_header_line_across_many_reads_is_found_whole(tmp_path):
    names = [f"c{i}" for i in range(20000)]  # about 120 kB
    head = head_of(tmp_path, (",".join(names) + "\r\n1\r\n").encode())
    assert head.columns == names and head.layout.line_endings == "crlf"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file: no header line"),
        (b"\n\n  \n", "empty file: no header line"),
        (b"PK\x03\x04rest", "not a text export: it is a zip archive"),
        (b"\xd0\xcf\x11\xe0rest", "not a text export: it is an old Excel .xls workbook"),
        (b"%PDF-1.7", "not a text export: it is a PDF document"),
        (b"\x1f\x8b\x08\x00", "not a text export: it is gzip-compressed data"),
        (b"a\x00b,c\n", "line 1 (header) holds NUL bytes"),
        (b"caf\xe9,b\n", "line 1 (header) is not valid utf-8: byte 3"),
    ],
)
def test_files_without_a_readable_header_say_why(tmp_path, content, reason):
    with pytest.raises(ValueError, match="^" + reason.replace("(", r"\(").replace(")", r"\)")):
        head_of(tmp_path, content)


def test_an_undecodable_byte_after_the_header_does_not_reject_the_file(tmp_path):
    """Such a line is the reader's to quarantine; the header is fine."""
    assert head_of(tmp_path, b"a,b\ncaf\xe9,1\n").columns == ["a", "b"]


def test_a_configured_encoding_decodes_the_header(tmp_path):
    head = head_of(tmp_path, "café;b\n".encode("latin-1"), delimiter=";", encoding="latin-1")
    assert head.columns == ["café", "b"]


def test_a_normalized_copy_has_lf_endings_utf8_and_keeps_undecodable_bytes(tmp_path):
    source = tmp_path / "mixed.csv"
    source.write_bytes(b'a,b\r\n1,caf\xe9\n2,"x\ry"\r3,z')
    target = tmp_path / "copy" / "mixed.csv"
    write_normalized_copy(source, target, encoding="utf-8", byte_order_mark=None)
    assert target.read_bytes() == b'a,b\n1,caf\xe9\n2,"x\ny"\n3,z'


def test_a_normalized_copy_of_gzipped_utf16_is_plain_utf8(tmp_path):
    source = tmp_path / "excel.txt.gz"
    source.write_bytes(gzip.compress(b"\xff\xfe" + "a\tb\r\nä\tö\r\n".encode("utf-16-le")))
    target = tmp_path / "excel.txt"
    write_normalized_copy(source, target, encoding="utf-8", byte_order_mark="utf-16")
    assert target.read_text(encoding="utf-8") == "a\tb\nä\tö\n"


def test_a_broken_utf16_file_cannot_be_copied_and_says_so(tmp_path):
    source = tmp_path / "broken.csv"
    source.write_bytes(b"\xff\xfe" + "a,b\n".encode("utf-16-le") + b"\x00\xd8\x41\x00")
    with pytest.raises(ValueError, match="is not valid utf-16 text"):
        write_normalized_copy(
            source, tmp_path / "c.csv", encoding="utf-8", byte_order_mark="utf-16"
        )


def test_gzip_streams_are_checked_whole(tmp_path):
    data = gzip.compress(b"a,b\n" + b"1,2\n" * 50000)
    cases = {
        "whole.gz": data,
        "two_members.gz": data + gzip.compress(b"3,4\n"),
        "cut.gz": data[: len(data) // 2],
        "corrupt.gz": data[:20] + b"\x00" * 16 + data[36:],
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    assert gzip_stream_error(tmp_path / "whole.gz") is None
    assert gzip_stream_error(tmp_path / "two_members.gz") is None
    assert gzip_stream_error(tmp_path / "cut.gz").startswith("gzip data cut short")
    assert gzip_stream_error(tmp_path / "corrupt.gz").startswith("corrupt gzip data")


def test_json_lines_layout_and_emptiness(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"\xfe\xff" + '{"a": 1}\r\n'.encode("utf-16-be"))
    layout = read_jsonl_layout(path)
    assert (layout.byte_order_mark, layout.line_endings) == ("utf-16", "crlf")
    path.write_bytes(b"\n \n")
    with pytest.raises(ValueError, match="empty file: no JSON lines"):
        read_jsonl_layout(path)
