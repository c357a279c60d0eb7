"""The live ROI's money per origin, kept between nights.

Every night the live ROI prices the newest MAX_ORIGINS origins (lib/monitoring/live_roi), and
seven of every eight were priced the night before: on the long-tail shape (59,870 series, 8
origins) refitting ADIDA and Croston alone took 61 s of a nightly run of about 50 s. An
origin's money depends only on what the served version forecast there, the sales and stock-outs
of the peers' history and the simulated days (PEER_HISTORY_DAYS before the origin to the end of
its order cycle), the safety stock recorded with the versions, the business assumptions and
this code. Their fingerprint is the origin's stamp: a night whose stamp matches reuses the
money, any change (a late or replaced file in that window, a republished forecast, another
service level, a code change) prices the origin again.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import polars as pl

from sme_platform.lib.code_version import closure_hash
from sme_platform.lib.features.events import stocked_out_days
from sme_platform.lib.monitoring.tables import append_rows
from sme_platform.lib.warehouse import table_exists, transaction

ORIGIN_COSTS_TABLE = "monitoring.live_roi_origins"
# The served frame's columns whose values decide the money.
SERVED_COLUMNS = (
    "sku",
    "location_id",
    "category",
    "target_date",
    "horizon",
    "actual",
    "censored",
    "prediction",
    "low",
    "high",
    "unit_price",
    "unit_cost",
)


def code_version() -> str:
    """The live ROI, the simulation and the peers, with what they import."""
    from sme_platform.lib.monitoring import live_roi

    return closure_hash(
        live_roi,
        sys.modules[__name__],
        within=("sme_platform.lib.monitoring", "sme_platform.lib.training"),
    )


def origin_stamp(
    con: duckdb.DuckDBPyConnection,
    served: pl.DataFrame,
    origin: date,
    first_day: date,
    last_day: date,
    settings: dict[str, Any],
) -> str:
    """The fingerprint of everything the money of `served` (one version's rows at `origin`)
    depends on: its rows, the sales and stock-outs of [first_day, last_day], `settings`."""
    con.register("_served_at_origin", served.select(SERVED_COLUMNS).to_arrow())
    try:
        rows = con.execute(
            f"""select count(*), coalesce(sum(hash({", ".join(SERVED_COLUMNS)})), 0)::varchar
                from _served_at_origin"""
        ).fetchone()
    finally:
        con.unregister("_served_at_origin")
    window = [first_day, last_day]
    sales = con.execute(
        """select count(*), coalesce(sum(hash(sku, location_id, order_date, quantity)), 0)::varchar
           from staging.sales_lines where order_date between ? and ?""",
        window,
    ).fetchone()
    stock_outs = con.execute(
        f"""select count(*), coalesce(sum(hash(sku, location_id, date)), 0)::varchar
            from ({stocked_out_days(con)}) where date between ? and ?""",
        window,
    ).fetchone()
    text = json.dumps(
        {
            "origin": str(origin),
            "rows": list(rows),
            "sales": list(sales),
            "stock_outs": list(stock_outs),
            **settings,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def cached_costs(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    version: str,
    origin: date,
    stamp: str,
    methods: tuple[str, ...],
) -> dict[str, float] | None:
    """The money of every method in `methods` at `origin`, when priced with this stamp."""
    if not table_exists(con, "monitoring", "live_roi_origins"):
        return None
    rows = con.execute(
        f"""select method, cost from {ORIGIN_COSTS_TABLE}
            where model_name = ? and model_version = ? and origin_date = ? and stamp = ?""",
        [model_name, version, origin, stamp],
    ).fetchall()
    costs = dict(rows)
    return costs if set(methods) <= set(costs) else None


def store_costs(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    version: str,
    origin: date,
    stamp: str,
    costs: dict[str, float],
) -> None:
    """Replace the origin's money: the newest pricing of an origin is the one kept."""
    frame = pl.DataFrame(
        {
            "model_name": model_name,
            "model_version": version,
            "origin_date": [origin] * len(costs),
            "stamp": stamp,
            "method": list(costs),
            "cost": [float(value) for value in costs.values()],
            "priced_at": datetime.now(UTC).replace(tzinfo=None),
        },
        schema={
            "model_name": pl.String(),
            "model_version": pl.String(),
            "origin_date": pl.Date(),
            "stamp": pl.String(),
            "method": pl.String(),
            "cost": pl.Float64(),
            "priced_at": pl.Datetime("us"),
        },
    )
    with transaction(con):
        if table_exists(con, "monitoring", "live_roi_origins"):
            con.execute(
                f"""delete from {ORIGIN_COSTS_TABLE}
                    where model_name = ? and model_version = ? and origin_date = ?""",
                [model_name, version, origin],
            )
        append_rows(con, ORIGIN_COSTS_TABLE, frame)


def stamp_window(origin: date, history_days: int, days: int) -> tuple[date, date]:
    """The days an origin's money reads: its peers' history and its order cycle."""
    return origin - timedelta(days=history_days), origin + timedelta(days=days - 1)
