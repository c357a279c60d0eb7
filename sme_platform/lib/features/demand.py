"""The demand feature set: what was known about a series before an origin, one row per origin.

Computed inside DuckDB from the sparse events (a day without an event sold nothing), with a
range join bounded by `LOOKBACK_DAYS` and by `known_on <= origin`, so a feature can only see
rows known before its origin (events.py says when a row became known). Averages leave
censored days (stocked out, nothing sold) out of their denominators: those zeros are not demand.

Target-day features (calendar, holidays, price on the day, the same weekday's history) are added
per horizon when a frame is expanded (lib/training/frames.py), from the columns here.
"""

from __future__ import annotations

import sys

import duckdb

from sme_platform.lib.code_version import imported_modules, modules_hash
from sme_platform.lib.features.events import EVENTS_TABLE
from sme_platform.lib.features.optional_inputs import optional_relation
from sme_platform.lib.features.origins import ORIGINS_TABLE

FEATURE_SET = "demand_features"
LOOKBACK_DAYS = 182
ORIGIN_FEATURES_TABLE = "_origin_features"
LAGS = range(1, 8)
WINDOWS = (7, 28, 91, 182)
# The SKU's sales per selling location across every location: the level a rarely selling
# series' own history is too short to show (most pairs of a long-tail catalogue).
SKU_WINDOWS = (28, 91)
SKU_LEVEL_COLUMNS = [*[f"sku_mean_{w}" for w in SKU_WINDOWS], "sku_locations_182"]

# The numeric features of an origin row (the model's inputs, with those added per horizon).
ORIGIN_FEATURE_COLUMNS = [
    *[f"lag_{k}" for k in LAGS],
    *[f"mean_{w}" for w in WINDOWS],
    "std_28",
    "max_28",
    "nonzero_share_28",
    "nonzero_share_182",
    "censored_days_28",
    "days_since_last_sale",
    *[f"weekday_mean_28_{d}" for d in range(7)],
    "promo_share_28",
    "realized_price_91",
    "list_price",
    "unit_cost",
    *SKU_LEVEL_COLUMNS,
]
CATEGORICAL_COLUMNS = ["category", "location_id", "location_type"]


def _window_sums() -> str:
    parts = []
    for w in WINDOWS:
        parts.append(
            f"coalesce(sum(units) filter (where age <= {w}), 0) as units_{w}, "
            f"count(*) filter (where censored and age <= {w}) as censored_{w}"
        )
    parts += [f"coalesce(sum(units) filter (where age = {k}), 0) as lag_{k}" for k in LAGS]
    parts += [
        f"coalesce(sum(units) filter (where age <= 28 and dayofweek(date) = {d}), 0) "
        f"as weekday_units_28_{d}, count(*) filter (where censored and age <= 28 and "
        f"dayofweek(date) = {d}) as weekday_censored_28_{d}"
        for d in range(7)
    ]
    return ",\n".join(parts)


def _sku_window_sums() -> str:
    return ",\n".join(
        f"coalesce(sum(d.units) filter "
        f"(where date_diff('day', d.date, sku_origins.origin_date) <= {w}), 0) "
        f"as sku_units_{w}"
        for w in SKU_WINDOWS
    )


def _sku_means() -> str:
    return ", ".join(
        f"s.sku_units_{w} / greatest(s.sku_locations_182, 1) / {w} as sku_mean_{w}"
        for w in SKU_WINDOWS
    )


def _means() -> str:
    parts = [f"units_{w} / greatest({w} - censored_{w}, 1) as mean_{w}" for w in WINDOWS]
    parts += [
        f"weekday_units_28_{d} / greatest(4 - weekday_censored_28_{d}, 1) as weekday_mean_28_{d}"
        for d in range(7)
    ]
    return ",\n".join(parts)


def build_origin_features(con: duckdb.DuckDBPyConnection) -> int:
    """Create `_origin_features`: one row per row of `_feature_origins`, with the features of
    ORIGIN_FEATURE_COLUMNS and the series' attributes. Returns the row count."""
    products = optional_relation(
        con,
        "products",
        "select sku, coalesce(category, 'unknown') as category, unit_cost::double as unit_cost "
        "from staging.products",
        {"sku": "varchar", "category": "varchar", "unit_cost": "double"},
    )
    locations = optional_relation(
        con,
        "locations",
        "select location_id, coalesce(location_type, 'unknown') as location_type "
        "from staging.locations",
        {"location_id": "varchar", "location_type": "varchar"},
    )
    list_prices = optional_relation(
        con,
        "prices",
        "select sku, valid_from, unit_price::double as unit_price "
        "from staging.prices where price_type = 'list'",
        {"sku": "varchar", "valid_from": "date", "unit_price": "double"},
    )
    con.execute(
        f"""
        create or replace temp table {ORIGIN_FEATURES_TABLE} as
        with joined as (
            select
                origins.sku, origins.location_id, origins.origin_date,
                events.date, events.units, events.revenue, events.promo_units, events.censored,
                date_diff('day', events.date, origins.origin_date) as age
            from {ORIGINS_TABLE} as origins
            left join {EVENTS_TABLE} as events
                on events.sku = origins.sku
                and events.location_id = origins.location_id
                and events.date < origins.origin_date
                and events.date >= origins.origin_date - {LOOKBACK_DAYS}
                and events.known_on <= origins.origin_date
        ),
        sums as (
            select
                sku, location_id, origin_date,
                {_window_sums()},
                coalesce(sum(units * units) filter (where age <= 28), 0) as squares_28,
                coalesce(max(units) filter (where age <= 28), 0) as max_28,
                count(distinct date) filter (where units > 0 and age <= 28) as sale_days_28,
                count(distinct date) filter (where units > 0) as sale_days_182,
                coalesce(min(age) filter (where units > 0), {LOOKBACK_DAYS + 1})
                    as days_since_last_sale,
                coalesce(sum(promo_units) filter (where age <= 28), 0) as promo_units_28,
                sum(revenue) filter (where age <= 91 and units > 0)
                    / nullif(sum(units) filter (where age <= 91 and units > 0), 0)
                    as realized_price_91
            from joined
            group by all
        ),
        with_means as (
            select *, {_means()}
            from sums
        ),
        sku_levels as (
            select
                sku_origins.sku, sku_origins.origin_date,
                {_sku_window_sums()},
                count(distinct d.location_id) as sku_locations_182
            from (select distinct sku, origin_date from {ORIGINS_TABLE}) as sku_origins
            left join {EVENTS_TABLE} as d
                on d.sku = sku_origins.sku
                and d.units > 0
                and d.date < sku_origins.origin_date
                and d.date >= sku_origins.origin_date - {LOOKBACK_DAYS}
                and d.known_on <= sku_origins.origin_date
            group by all
        ),
        products as ({products}),
        locations as ({locations}),
        list_prices as ({list_prices})
        select
            f.sku, f.location_id, f.origin_date,
            {", ".join(f"f.lag_{k}" for k in LAGS)},
            {", ".join(f"f.mean_{w}" for w in WINDOWS)},
            sqrt(greatest(
                f.squares_28 / greatest(28 - f.censored_28, 1) - f.mean_28 * f.mean_28, 0
            )) as std_28,
            f.max_28,
            f.sale_days_28 / greatest(28 - f.censored_28, 1) as nonzero_share_28,
            f.sale_days_182 / greatest(182 - f.censored_182, 1) as nonzero_share_182,
            f.censored_28 as censored_days_28,
            f.days_since_last_sale,
            {", ".join(f"f.weekday_mean_28_{d}" for d in range(7))},
            f.promo_units_28 / nullif(f.units_28, 0) as promo_share_28,
            f.realized_price_91,
            (select any_value(p.unit_price order by p.valid_from desc) from list_prices as p
             where p.sku = f.sku and p.valid_from < f.origin_date) as list_price,
            products.unit_cost,
            {_sku_means()},
            s.sku_locations_182,
            coalesce(products.category, 'unknown') as category,
            coalesce(locations.location_type, 'unknown') as location_type,
            o.for_training, o.fold, o.for_scoring
        from with_means as f
        join {ORIGINS_TABLE} as o using (sku, location_id, origin_date)
        join sku_levels as s using (sku, origin_date)
        left join products using (sku)
        left join locations using (location_id)
        """
    )
    return con.execute(f"select count(*) from {ORIGIN_FEATURES_TABLE}").fetchone()[0]


def definition_modules() -> list:
    """This module and every module of the feature package it, the events, the origins and
    the store import (the optional inputs' SQL, the events' refresh, the settings): a helper
    left out of the hash would let a changed definition reuse a stored version."""
    from sme_platform.lib.features import events, origins, store

    return imported_modules(
        sys.modules[__name__], events, origins, store, within="sme_platform.lib.features"
    )


def definition_hash() -> str:
    """Hash of the code that defines the feature set: part of the feature set version, so a
    changed definition is a new version."""
    return modules_hash(*definition_modules())
