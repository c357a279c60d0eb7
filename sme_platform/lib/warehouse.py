"""Connections to the DuckDB warehouse and the tables every stage shares."""

from __future__ import annotations

import os
import stat
import uuid
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

# Schema of the tables that store raw rows; readers use the views in `raw`.
RAW_STORE_SCHEMA = "raw_store"
# Hidden columns of raw_store.<table> for a load in progress: NULL on loaded rows, except the
# warning rules a row raised (also listed in quarantine.rule_warnings).
LANDING_COLUMNS = (
    ("_failed_rules", "VARCHAR[]"),
    ("_warned_rules", "VARCHAR[]"),
    ("_original_values", "VARCHAR"),
)
FILE_ID_SEQUENCE = "raw.file_ids"

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


def hold_open(database: Path | str) -> duckdb.DuckDBPyConnection:
    """A connection to keep open for a run's length, then close. DuckDB shares one database
    instance among a process's connections to a file: while this one is open, each step's
    `connect` reuses it, instead of loading the catalog (40 ms for the medium demo's warehouse)
    and checkpointing the file when it closes (115 ms): 6 s of a night's 40 steps. DuckDB still
    checkpoints when its WAL grows past its threshold, and when this connection closes."""
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    # The same configuration as `connect`: DuckDB refuses a second one for an open file.
    return duckdb.connect(str(database), config={"memory_limit": DEFAULT_MEMORY_LIMIT})


def rewrite_database(database: Path) -> int:
    """Write the database anew and rename the new file over it; returns the new size in bytes.

    An UPDATE or DELETE leaves the old row versions in blocks DuckDB marks free but does not
    overwrite: a file edited to erase a value may still hold it. A copy holds only what the
    tables hold now. Every connection to `database` in this process must be closed first."""
    database = Path(database)
    fresh = database.with_name(f".{database.name}.{uuid.uuid4().hex[:8]}.rewriting")
    try:
        with duckdb.connect(":memory:") as con:
            for statement in SESSION_SETTINGS:
                con.execute(statement)
            con.execute(f"attach {quote_literal(str(database))} as old_file (read_only)")
            con.execute(f"attach {quote_literal(str(fresh))} as new_file")
            con.execute("copy from database old_file to new_file")
            con.execute("detach new_file")  # checkpoints: no WAL beside the new file
            con.execute("detach old_file")
        os.chmod(fresh, stat.S_IMODE(database.stat().st_mode))
        os.replace(fresh, database)
    except BaseException:
        fresh.unlink(missing_ok=True)
        Path(f"{fresh}.wal").unlink(missing_ok=True)
        raise
    Path(f"{database}.wal").unlink(missing_ok=True)  # the old file's, if it had one left
    return database.stat().st_size


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


def insert_rows(
    con: duckdb.DuckDBPyConnection, target: str, columns: list[str], rows: list[tuple]
) -> None:
    """Append many rows in one statement: `executemany` runs one insert per row, which took
    0.5 s for the 730 file records of a two-year backfill."""
    if not rows:
        return
    import pyarrow as pa

    values = pa.table({name: [row[i] for row in rows] for i, name in enumerate(columns)})
    names = ", ".join(quote_identifier(c) for c in columns)
    con.register("__rows_to_insert", values)
    try:
        con.execute(f"insert into {target} ({names}) select {names} from __rows_to_insert")
    finally:
        con.unregister("__rows_to_insert")


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def relation_name(schema: str, table: str) -> str:
    return f"{quote_identifier(schema)}.{quote_identifier(table)}"


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def table_exists(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, *, base_table_only: bool = False
) -> bool:
    """A table or view of that name exists in the connection's own database (with
    base_table_only: a table, not a view). Asked of duckdb_tables() and duckdb_views():
    information_schema.tables lists every attached database first, ten times slower (35 ms
    with the analyst database attached), and a run asks this hundreds of times."""
    found = con.execute(
        "select count(*) from duckdb_tables() "
        "where database_name = current_database() and schema_name = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0]
    if found or base_table_only:
        return bool(found)
    return bool(
        con.execute(
            "select count(*) from duckdb_views() "
            "where database_name = current_database() and schema_name = ? and view_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def column_types(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    """Column name -> DuckDB type (VARCHAR, JSON, VARCHAR[], ...) of a table or view of the
    connection's own database, in order; empty if there is none (duckdb_columns(), for the
    reason table_exists gives)."""
    return dict(
        con.execute(
            """select column_name, data_type from duckdb_columns()
               where database_name = current_database() and schema_name = ? and table_name = ?
               order by column_index""",
            [schema, table],
        ).fetchall()
    )


class WarehouseMigrationError(RuntimeError):
    """A warehouse written by an earlier version cannot be brought to the current layout."""


def raw_columns_sql(table: CanonicalTable) -> str:
    """Column definitions of raw.<table> as readers see it: canonical columns, then lineage."""
    return f"{_canonical_columns_sql(table)}, {_lineage_columns_sql()}"


def _canonical_columns_sql(table: CanonicalTable) -> str:
    return ", ".join(f"{quote_identifier(c.name)} {c.type}" for c in table.columns)


def _lineage_columns_sql() -> str:
    return ", ".join(f"{name} {sql_type}" for name, sql_type in LINEAGE_COLUMNS)


def ensure_ingestion_tables(con: duckdb.DuckDBPyConnection, table: CanonicalTable) -> None:
    """Create the storage of raw.<table>, quarantine.<table> and the load logs if they do not
    exist yet, and migrate a raw table of the earlier layout.

    Rows are stored in raw_store.<table> with two lineage columns, the id of their file's record
    in raw.file_loads and their row number; raw.<table> is a view joining the rest of the lineage
    (load id, source file, sha256, ingested at) from that record. Writing the four per-file
    values onto every row took a third of a 10M-row load (3.4 s of 10 s, measured).

    Rows land in raw_store straight from the reader, bad ones too, with the `LANDING_COLUMNS`
    a load needs to move the bad ones to quarantine; the view shows a row only once its file has
    a record, which the load writes last (see ingestion/batch.py)."""
    for schema in ("raw", RAW_STORE_SCHEMA, "quarantine"):
        con.execute(f"create schema if not exists {schema}")
    _ensure_load_logs(con)
    if table_exists(con, "raw", table.name, base_table_only=True):
        _migrate_raw_table(con, table)
    con.execute(
        f"create table if not exists {RAW_STORE_SCHEMA}.{table.name} "
        f"({_canonical_columns_sql(table)}, _file_id BIGINT, _source_row BIGINT)"
    )
    for name, sql_type in LANDING_COLUMNS:  # a raw_store of an earlier version gets them here
        con.execute(
            f"alter table {RAW_STORE_SCHEMA}.{table.name} "
            f"add column if not exists {name} {sql_type}"
        )
    con.execute(f"create view if not exists raw.{table.name} as {_raw_view_sql(table)}")
    con.execute(
        f"""create table if not exists quarantine.{table.name} (
            {_lineage_columns_sql()},
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


def _stored_canonical(table: CanonicalTable) -> str:
    return ", ".join(f"r.{quote_identifier(c.name)}" for c in table.columns)


def _raw_view_sql(table: CanonicalTable) -> str:
    return f"""select {_stored_canonical(table)}, f.load_id as _load_id,
               f.source_file as _source_file, f.sha256 as _source_sha256, r._source_row,
               f.loaded_at as _ingested_at
        from {RAW_STORE_SCHEMA}.{table.name} r join raw.file_loads f on f.file_id = r._file_id"""


def _ensure_load_logs(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """create table if not exists raw.file_loads (
            table_name varchar, load_id varchar, run_id varchar, source_file varchar,
            sha256 varchar, size_bytes bigint, modified_at timestamp, status varchar,
            message varchar, rows_read bigint, rows_loaded bigint, rows_quarantined bigint,
            loaded_at timestamp, file_id bigint
        )"""
    )
    # file_id came with raw_store; a log from an earlier version gets the column here
    con.execute("alter table raw.file_loads add column if not exists file_id bigint")
    con.execute(f"create sequence if not exists {FILE_ID_SEQUENCE}")
    con.execute(
        """create table if not exists raw.loads (
            table_name varchar, load_id varchar, run_id varchar, started_at timestamp,
            finished_at timestamp, files_new bigint, files_rejected bigint,
            files_already_loaded bigint, file_rows_read bigint, rows_read bigint,
            rows_loaded bigint, rows_quarantined bigint, rows_warned bigint
        )"""
    )


def reserve_file_ids(con: duckdb.DuckDBPyConnection, count: int) -> list[int]:
    """Ids for the records in raw.file_loads of files about to be loaded. A load finds its rows
    in raw_store by the range of its ids, so they must be above every id in the file log (a
    sequence recreated by hand, or lost in a copy of the database, would reuse old ids)."""
    ids = [
        file_id
        for (file_id,) in con.execute(
            f"select nextval('{FILE_ID_SEQUENCE}') from range(?)", [count]
        ).fetchall()
    ]
    highest = con.execute("select max(file_id) from raw.file_loads").fetchone()[0]
    if ids and highest is not None and min(ids) <= highest:
        raise WarehouseMigrationError(
            f"the sequence {FILE_ID_SEQUENCE} gave file id {min(ids)}, but raw.file_loads holds "
            f"ids up to {highest}: it was recreated or copied without its state. Recreate it "
            f"above them (drop sequence {FILE_ID_SEQUENCE}; create sequence {FILE_ID_SEQUENCE} "
            f"start {highest + 1}) and load again; nothing was loaded"
        )
    return ids


def _migrate_raw_table(con: duckdb.DuckDBPyConnection, table: CanonicalTable) -> None:
    """raw.<table> of the earlier layout (lineage strings on every row) becomes raw_store.<table>
    plus the view, in one transaction. Each row is placed by its file's record in the file log;
    if any row has none, nothing changes and the error says how many."""
    name = table.name
    with transaction(con):
        con.execute(
            f"""update raw.file_loads set file_id = nextval('{FILE_ID_SEQUENCE}')
            where table_name = ? and status = 'loaded' and file_id is null""",
            [name],
        )
        con.execute(
            f"""create table {RAW_STORE_SCHEMA}.{name} as
            select {_stored_canonical(table)}, f.file_id as _file_id, r._source_row
            from raw.{name} r join raw.file_loads f
                on f.table_name = {quote_literal(name)} and f.status = 'loaded'
                and f.load_id = r._load_id and f.source_file = r._source_file
                and f.sha256 = r._source_sha256"""
        )
        before = con.execute(f"select count(*) from raw.{name}").fetchone()[0]
        after = con.execute(f"select count(*) from {RAW_STORE_SCHEMA}.{name}").fetchone()[0]
        if before != after:
            raise WarehouseMigrationError(
                f"cannot migrate raw.{name} to the raw_store layout: {before - after} row(s) of "
                f"raw.{name} match no loaded file in raw.file_loads (by load id, source file "
                "and sha256); the warehouse is unchanged. Reload from the source files into "
                "a new warehouse, or contact the platform team."
            )
        con.execute(f"drop table raw.{name}")
        con.execute(f"create view raw.{name} as {_raw_view_sql(table)}")
