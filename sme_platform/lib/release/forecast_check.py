"""The published forecasts' check: complete, non-negative, intervals the right way round.

A forecast may lie outside its own interval: the interval is the actuals' range measured on
the backtest, and where a model under-forecast most days even its lower bound is above it."""

from __future__ import annotations

import duckdb

from sme_platform.lib.governance import CheckOutcome
from sme_platform.lib.release.forecasts import FORECAST_TABLE


def forecast_complete(
    con: duckdb.DuckDBPyConnection, feature_set_version: str, rows: int
) -> CheckOutcome:
    expected_series, horizons, duplicates, negative, outside, missing = con.execute(
        f"""
        with expected as (
            select distinct sku, location_id from features.demand_features
            where feature_set_version = $version and for_scoring
        ),
        published as (select * from {FORECAST_TABLE})
        select
            (select count(*) from expected),
            (select count(distinct horizon) from published),
            (select count(*) - count(distinct (sku, location_id, date)) from published),
            (select count(*) from published where prediction < 0 or interval_low < 0),
            (select count(*) from published where interval_low > interval_high),
            (select count(*) from expected anti join published using (sku, location_id))
        """,
        {"version": feature_set_version},
    ).fetchone()
    problems = {
        "series_without_forecast": missing,
        "duplicate_rows": duplicates,
        "negative_values": negative,
        "interval_low_above_high": outside,
    }
    failing = {k: v for k, v in problems.items() if v}
    return CheckOutcome(
        "forecast_complete",
        not failing,
        "error",
        f"{rows:,} rows for {expected_series:,} series x {horizons} horizons"
        + (f"; problems: {failing}" if failing else ": complete"),
        {"rows": rows, "series": expected_series, **problems},
    )
