"""Connections to the DuckDB warehouse and the tables every stage shares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from sme_platform.lib.canonical import CanonicalTable

# DuckDB draws a progress bar even when output is not a terminal; logs would fill with bars.
# It is a per-connection setting (DuckDB refuses it as a global config option).
SESSION_SETTINGS = ("set enable_progress_bar = false",)
# DuckDB would use up to 80 % of the machine's memory, mostly as cache; a cap keeps a run's
# footprint predictable on a shared server (larger intermediate results spill to disk).
DEFAULT_MEMORY_LIMIT = "3GB"

LINEAGE_COLUMNS = (
    ("_load_id", "VARCHAR"),
    ("_source_file", "VARCHAR"),
    ("_source_sha256", "VARCHAR"),
    ("_source_row", "BIGINT"),
    ("_ingested_at", "TIMESTAMP"),
)


@contextmanager
def connect(
    database: Path | str, *, read_only: bool = False, memory_limit: str = DEFAULT_MEMORY_LIMIT
) -> Iterator[duckdb.DuckDBPyConnection]:
    if not read_only:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(
        str(database), read_only=read_only, config={"memory_limit": memory_limit}
    )
    for statement in SESSION_SETTINGS:
        connection.execute(statement)
    try:
        yield connection
    finally:
        connection.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Everything in the block commits together, or (on any exception) not at all."""
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def relation_name(schema: str, table: str) -> str:
    return f"{quote_identifier(schema)}.{quote_identifier(table)}"


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(found and found[0])


def ensure_ingestion_tables(con: duckdb.DuckDBPyConnection, table: CanonicalTable) -> None:
    """Create raw.<table>, quarantine.<table> and the load logs if they do not exist yet."""
    con.execute("create schema if not exists raw")
    con.execute("create schema if not exists quarantine")
    canonical = [f"{quote_identifier(c.name)} {c.type}" for c in table.columns]
    lineage = [f"{name} {sql_type}" for name, sql_type in LINEAGE_COLUMNS]
    con.execute(f"create table if not exists raw.{table.name} ({', '.join(canonical + lineage)})")
    con.execute(
        f"""create table if not exists quarantine.{table.name} (
            {", ".join(lineage)},
            rule varchar,
            failed_rules varchar[],
            message varchar,
            original_values varchar
        )"""
    )
    con.execute(
        """create table if not exists quarantine.rule_warnings (
            table_name varchar, _load_id varchar, _source_file varchar, _source_row bigint,
            rule varchar, message varchar
        )"""
    )
    con.execute(
        """create table if not exists raw.file_loads (
            table_name varchar, load_id varchar, run_id varchar, source_file varchar,
            sha256 varchar, size_bytes bigint, modified_at timestamp, status varchar,
            message varchar, rows_read bigint, rows_loaded bigint, rows_quarantined bigint,
            loaded_at timestamp
        )"""
    )
    con.execute(
        """create table if not exists raw.loads (
            table_name varchar, load_id varchar, run_id varchar, started_at timestamp,
            finished_at timestamp, files_new bigint, files_rejected bigint,
            files_already_loaded bigint, file_rows_read bigint, rows_read bigint,
            rows_loaded bigint, rows_quarantined bigint, rows_warned bigint
        )"""
    )
