"""Appending rows to the monitoring.* tables, whose columns grow as the platform does."""

from __future__ import annotations

import duckdb
import polars as pl


def append_rows(con: duckdb.DuckDBPyConnection, table: str, rows: pl.DataFrame) -> None:
    con.register("_monitoring_rows", rows.to_arrow())
    try:
        con.execute("create schema if not exists monitoring")
        con.execute(
            f"create table if not exists {table} as select * from _monitoring_rows where false"
        )
        # A table written by an earlier version gains the columns added since (null there).
        for name, kind, *_ in con.execute("describe _monitoring_rows").fetchall():
            con.execute(f'alter table {table} add column if not exists "{name}" {kind}')
        con.execute(f"insert into {table} by name select * from _monitoring_rows")
    finally:
        con.unregister("_monitoring_rows")
