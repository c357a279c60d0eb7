"""Model frames: a stored feature set version expanded to one row per origin and horizon.

Rebuilt from the warehouse's `features` tables alone, so any stored version gives back the exact
rows a model learned from and was judged on. Target-day features are added here: the horizon,
the target's weekday, month and day, whether it is a public holiday, the same weekday's history
as known at the origin (its latest value and its four-week mean), and the price in force that
day from the company's price plan (the prices source: list prices and promotions are decided
ahead, so a forecast may use them), relative to the series' recent realized price, with the
promotion flag and its discount. Without a prices source the price is the last realized one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import duckdb
import holidays
import polars as pl

from sme_platform.lib.features.demand import CATEGORICAL_COLUMNS, ORIGIN_FEATURE_COLUMNS
from sme_platform.lib.features.holiday_countries import country_code

TARGET_FEATURE_COLUMNS = [
    "horizon",
    "target_weekday",
    "target_month",
    "target_day",
    "is_holiday",
    "same_weekday_last",
    "same_weekday_mean_28",
    "price_ratio",
    "promo_planned",
    "planned_discount",
]
FEATURE_COLUMNS = [*ORIGIN_FEATURE_COLUMNS, *TARGET_FEATURE_COLUMNS]
KEY_COLUMNS = ["sku", "location_id", "origin_date", "target_date", "horizon"]


def holiday_dates(country: str | None, years: Iterable[int]) -> list[date]:
    """Public holidays of `country` (ISO code or English name) from the `holidays` package,
    offline; none when the country is not given or unknown to it (a configured unknown country
    is refused when forecasting.yaml is read: lib/features/holiday_countries)."""
    code = country_code(country)
    if code is None:
        return []
    return sorted(holidays.country_holidays(code, years=list(years)))


def holiday_country(con: duckdb.DuckDBPyConnection, configured: str | None) -> str | None:
    """The configured country, else the most common country among the locations, as its ISO
    code when the holidays package knows it (a locations export may hold "United Kingdom")."""
    if configured:
        return country_code(configured) or configured
    try:
        row = con.execute(
            "select mode(country) from staging.locations where country is not null"
        ).fetchone()
    except duckdb.CatalogException:
        return None
    found = row[0] if row else None
    return country_code(found) or found


def expand(
    con: duckdb.DuckDBPyConnection,
    version: str,
    where: str,
    horizon_days: int,
    holidays_on: list[date],
) -> pl.DataFrame:
    """One row per feature row of `version` matching `where` (SQL over its columns) and horizon
    1..horizon_days, with the target-day features, the actual units and the censored flag."""
    weekday_last = " ".join(f"when {7 - k} then f.lag_{7 - k}" for k in range(7))
    weekday_mean = " ".join(f"when {d} then f.weekday_mean_28_{d}" for d in range(7))
    return con.execute(
        f"""
        with f as (
            select * from features.demand_features
            where feature_set_version = $version and ({where})
        ),
        expanded as (
            select f.*, h.horizon, (f.origin_date + (h.horizon - 1)::integer) as target_date
            from f cross join (select range::integer as horizon from range(1, $horizon + 1)) as h
        ),
        plan as (
            -- One price in force per SKU and day: a promotion starting the day a new list
            -- price starts wins (the list price is what its discount is measured against).
            -- Without this rule the as-of join took whichever row the table held first, and
            -- two warehouses holding the same rows trained different models.
            select sku, valid_from, price_type, unit_price from features.price_plan
            where feature_set_version = $version
            qualify row_number() over (
                partition by sku, valid_from order by price_type = 'promo' desc, unit_price
            ) = 1
        ),
        list_plan as (
            select sku, valid_from, price_type, unit_price from features.price_plan
            where feature_set_version = $version and price_type = 'list'
            qualify row_number() over (partition by sku, valid_from order by unit_price) = 1
        ),
        priced as (
            select expanded.*, in_force.unit_price as planned_price,
                   in_force.price_type = 'promo' as planned_promo,
                   listed.unit_price as planned_list_price
            from expanded
            asof left join plan as in_force
                on in_force.sku = expanded.sku and in_force.valid_from <= expanded.target_date
            asof left join list_plan as listed
                on listed.sku = expanded.sku and listed.valid_from <= expanded.target_date
        )
        select
            f.* exclude (planned_price, planned_promo, planned_list_price),
            dayofweek(f.target_date) as target_weekday,
            month(f.target_date) as target_month,
            day(f.target_date) as target_day,
            (f.target_date in (select unnest($holidays::date[]))) ::int as is_holiday,
            case 7 - ((f.horizon - 1) % 7) {weekday_last} end as same_weekday_last,
            case dayofweek(f.target_date) {weekday_mean} end as same_weekday_mean_28,
            coalesce(f.planned_price, f.list_price, f.realized_price_91)
                / nullif(f.realized_price_91, 0) as price_ratio,
            coalesce(f.planned_promo, false)::int as promo_planned,
            coalesce(1 - f.planned_price / nullif(f.planned_list_price, 0), 0) as planned_discount,
            coalesce(t.units, 0) as actual,
            coalesce(t.censored, false) as censored
        from priced as f
        left join features.demand_targets as t
            on t.feature_set_version = $version
            and t.sku = f.sku and t.location_id = f.location_id and t.date = f.target_date
        order by f.sku, f.location_id, f.origin_date, f.horizon
        """,
        {"version": version, "horizon": horizon_days, "holidays": holidays_on},
    ).pl()


def categorical_codes(frame: pl.DataFrame, mapping: dict[str, list[str]] | None = None):
    """Integer codes for the categorical columns, from `mapping` (the trained model's) or from the
    frame's sorted values; an unseen value is -1, which LightGBM treats as missing."""
    mapping = mapping or {
        c: sorted(v for v in frame[c].unique().to_list() if v is not None)
        for c in CATEGORICAL_COLUMNS
        if c not in IDENTIFYING_COLUMNS
    }
    coded = frame.with_columns(
        pl.col(c)
        .replace_strict(values, list(range(len(values))), default=-1, return_dtype=pl.Int32)
        .alias(f"{c}_code")
        for c, values in mapping.items()
    )
    return coded, mapping


# Levels that name a series rather than describe its demand (its price, its cost, its store)
# are kept for intervals and money but not learned from: with them a model trained on a sample
# of series memorized those series and forecast the others too low. The price enters as a
# ratio to the series' own recent price; the location as its type.
IDENTIFYING_COLUMNS = {"list_price", "realized_price_91", "unit_cost", "location_id"}
MODEL_INPUTS = [
    *[c for c in FEATURE_COLUMNS if c not in IDENTIFYING_COLUMNS],
    *[f"{c}_code" for c in CATEGORICAL_COLUMNS if c not in IDENTIFYING_COLUMNS],
]
