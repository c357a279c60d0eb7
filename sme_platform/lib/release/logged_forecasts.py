"""Forecasts from ml.forecast_log as the reorder simulation takes them: each row with its
actual, whether the day was censored (stocked out, nothing sold), and the series' category,
price and cost from the feature rows the forecast was made from. The canary's money
(lib/release/canary_cost) and the live ROI (lib/monitoring/live_roi) both read them this way."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import polars as pl

from sme_platform.lib.features.events import actuals_ctes
from sme_platform.lib.training.history import FORECAST_SCHEMA, UNKNOWN_CATEGORY

FORECAST_LOG = "ml.forecast_log"


def one_per_review_period(origins: list[date], review_days: int) -> list[date]:
    """The origins an order was placed at, from sorted published ones: the first, then each
    at least a review period after the one before (a night's publication between two orders
    drove none)."""
    chosen: list[date] = []
    for origin in origins:
        if not chosen or (origin - chosen[-1]).days >= review_days:
            chosen.append(origin)
    return chosen


def simulation_frame(
    con: duckdb.DuckDBPyConnection, logged_sql: str, fold_prefix: str, parameters: dict[str, Any]
) -> pl.DataFrame:
    """`logged_sql` selects the log's rows (all its columns) with named `parameters`; the result
    is a forecast frame (FORECAST_SCHEMA), its model the version, its fold `fold_prefix` and the
    origin. A series without feature rows takes the assumed price and cost (as in the
    backtest)."""
    frame = con.execute(
        f"""
        with {actuals_ctes(con)},
        logged as ({logged_sql})
        select log.model_version as model, '{fold_prefix} ' || log.origin_date as fold,
               log.sku, log.location_id, f.category, log.origin_date,
               log.date as target_date, log.horizon,
               coalesce(a.units, 0) as actual, s.sku is not null and a.units is null as censored,
               log.prediction, log.interval_low as low, log.interval_high as high,
               coalesce(f.list_price, f.realized_price_91) as unit_price, f.unit_cost
        from logged as log
        left join actuals as a using (sku, location_id, date)
        left join stock_outs as s using (sku, location_id, date)
        left join features.demand_features as f
            on f.feature_set_version = log.feature_set_version and f.for_scoring
            and f.sku = log.sku and f.location_id = log.location_id
        """,
        parameters,
    ).pl()
    return frame.select(pl.col(c).cast(t) for c, t in FORECAST_SCHEMA.items()).with_columns(
        pl.col("category").fill_null(UNKNOWN_CATEGORY)
    )
