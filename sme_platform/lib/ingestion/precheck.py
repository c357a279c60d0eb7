"""The pre-check: before any row is read, reject the files that cannot be loaded at all (empty,
not text, cut short, missing the columns the mapping needs) with the reason, and plan how to read
the rest (format, header, whether through a normalized copy)."""

from __future__ import annotations

import difflib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sme_platform.lib.ingestion import contract
from sme_platform.lib.ingestion.files import SourceFile, read_parquet_columns
from sme_platform.lib.ingestion.results import FileStatus, IngestResult, file_outcome
from sme_platform.lib.ingestion.text_files import (
    TextLayout,
    gzip_stream_error,
    read_csv_head,
    read_jsonl_layout,
)
from sme_platform.lib.sources import SourcesConfigError, SourceSpec


@dataclass(frozen=True)
class ReadPlan:
    """How a file is read: files with equal plans can share one batch."""

    file_format: str
    columns: tuple[str, ...] | None  # CSV/Parquet header; None for JSON lines
    copy_reason: str | None = None  # why it is read through a normalized copy
    byte_order_mark: str | None = None  # the codec its byte-order mark names


def precheck(con, spec: SourceSpec, files: list[SourceFile], result: IngestResult):
    """Reject whole files that cannot be loaded at all; return the rest, how to read each, and
    any extra columns."""
    readable: list[SourceFile] = []
    plans: dict[Path, ReadPlan] = {}
    extra: set[str] = set()
    needed_by_header: dict[tuple[str, ...], set[str]] = {}  # daily files share one header
    gzip_errors = _gzip_errors([f.path for f in files if f.path.suffix == ".gz"])
    for source_file in files:
        try:
            if any(character in str(source_file.path) for character in "*?["):
                raise ValueError(
                    "its path has a wildcard character (*, ? or [), which DuckDB's reader would "
                    "expand to other files; rename the file"
                )
            if gzip_errors.get(source_file.path):
                raise ValueError(gzip_errors[source_file.path])
            columns, layout = _file_columns(con, spec, source_file.path)
            if columns is not None:
                columns = _name_trailing_empty_columns(columns)
                _check_header_names(columns)
            # A query reads whatever it likes from source_rows; DuckDB reports what is missing.
            if columns is not None and not spec.query:
                key = tuple(columns)
                if key not in needed_by_header:
                    needed_by_header[key] = contract.source_column_references(spec, set(key))
                needed = needed_by_header[key]
                missing = sorted(needed - set(columns))
                if missing:
                    raise ValueError(
                        f"missing column(s) {missing} that the mapping in sources.yaml needs; "
                        f"the header has {len(columns)} column(s): {columns[:12]}"
                        + (" (wrong delimiter?)" if len(columns) == 1 else "")
                        + _close_names(missing, columns)
                    )
                extra.update(set(columns) - needed - set(contract.unnamed_columns(columns)))
        except SourcesConfigError:
            raise  # the mapping is wrong, not the file: fail the load, reject nothing
        except ValueError as error:
            message = f"{source_file.path}: rejected: {error}"
            result.files.append(file_outcome(source_file, FileStatus.REJECTED, message=message))
            continue
        readable.append(source_file)
        plans[source_file.path] = ReadPlan(
            spec.file_format(source_file.path),
            tuple(columns) if columns is not None else None,
            copy_reason=layout.needs_copy if layout else None,
            byte_order_mark=layout.byte_order_mark if layout else None,
        )
    return readable, plans, extra


def _close_names(missing: list[str], columns: list[str]) -> str:
    """ "; did you mean ...?" for the missing names a header column is close to (a typo in the
    mapping, or an export that renamed a column)."""
    close = {
        name: match[0]
        for name in missing
        if (match := difflib.get_close_matches(name, columns, n=1, cutoff=0.6))
    }
    if not close:
        return ""
    return "; did you mean " + ", ".join(f"{m!r} for {n!r}" for n, m in close.items()) + "?"


def _gzip_errors(paths: list[Path]) -> dict[Path, str | None]:
    """Check gzip files whole (zlib lets go of the GIL: one thread per core)."""
    if not paths:
        return {}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return dict(zip(paths, pool.map(gzip_stream_error, paths), strict=True))


def _name_trailing_empty_columns(columns: list[str]) -> list[str]:
    """A delimiter at the end of every line (common in ERP exports) makes an unnamed last
    column. It is read under a name of its own; a row with a value in it is quarantined (see
    contract.unnamed_column_rules), so nothing is dropped unseen."""
    named = list(columns)
    position = len(named)
    while position > 1 and not named[position - 1]:
        named[position - 1] = contract.unnamed_column_name(position)
        position -= 1
    return named


def _check_header_names(columns: list[str]) -> None:
    # DuckDB's names are case-insensitive: qty and QTY are the same column to it.
    folded = [c.casefold() for c in columns]
    duplicates = sorted({c for c in columns if folded.count(c.casefold()) > 1})
    if duplicates:
        raise ValueError(
            f"the header names column(s) {duplicates} more than once (names are compared "
            "ignoring case)"
        )
    if any(not c for c in columns):
        position = [i + 1 for i, c in enumerate(columns) if not c]
        raise ValueError(f"the header has empty column name(s) at position(s) {position}")


def _file_columns(con, spec: SourceSpec, path: Path) -> tuple[list[str] | None, TextLayout | None]:
    """Column names a file offers (None for JSON lines, whose keys vary by line), and the
    layout of a text file."""
    file_format = spec.file_format(path)
    if file_format == "csv":
        options = spec.options
        head = read_csv_head(
            path,
            delimiter=options.get("delimiter", ","),
            quote=options.get("quote", '"'),
            encoding=options.get("encoding", "utf-8"),
        )
        if not options.get("header", True):
            return [f"column{i}" for i in range(len(head.columns))], head.layout
        return head.columns, head.layout
    if file_format == "parquet":
        return read_parquet_columns(con, path), None
    return None, read_jsonl_layout(path)
