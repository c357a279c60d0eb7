"""Inputs a company may not have (products, locations, prices, inventory): a query over the
staging table when it exists, else the same columns with no rows, so the feature SQL reads the
same either way and the features those inputs give are simply empty (null)."""

from __future__ import annotations

import duckdb

from sme_platform.lib.warehouse import table_exists


def optional_relation(
    con: duckdb.DuckDBPyConnection, table: str, query: str, columns: dict[str, str]
) -> str:
    """`query` (over staging.`table`) if that table exists, else an empty relation with
    `columns` (name -> DuckDB type)."""
    if table_exists(con, "staging", table):
        return query
    typed = ", ".join(f"null::{kind} as {name}" for name, kind in columns.items())
    return f"select {typed} where false"
