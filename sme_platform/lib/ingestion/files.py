"""Finding, fingerprinting and pre-checking source files before DuckDB reads them.

Text files are pre-read in `text_files`; anything finer than a whole file is left to row-level
quarantine.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from sme_platform.lib.access import PRIVATE_FILE
from sme_platform.lib.ingestion.results import FileOutcome

HASH_CHUNK_BYTES = 4 * 1024 * 1024


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


def read_parquet_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    try:
        rows = con.execute(
            "select name from parquet_schema(?) where num_children is null or num_children = 0",
            [str(path)],
        ).fetchall()
    except duckdb.Error as error:
        raise ValueError(f"not a readable Parquet file: {error}") from error
    return [name for (name,) in rows]


def keep_copy(outcome: FileOutcome, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / f"{outcome.sha256[:16]}-{Path(outcome.path).name}"
    if not copy.exists():
        # Its bytes and times, not its mode: the copy is the platform user's alone
        # (lib/access.py), whoever could read the export folder.
        shutil.copyfile(outcome.path, copy)
        os.chmod(copy, PRIVATE_FILE)
        source = os.stat(outcome.path)
        os.utime(copy, ns=(source.st_atime_ns, source.st_mtime_ns))
    return copy
