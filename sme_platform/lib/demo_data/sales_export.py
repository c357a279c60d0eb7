"""Writing the daily sales files: a few days are formatted together, then split per day."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from sme_platform.lib.demo_data.defects import (
    PARQUET_SALES_DEFECT_KINDS,
    SALES_DEFECT_KINDS,
    DefectLog,
    SalesFileRows,
    inject_sales_defects,
)
from sme_platform.lib.demo_data.frames import SALES_COLUMNS, sales_frame
from sme_platform.lib.demo_data.layout import sales_file
from sme_platform.lib.demo_data.randomness import rng_for
from sme_platform.lib.demo_data.sales import SalesLines
from sme_platform.lib.demo_data.writer import write_csv_parts, write_parquet

# Lines held before writing; bounds memory at the large scale (about two days there).
MAX_BUFFERED_LINES = 250_000
_SALES_DEFECT_STREAM = 1


class SalesExporter:
    def __init__(
        self,
        out_dir: Path,
        *,
        file_format: str,
        seed: int,
        defect_rate: float,
        log: DefectLog,
        location_codes: pl.Series,
        item_codes: pl.Series,
        customer_codes: pl.Series,
    ):
        self._out_dir = out_dir
        self._format = file_format
        self._seed = seed
        self._defect_rate = defect_rate
        self._kinds = SALES_DEFECT_KINDS if file_format == "csv" else PARQUET_SALES_DEFECT_KINDS
        self._log = log
        self._codes = (location_codes, item_codes, customer_codes)
        self._days: list[tuple[date, SalesLines]] = []
        self._buffered = 0
        self._defects_so_far = 0
        self.rows_per_file: dict[str, int] = {}

    def add_day(self, day: date, lines: SalesLines, *, last_of_batch: bool) -> None:
        self._days.append((day, lines))
        self._buffered += len(lines)
        if last_of_batch or self._buffered >= MAX_BUFFERED_LINES:
            self.flush()

    def flush(self) -> None:
        if not self._days:
            return
        frame = sales_frame(self._days, *self._codes)
        files, first_row = [], 0
        for day, lines in self._days:
            rng = (
                rng_for(self._seed, "defects", _SALES_DEFECT_STREAM, day.toordinal())
                if self._defect_rate > 0
                else None
            )
            files.append(SalesFileRows(sales_file(day, self._format), first_row, len(lines), rng))
            first_row += len(lines)
        frame, written_rows, self._defects_so_far = inject_sales_defects(
            frame,
            files,
            rate=self._defect_rate,
            kinds=self._kinds,
            log=self._log,
            defects_so_far=self._defects_so_far,
        )
        paths = [self._out_dir / f.name for f in files]
        if self._format == "csv":
            write_csv_parts(frame, paths, written_rows, columns=SALES_COLUMNS)
        else:
            offset = 0
            for path, rows in zip(paths, written_rows, strict=True):
                write_parquet(frame.slice(offset, rows), path)
                offset += rows
        self.rows_per_file.update(
            {f.name: rows for f, rows in zip(files, written_rows, strict=True)}
        )
        self._days = []
        self._buffered = 0
