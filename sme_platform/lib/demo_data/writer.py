"""Writing export files byte-for-byte reproducibly, each atomically (temp file, then rename),
so a platform reading the folder during a run never sees half a file."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from sme_platform.lib.demo_data.defects import BROKEN_PROMO_CODE

CSV_OPTIONS = {
    "null_value": "",
    "float_precision": 2,
    "datetime_format": "%Y-%m-%d %H:%M:%S",
    "date_format": "%Y-%m-%d",
}
_UTF8_E_ACUTE = BROKEN_PROMO_CODE.encode("utf-8")
_LATIN1_E_ACUTE = BROKEN_PROMO_CODE.encode("latin-1")


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def write_csv(frame: pl.DataFrame, path: Path, *, separator: str = ",") -> None:
    """CSV with header, empty string for null, floats with 2 decimals."""
    write_atomic(path, frame.write_csv(separator=separator, **CSV_OPTIONS).encode("utf-8"))


def write_csv_parts(
    frame: pl.DataFrame, paths: list[Path], row_counts: list[int], *, columns: tuple[str, ...]
) -> None:
    """Write consecutive slices of `frame` (row_counts[i] rows) as separate CSV files.

    The frame is formatted once and the text cut at line ends: no field in these files contains
    a line break. A broken-encoding defect was injected as the text BROKEN_PROMO_CODE; its UTF-8
    'é' becomes the raw Latin-1 byte E9 here (no other 'é' can occur in sales files).
    """
    header = (",".join(columns) + "\n").encode("utf-8")
    body = frame.write_csv(include_header=False, **CSV_OPTIONS).encode("utf-8")
    line_ends = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == ord("\n")) + 1
    boundaries = np.concatenate([[0], line_ends])[np.cumsum([0, *row_counts])]
    for path, start, end in zip(paths, boundaries[:-1], boundaries[1:], strict=True):
        part = body[start:end]
        if _UTF8_E_ACUTE in part:
            part = part.replace(_UTF8_E_ACUTE, _LATIN1_E_ACUTE)
        write_atomic(path, header + part)


def write_parquet(frame: pl.DataFrame | pa.Table, path: Path) -> None:
    buffer = io.BytesIO()
    table = frame if isinstance(frame, pa.Table) else frame.to_arrow()
    # The Arrow schema copy in the metadata is left out: the Parquet types say it all.
    pq.write_table(table, buffer, compression="zstd", store_schema=False)
    write_atomic(path, buffer.getvalue())


def write_jsonl(frame: pl.DataFrame, path: Path) -> None:
    write_atomic(path, frame.write_ndjson().encode("utf-8"))
