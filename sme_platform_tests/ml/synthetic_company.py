"""A small company's sales, written straight into the tables the forecasting stages read, with
a demand pattern chosen by the test: weekly rhythm and planned promotions a model can learn, or
plain noise that no method can beat the baselines on."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from sme_platform.lib.warehouse import connect

START = date(2024, 1, 1)
SKUS = [f"SKU-{i}" for i in range(4)]
LOCATIONS = ["L1", "L2", "L3"]
WEEKDAY_FACTOR = [0.6, 0.6, 0.7, 0.8, 1.2, 2.2, 2.4]  # Monday .. Sunday


def promotion_days(sku_index: int, days: int) -> set[int]:
    """Every 23 days a 5-day promotion, shifted per SKU."""
    return {d for d in range(days) if (d + 7 * sku_index) % 23 < 5}


def write_company(
    project: Path, days: int, pattern: str, seed: int = 7, with_price_plan: bool = True
) -> None:
    """`pattern`: "learnable" (weekly rhythm x4 on promotions announced in the price plan) or
    "noise" (the same Poisson rate every day). Without the price plan the promotions still
    happen, unannounced: a model cannot see them coming."""
    rng = np.random.default_rng(seed)
    rows = []
    for s, sku in enumerate(SKUS):
        promos = promotion_days(s, days) if pattern == "learnable" else set()
        for location in LOCATIONS:
            for d in range(days):
                day = START + timedelta(days=d)
                rate = 2.0
                if pattern == "learnable":
                    rate *= WEEKDAY_FACTOR[day.weekday()] * (4.0 if d in promos else 1.0)
                quantity = int(rng.poisson(rate))
                if quantity:
                    rows.append((sku, location, day, float(quantity), d in promos))
    sales = pl.DataFrame(
        rows, schema=["sku", "location_id", "order_date", "quantity", "on_promotion"], orient="row"
    ).with_columns(
        (pl.col("quantity") * 10.0).alias("net_amount"),
        pl.format("sales_{}.csv", pl.col("order_date")).alias("_source_file"),
    )
    prices = []
    for s, sku in enumerate(SKUS):
        prices.append((sku, "list", START, 10.0))
        if pattern == "learnable":
            for d in sorted(promotion_days(s, days + 30)):
                if d - 1 not in promotion_days(s, days + 30):
                    prices.append((sku, "promo", START + timedelta(days=d), 7.0))
                if d + 1 not in promotion_days(s, days + 30):
                    prices.append((sku, "list", START + timedelta(days=d + 1), 10.0))
    files = sales.select(pl.col("_source_file").alias("source_file")).unique().sort("source_file")
    data = project / "data"
    data.mkdir(parents=True, exist_ok=True)
    # A bakery: what is not sold in a few days is lost, so stock costs far more than the 25 % a
    # year of durable goods, and ordering to an accurate forecast pays. Its 12 series swing with
    # unannounced promotions, so one 14-day holdout's bias is allowed up to 30 %, and a
    # location (four series) may cost up to half as much again as the reference's.
    (project / "forecasting.yaml").write_text(
        "business:\n  holding_cost_rate_per_year: 5.0\n"
        "gate:\n  max_abs_bias: 0.3\n  max_segment_regression: 0.5\n",
        encoding="utf-8",
    )
    with connect(data / "warehouse.duckdb") as con:
        for schema in ("raw", "staging"):
            con.execute(f"create schema if not exists {schema}")
        con.register("_sales", sales.to_arrow())
        con.execute("create or replace table staging.sales_lines as select * from _sales")
        con.register("_files", files.to_arrow())
        con.execute(
            "create or replace table raw.file_loads as select 'sales_lines' as table_name, "
            "'load-1' as load_id, 'run-1' as run_id, source_file, md5(source_file) as sha256, "
            "'loaded' as status, $at::timestamp as loaded_at from _files",
            {"at": datetime(2025, 3, 1)},
        )
        con.execute(
            "create or replace table staging.products as select unnest($skus) as sku, "
            "'Bakery' as category, 6.0 as unit_cost",
            {"skus": SKUS},
        )
        con.execute(
            "create or replace table staging.locations as select unnest($locations) as "
            "location_id, 'store' as location_type, null::varchar as country",
            {"locations": LOCATIONS},
        )
        if with_price_plan:
            _write_price_plan(con, prices)


def _write_price_plan(con, prices: list[tuple]) -> None:
    con.register(
        "_prices",
        pl.DataFrame(
            prices, schema=["sku", "price_type", "valid_from", "unit_price"], orient="row"
        ).to_arrow(),
    )
    con.execute("create or replace table staging.prices as select * from _prices")
    con.execute(
        "insert into raw.file_loads values ('prices', 'load-prices', 'run-prices', "
        "'prices.csv', md5(now()::varchar), 'loaded', now()::timestamp)"
    )


def add_price_plan(project: Path, days: int) -> None:
    """The company starts exporting its price plan (a new source: a new feature set version)."""
    other = project.parent / f"{project.name}_prices"
    write_company(other, days, "learnable")
    with connect(project / "data" / "warehouse.duckdb") as con:
        con.execute(f"attach '{other / 'data' / 'warehouse.duckdb'}' as plan (read_only)")
        con.execute("create or replace table staging.prices as select * from plan.staging.prices")
        con.execute(
            "insert into raw.file_loads select * from plan.raw.file_loads "
            "where table_name = 'prices'"
        )
        con.execute("detach plan")


def add_days(project: Path, first_day: int, days: int, pattern: str, run: int) -> None:
    """More days of sales, loaded by a later run (files named by day, like daily exports)."""
    other = project.parent / f"{project.name}_more_{run}"
    write_company(other, first_day + days, pattern)
    with connect(project / "data" / "warehouse.duckdb") as con:
        con.execute(f"attach '{other / 'data' / 'warehouse.duckdb'}' as more (read_only)")
        cutoff = START + timedelta(days=first_day)
        con.execute(
            "insert into staging.sales_lines select * from more.staging.sales_lines "
            "where order_date >= $cutoff",
            {"cutoff": cutoff},
        )
        con.execute(
            "insert into raw.file_loads select table_name, $load, $run, source_file, sha256, "
            "status, $at::timestamp from more.raw.file_loads "
            "where source_file not in (select source_file from raw.file_loads)",
            {"load": f"load-{run}", "run": f"run-{run}", "at": datetime(2025, 3, run)},
        )
        con.execute("detach more")
