"""Realistic export defects, injected into a disjoint random subset of rows and logged.

Each defect is recorded with its kind, file (relative to the output folder), 1-based data row as
written (header not counted, injected duplicate rows counted) and a detail. A row gets at most one
defect; all other rows stay clean. Defects draw from their own random stream, so the clean rows
are the same whatever the defect rate.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import polars as pl

SALES_DEFECT_KINDS = (
    "null_key",
    "negative_quantity",
    "absurd_quantity",
    "duplicate_key",
    "unknown_sku",
    "future_date",
    "broken_encoding",
)
PARQUET_SALES_DEFECT_KINDS = tuple(k for k in SALES_DEFECT_KINDS if k != "broken_encoding")
CUSTOMER_DEFECT_KINDS = ("malformed_email", "null_key")
TICKET_DEFECT_KINDS = ("null_key",)

# A promo code typed on a Latin-1 till: written as the single byte 0xE9, not valid UTF-8.
BROKEN_PROMO_CODE = "PROMO-CAF\u00e9"
ABSURD_QUANTITY_RANGE = (100_000, 1_000_000)
FUTURE_SHIFT_DAYS = (5 * 366, 10 * 365)
UNKNOWN_SKU_RANGE = (90_000, 100_000)  # item codes SKU-9xxxx; no scale has that many products


@dataclass
class DefectLog:
    records: list[dict] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    def add(self, kind: str, files: str | list[str], rows: np.ndarray, details: list[str]) -> None:
        """Record defects of one kind; `files` is one file for all rows or one file per row."""
        names = [files] * len(details) if isinstance(files, str) else files
        for file, row, detail in zip(names, rows.tolist(), details, strict=True):
            self.records.append({"kind": kind, "file": file, "row": row, "detail": detail})
        self.counts[kind] += len(details)


@dataclass(frozen=True)
class SalesFileRows:
    """Where one sales file's rows sit in a frame holding several days, and its defect stream."""

    name: str
    first_row: int
    rows: int
    rng: np.random.Generator | None


_NO_ROWS = np.array([], dtype=np.int64)


def inject_sales_defects(
    frame: pl.DataFrame,
    files: list[SalesFileRows],
    *,
    rate: float,
    kinds: tuple[str, ...],
    log: DefectLog,
    defects_so_far: int,
) -> tuple[pl.DataFrame, list[int], int]:
    """Inject defects into about `rate` of each file's SALE lines, the kinds taking turns.

    `frame` holds the files' rows one file after the other. Each file draws its defects from its
    own stream, so a file's defects do not depend on which other files share the frame; the
    kinds take turns across files, continuing from `defects_so_far`. Returns the frame as
    written (duplicates inserted after their originals), the rows per file and the new count.
    """
    if rate <= 0 or frame.height == 0:
        return frame, [f.rows for f in files], defects_so_far
    is_sale = (frame["doc_type"] == "SALE").to_numpy()
    picked: dict[str, list[np.ndarray]] = {kind: [] for kind in kinds}
    draws: dict[str, list[np.ndarray]] = {kind: [] for kind in kinds}
    for file in files:
        sale_rows = np.flatnonzero(is_sale[file.first_row : file.first_row + file.rows])
        rng = file.rng
        count = int(rng.binomial(len(sale_rows), rate)) if len(sale_rows) else 0
        if count == 0:
            continue
        chosen = rng.choice(sale_rows, size=count, replace=False)
        kind_of = np.array(kinds)[(defects_so_far + np.arange(count)) % len(kinds)]
        defects_so_far += count
        for kind in kinds:
            rows = np.sort(chosen[kind_of == kind])
            picked[kind].append(file.first_row + rows)
            draws[kind].append(_defect_values(kind, len(rows), rng))
    rows_of = {k: np.concatenate(v) if v else _NO_ROWS for k, v in picked.items()}
    values_of = {k: np.concatenate(v) if v else _NO_ROWS for k, v in draws.items()}
    frame, details = _apply_sales_defects(frame, rows_of, values_of)

    duplicated = rows_of.get("duplicate_key", _NO_ROWS)
    first_rows = np.array([f.first_row for f in files])
    for kind in kinds:
        rows = rows_of[kind]
        file_index = np.searchsorted(first_rows, rows, side="right") - 1
        file_start = first_rows[file_index]
        copies_before = np.searchsorted(duplicated, rows) - np.searchsorted(duplicated, file_start)
        written = rows - file_start + copies_before + 1 + (kind == "duplicate_key")
        log.add(kind, [files[i].name for i in file_index.tolist()], written, details[kind])

    frame = frame[
        np.repeat(np.arange(frame.height), 1 + np.isin(np.arange(frame.height), duplicated))
    ]
    copies = np.bincount(
        np.searchsorted(first_rows, duplicated, side="right") - 1, minlength=len(files)
    )
    return frame, [f.rows + int(c) for f, c in zip(files, copies, strict=True)], defects_so_far


def _defect_values(kind: str, count: int, rng: np.random.Generator) -> np.ndarray:
    """The random values a defect kind needs (a quantity, a day shift, a SKU number)."""
    if kind == "absurd_quantity":
        return rng.integers(*ABSURD_QUANTITY_RANGE, size=count)
    if kind == "future_date":
        return rng.integers(*FUTURE_SHIFT_DAYS, size=count)
    if kind == "unknown_sku":
        return rng.integers(*UNKNOWN_SKU_RANGE, size=count)
    return np.zeros(count, dtype=np.int64)


def _apply_sales_defects(
    frame: pl.DataFrame, rows_of: dict[str, np.ndarray], values_of: dict[str, np.ndarray]
) -> tuple[pl.DataFrame, dict[str, list[str]]]:
    def rows(kind: str) -> np.ndarray:
        return rows_of.get(kind, _NO_ROWS)

    item_code = frame["item_code"].clone()
    qty = frame["qty"].clone()
    promo_code = frame["promo_code"].clone()
    ordered_at = frame["order_datetime"].clone()
    details: dict[str, list[str]] = {}

    item_code.scatter(rows("null_key"), None)
    details["null_key"] = ["item_code is empty"] * len(rows("null_key"))

    negative = -qty.gather(rows("negative_quantity"))
    qty.scatter(rows("negative_quantity"), negative)
    details["negative_quantity"] = [f"SALE line with qty {q}" for q in negative.to_list()]

    absurd = values_of.get("absurd_quantity", _NO_ROWS)
    qty.scatter(rows("absurd_quantity"), absurd)
    details["absurd_quantity"] = [f"qty {q}" for q in absurd.tolist()]

    unknown = [f"SKU-{n:05d}" for n in values_of.get("unknown_sku", _NO_ROWS).tolist()]
    item_code.scatter(rows("unknown_sku"), pl.Series(unknown, dtype=pl.String))
    details["unknown_sku"] = [f"item_code {code} is not in products" for code in unknown]

    shift = pl.Series(values_of.get("future_date", _NO_ROWS) * 86_400_000_000).cast(
        pl.Duration("us")
    )
    future = ordered_at.gather(rows("future_date")) + shift
    ordered_at.scatter(rows("future_date"), future)
    details["future_date"] = [f"order_datetime {t:%Y-%m-%d %H:%M:%S}" for t in future.to_list()]

    promo_code.scatter(rows("broken_encoding"), BROKEN_PROMO_CODE)
    details["broken_encoding"] = ["promo_code has the Latin-1 byte 0xE9 (not UTF-8)"] * len(
        rows("broken_encoding")
    )
    details["duplicate_key"] = ["exact copy of the row before"] * len(rows("duplicate_key"))
    return frame.with_columns(item_code, qty, promo_code, ordered_at), details


def inject_customer_defects(
    frame: pl.DataFrame,
    dormant: np.ndarray,
    *,
    rate: float,
    file: str,
    log: DefectLog,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Malformed emails anywhere; empty customer numbers only on dormant customers, which no
    sale or ticket refers to (so the missing key breaks no other row)."""
    if rate <= 0 or frame.height == 0:
        return frame
    count = max(len(CUSTOMER_DEFECT_KINDS), round(rate * frame.height))
    dormant_rows = np.flatnonzero(dormant)
    null_rows = np.sort(
        rng.choice(dormant_rows, size=min(count // 2, len(dormant_rows)), replace=False)
    )
    others = np.setdiff1d(np.arange(frame.height), null_rows)
    email_rows = np.sort(
        rng.choice(others, size=min(count - len(null_rows), len(others)), replace=False)
    )

    emails = frame["email"].gather(email_rows)
    local = emails.str.split("@").list.first()
    domain = emails.str.split("@").list.last()
    variant = pl.Series(np.arange(len(email_rows)) % 4)
    broken = pl.select(
        pl.when(variant == 0)
        .then(emails.str.replace("@", ".", literal=True))  # jane.doe.example.com
        .when(variant == 1)
        .then("@" + domain)  # @example.com
        .when(variant == 2)
        .then(local + "@")  # jane.doe@
        .otherwise(local + "@" + domain.str.split(".").list.first())  # jane.doe@example
    ).to_series()
    email = frame["email"].clone().scatter(email_rows, broken)
    customer_no = frame["customer_no"].clone().scatter(null_rows, "")
    log.add("malformed_email", file, email_rows + 1, [f"email {e!r}" for e in broken.to_list()])
    log.add("null_key", file, null_rows + 1, ["customer_no is empty"] * len(null_rows))
    return frame.with_columns(customer_no, email)


def inject_ticket_defects(
    frame: pl.DataFrame,
    *,
    rate: float,
    file: str,
    log: DefectLog,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Tickets exported without their ticket_id (null), about `rate` of them. No minimum per file:
    at small volumes (a tiny month holds a dozen tickets) a forced one would be far above the
    rate and trip the quarantine-share gate the rate is meant to stay under."""
    if rate <= 0 or frame.height == 0:
        return frame
    count = int(rng.binomial(frame.height, rate))
    if count == 0:
        return frame
    rows = np.sort(rng.choice(frame.height, size=count, replace=False))
    ticket_id = frame["ticket_id"].clone().scatter(rows, None)
    log.add("null_key", file, rows + 1, ["ticket_id is null"] * len(rows))
    return frame.with_columns(ticket_id)
