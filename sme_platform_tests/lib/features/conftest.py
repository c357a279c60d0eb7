"""A tiny warehouse with the tables the feature store reads, filled by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from sme_platform.lib.warehouse import connect

DAY0 = date(2025, 1, 1)


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
