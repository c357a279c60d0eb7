"""Expanding a stored feature set into model rows: the price in force on a target day is one
price, whatever order the warehouse happens to hold the plan's rows in."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from sme_platform.lib.features.demand import ORIGIN_FEATURE_COLUMNS
from sme_platform.lib.training.frames import expand

VERSION = "fs-1"
ORIGIN = date(2025, 3, 3)


def warehouse(plan_rows) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema features")
    numeric = ", ".join(f"1.0::double as {c}" for c in ORIGIN_FEATURE_COLUMNS if c != "list_price")
    con.execute(
        f"""create table features.demand_features as
            select '{VERSION}' as feature_set_version, 'A' as sku, 'L1' as location_id,
                   date '{ORIGIN}' as origin_date, true as for_training, null::varchar as fold,
                   false as for_scoring, 'dairy' as category, 'store' as location_type,
                   12.0::double as list_price, {numeric}"""
    )
    con.execute("update features.demand_features set realized_price_91 = 10.0, unit_cost = 6.0")
    con.execute(
        """create table features.demand_targets (feature_set_version varchar, sku varchar,
           location_id varchar, date date, units double, censored boolean)"""
    )
    con.execute(
        """create table features.price_plan (feature_set_version varchar, sku varchar,
           valid_from date, price_type varchar, unit_price double)"""
    )
    for row in plan_rows:
        con.execute("insert into features.price_plan values (?, ?, ?, ?, ?)", [VERSION, *row])
    return con


@pytest.mark.parametrize("promo_first", [True, False])
def test_a_promotion_starting_the_day_a_new_list_price_starts_is_the_price_in_force(promo_first):
    starts = date(2025, 3, 5)  # horizon 3
    rows = [("A", starts, "list", 12.0), ("A", starts, "promo", 9.0)]
    plan = [("A", date(2025, 1, 1), "list", 10.0), *(rows[::-1] if promo_first else rows)]
    frame = expand(warehouse(plan), VERSION, "for_training", 4, []).sort("horizon")
    # Days 1-2: the old list price (10 / realized 10); from day 3 the promotion (9 / 10), 25 %
    # below the list price that starts with it.
    assert frame["price_ratio"].to_list() == pytest.approx([1.0, 1.0, 0.9, 0.9])
    assert frame["promo_planned"].to_list() == [0, 0, 1, 1]
    assert frame["planned_discount"].to_list() == pytest.approx([0.0, 0.0, 0.25, 0.25])
