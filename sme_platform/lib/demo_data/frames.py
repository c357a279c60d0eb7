"""Turning the simulation's number arrays into the export tables, column names as exported."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import polars as pl
import pyarrow as pa

from sme_platform.lib.demo_data.sales import SalesLines

SALES_COLUMNS = (
    "order_no", "line_no", "order_datetime", "store_code", "customer_no", "item_code", "qty",
    "unit_price", "discount_pct", "promo_code", "doc_type",
)  # fmt: skip
INVENTORY_COLUMNS = ("snapshot_date", "store_code", "item_code", "on_hand", "on_order")


def sales_frame(
    days: list[tuple[date, SalesLines]],
    location_codes: pl.Series,
    item_codes: pl.Series,
    customer_codes: pl.Series,
) -> pl.DataFrame:
    """The sales rows of several consecutive days, in file order, day after day.

    Several days are formatted at once because the per-call overhead of the table library would
    otherwise dominate at small scales.
    """
    first_day = days[0][0]
    day_offset = np.concatenate(
        [np.full(len(lines), (day - first_day).days, dtype=np.int64) for day, lines in days]
    )

    def column(name: str) -> np.ndarray:
        return np.concatenate([getattr(lines, name) for _, lines in days])

    customer = column("customer")
    promo_month = pl.col("promo_month")
    day_start = pl.lit(datetime(first_day.year, first_day.month, first_day.day))
    return pl.DataFrame(
        {
            "is_return": column("is_return"),
            "day": day_offset,
            "seq": column("order_seq"),
            "line_no": column("line_no").astype(np.int64),
            "seconds": column("seconds").astype(np.int64),
            "store_code": location_codes.gather(column("location")),
            "customer_no": customer_codes.gather(np.maximum(customer, 0)),
            "anonymous": customer < 0,
            "item_code": item_codes.gather(column("sku")),
            "qty": column("qty").astype(np.int64),
            "cents": column("unit_cents").astype(np.int64),
            "discount_pct": column("discount_pct").astype(np.float64),
            "promo_month": column("promo_month"),
        }
    ).select(
        order_no=pl.when(pl.col("is_return")).then(pl.lit("RT-")).otherwise(pl.lit("SO-"))
        + (day_start + pl.duration(days=pl.col("day"))).dt.strftime("%Y%m%d-")
        + pl.col("seq").cast(pl.String).str.zfill(6),
        line_no="line_no",
        order_datetime=day_start + pl.duration(days=pl.col("day"), seconds=pl.col("seconds")),
        store_code="store_code",
        customer_no=pl.when(~pl.col("anonymous")).then(pl.col("customer_no")),
        item_code="item_code",
        qty="qty",
        unit_price=pl.col("cents") / 100,
        discount_pct="discount_pct",
        promo_code=pl.when(promo_month >= 0).then(
            "PROMO-"
            + (promo_month // 100).cast(pl.String)
            + "-"
            + (promo_month % 100).cast(pl.String).str.zfill(2)
        ),
        doc_type=pl.when(pl.col("is_return")).then(pl.lit("RETURN")).otherwise(pl.lit("SALE")),
    )


class InventorySnapshots:
    """Builds the daily inventory table.

    Built with pyarrow from raw buffers: at small scales the per-call overhead of a table
    library dominates, and `pyarrow.array` would import pandas. The code columns are kept between
    days and rebuilt only when the set of stocked pairs changes (a launch, a discontinuation, a
    store opening).
    """

    def __init__(self, pair_store_codes: pl.Series, pair_item_codes: pl.Series):
        self._pair_store_codes = pair_store_codes
        self._pair_item_codes = pair_item_codes
        self._stocked: np.ndarray | None = None
        self._codes: tuple[pa.Array, pa.Array] | None = None

    def table(
        self, day: date, stocked: np.ndarray, on_hand: np.ndarray, on_order: np.ndarray
    ) -> pa.Table:
        if self._codes is None or not np.array_equal(stocked, self._stocked):
            self._stocked = stocked
            self._codes = (
                self._pair_store_codes.gather(stocked).to_arrow().cast(pa.string()),
                self._pair_item_codes.gather(stocked).to_arrow().cast(pa.string()),
            )
        rows = len(stocked)
        days_since_epoch = (day - date(1970, 1, 1)).days
        return pa.Table.from_arrays(
            [
                _fixed_width(pa.date32(), np.full(rows, days_since_epoch, dtype=np.int32)),
                *self._codes,
                _fixed_width(pa.int32(), on_hand[stocked].astype(np.int32)),
                _fixed_width(pa.int32(), on_order[stocked].astype(np.int32)),
            ],
            names=list(INVENTORY_COLUMNS),
        )


def _fixed_width(arrow_type: pa.DataType, values: np.ndarray) -> pa.Array:
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(arrow_type, len(values), [None, pa.py_buffer(values)])
