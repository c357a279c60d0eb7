"""A tiny warehouse with the tables the feature store reads, filled by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import polars as pl
import pytest

from sme_platform.lib.features.events import EVENTS_TABLE
from sme_platform.lib.warehouse import connect

DAY0 = date(2025, 1, 1)


def events_only(rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    """A database holding only features.demand_events, of (sku, location_id, date, known_on,
    units) rows: what the origin plan reads."""
    con = duckdb.connect()
    con.execute("create schema features")
    con.execute(
        f"""create table {EVENTS_TABLE} (sku varchar, location_id varchar, date date,
            known_on date, units double)"""
    )
    frame = pl.DataFrame(  # noqa: F841 (read by name in the query below)
        rows,
        schema={
            "sku": pl.Utf8,
            "location_id": pl.Utf8,
            "date": pl.Date,
            "known_on": pl.Date,
            "units": pl.Float64,
        },
        orient="row",
    )
    con.execute(f"insert into {EVENTS_TABLE} select * from frame")
    return con


class TinyWarehouse:
    def __init__(self, con):
        self.con = con
        con.execute("create schema raw; create schema staging")
        con.execute(
            """create table raw.file_loads (table_name varchar, load_id varchar, run_id varchar,
               source_file varchar, sha256 varchar, status varchar, loaded_at timestamp)"""
        )
        con.execute(
            """create table staging.sales_lines (sku varchar, location_id varchar,
               order_date date, quantity double, net_amount double, on_promotion boolean,
               _source_file varchar)"""
        )

    def load_file(self, run: int, path: str, lines: list[tuple]) -> None:
        """`lines`: (sku, location_id, day offset from DAY0, quantity). Run n loads on day n."""
        loaded_at = datetime(2025, 6, 1) + timedelta(days=run)
        self.con.execute(
            "insert into raw.file_loads values ('sales_lines', ?, ?, ?, ?, 'loaded', ?)",
            [f"load-{run}", f"run-{run}", path, f"sha-{path}-{run}", loaded_at],
        )
        for sku, location, offset, quantity in lines:
            self.con.execute(
                "insert into staging.sales_lines values (?, ?, ?, ?, ?, false, ?)",
                [sku, location, DAY0 + timedelta(days=offset), quantity, quantity * 2.0, path],
            )


@pytest.fixture
def tiny_warehouse(tmp_path):
    with connect(tmp_path / "warehouse.duckdb") as con:
        yield TinyWarehouse(con)
