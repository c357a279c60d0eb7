"""Finding, fingerprinting and pre-checking source files before DuckDB reads them.

A pre-check rejects a whole file only when nothing in it could be loaded (empty, unreadable header,
columns the mapping needs are missing); anything finer is left to row-level quarantine.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

HASH_CHUNK_BYTES = 4 * 1024 * 1024
HEADER_PEEK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SourceFile:
    path: Path
    sha256: str
    size_bytes: int
    modified_at: datetime
    mtime_ns: int


def fingerprint(path: Path) -> SourceFile:
    # Size and time are taken before hashing: the load compares them again at its end, which
    # catches a file changed during hashing as well as during the read.
    stat = path.stat()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC).replace(tzinfo=None)
    return SourceFile(
        path=path,
        sha256=digest.hexdigest(),
        size_bytes=stat.st_size,
        modified_at=modified,
        mtime_ns=stat.st_mtime_ns,
    )


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def read_csv_header(path: Path, *, delimiter: str, quote: str, encoding: str) -> list[str]:
    """The column names in the first line, or ValueError saying why there are none."""
    try:
        with _open_binary(path) as handle:
            # The first line only: reading a fixed 1 MB read most of each daily export again.
            head = handle.readline(HEADER_PEEK_BYTES)
            if not head.strip():  # a blank first line: is anything after it?
                head += handle.read(HEADER_PEEK_BYTES)
    except (OSError, EOFError) as error:
        raise ValueError(f"cannot be read: {error}") from error
    if not head.strip():
        raise ValueError("empty file: no header line")
    first_line = head.split(b"\n", 1)[0].rstrip(b"\r")
    python_encoding = (
        "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    )
    try:
        text = first_line.decode(python_encoding)
    except UnicodeDecodeError as error:
        raise ValueError(
            f"line 1 (header) is not valid {encoding}: byte {error.start}; "
            "set options.encoding in sources.yaml if the file uses another encoding"
        ) from error
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quote or None)
    return [name.strip() for name in next(reader, [])]


def read_parquet_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    try:
        rows = con.execute(
            "select name from parquet_schema(?) where num_children is null or num_children = 0",
            [str(path)],
        ).fetchall()
    except duckdb.Error as error:
        raise ValueError(f"not a readable Parquet file: {error}") from error
    return [name for (name,) in rows]


def check_jsonl_not_empty(path: Path) -> None:
    with _open_binary(path) as handle:
        if not handle.read(HEADER_PEEK_BYTES).strip():
            raise ValueError("empty file: no JSON lines")
