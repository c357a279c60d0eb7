"""The feature set's value check: the rows a model will read are complete and in range."""

from __future__ import annotations

import duckdb

from sme_platform.lib.features.demand import ORIGIN_FEATURE_COLUMNS

# Features that may be missing: no price known, no cost known, nothing sold to share promotions of.
MAY_BE_NULL = {"list_price", "unit_cost", "promo_share_28", "realized_price_91"}


def feature_value_problems(con: duckdb.DuckDBPyConnection, version: str) -> dict[str, int]:
    """Counts of rows breaking each rule (empty: all good): required features null, negative
    values, shares outside 0..1, duplicate keys."""
    required = [c for c in ORIGIN_FEATURE_COLUMNS if c not in MAY_BE_NULL]
    rules = {
        "required_feature_null": " or ".join(f"{c} is null" for c in required),
        "negative_value": " or ".join(f"{c} < 0" for c in ORIGIN_FEATURE_COLUMNS),
        "share_outside_0_1": " or ".join(
            f"{c} not between 0 and 1"
            for c in ("nonzero_share_28", "nonzero_share_182", "promo_share_28")
        ),
    }
    counts = con.execute(
        "select "
        + ", ".join(f"count(*) filter (where {sql})" for sql in rules.values())
        + ", count(*) - count(distinct (sku, location_id, origin_date))"
        + " from features.demand_features where feature_set_version = $version",
        {"version": version},
    ).fetchone()
    names = [*rules, "duplicate_series_origin"]
    return {name: n for name, n in zip(names, counts, strict=True) if n}
