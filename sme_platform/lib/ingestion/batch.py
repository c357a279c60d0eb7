"""Loading one batch of files (read the same way) in a few set-based DuckDB statements.

Speed comes from writing the bulk of the rows once, straight from the reader into their storage:

1. `land_batch`, one pass from the reader into raw_store.<table>: map, cast and judge every row
   rule; a row that fails keeps the rules it broke and its original values in hidden columns
   (NULL for good rows, so they cost next to nothing). The rows are not published yet: the view
   raw.<table> shows only rows whose file has a record in raw.file_loads, written last.
2. `write_batch`, inside the caller's transaction, over those rows only (a row is known by its
   rowid, which holds within one transaction; a checkpoint between two may renumber rows):
   - row numbers from the read order (`rowid`), corrected in files that had unparseable lines;
   - foreign keys probed with the batch's distinct keys;
   - duplicate keys found by sorting 64-bit key hashes, checked on the real key only for the
     few repeated hashes; keys loaded before found by a join with the published rows;
   - a row failing a set rule is marked bad by its original values (a scalar column: DuckDB
     updates a list column by deleting and re-inserting the row, under a new rowid);
   - bad rows copied to quarantine.<table> and deleted from raw_store, warnings recorded.
   The caller then writes the file records, which publishes the good rows.

A batch that fails after its pass has its rows deleted again (`discard_batch`); a process killed
in between leaves rows no file record points at, invisible, which the next load of the table
deletes first (`discard_unpublished_rows`). Staging the rows in a temporary table first and
copying the good ones took a second full write, 9 of 30 s for 10M rows (measured); writing them
inside the transaction instead made DuckDB keep them in transaction-local storage, which took
twice as long again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sme_platform.lib.ingestion import contract
from sme_platform.lib.ingestion.checked_pass import (
    create_macros,
    insert_checked,
    pass_keeps_read_order,
)
from sme_platform.lib.ingestion.files import SourceFile
from sme_platform.lib.ingestion.quarantine import BatchTally, tally_batch, write_quarantine
from sme_platform.lib.ingestion.readers import numbers_rows_first, source_relation
from sme_platform.lib.ingestion.row_numbers import create_reject_offsets, number_rows
from sme_platform.lib.ingestion.set_rules import (
    find_duplicates_in_batch,
    find_keys_loaded_before,
    find_unknown_foreign_keys,
    mark_set_failures_bad,
)
from sme_platform.lib.sources import SourceSpec
from sme_platform.lib.warehouse import RAW_STORE_SCHEMA, insert_rows

TEMP_TABLES = (
    "_src_table",
    "_batch_files",
    "_file_info",
    "_reject_rows",
    "_reject_offsets",
    "_dup_candidates",
    "_set_failures",
    "reject_errors",
    "reject_scans",
)


TEMP_VIEWS = ("_checked", "source_rows", "_src_numbered")


@dataclass(frozen=True)
class Batch:
    spec: SourceSpec
    files: list[SourceFile]
    file_format: str
    columns: tuple[str, ...] | None  # header of CSV/Parquet files; None for JSON lines
    load_id: str
    loaded_at: datetime
    file_ids: tuple[int, ...]  # one per file: its record's id in raw.file_loads
    # Normalized UTF-8 copies read in place of the files (see text_files); empty: the files.
    read_paths: tuple[Path, ...] = ()

    @property
    def reader_paths(self) -> list[Path]:
        return list(self.read_paths) or [f.path for f in self.files]

    @property
    def reader_options(self) -> dict:
        """The source's reader options; a normalized copy is UTF-8 whatever the file was."""
        if not self.read_paths:
            return self.spec.options
        return {**self.spec.options, "encoding": "utf-8"}

    @property
    def rows_filter(self) -> str:
        """The batch's rows in raw_store: file ids come from one sequence, so no other rows of
        the table fall in their range (zone maps then skip the rows loaded before)."""
        return f"_file_id between {min(self.file_ids)} and {max(self.file_ids)}"


@dataclass(frozen=True)
class LandedBatch:
    numbered_first: bool  # rows numbered before the mapping (see `numbers_rows_first`)
    numbered_by_rowid: bool  # row numbers still to be set from the read order


def land_batch(con, batch: Batch, *, keeps_read_order=pass_keeps_read_order) -> LandedBatch:
    """Read, map, type and judge the batch's rows into raw_store.<table>, unpublished.

    Runs outside any transaction, on purpose (see the module doc); a failure of the pass itself
    writes nothing, as any single statement."""
    create_macros(con)
    for view in TEMP_VIEWS:
        con.execute(f"drop view if exists {view}")
    for table in TEMP_TABLES:
        con.execute(f"drop table if exists {table}")
    con.execute(
        "create temp table _batch_files "
        "(_source_file varchar, sha256 varchar, file_id bigint, read_path varchar)"
    )
    insert_rows(
        con,
        "_batch_files",
        ["_source_file", "sha256", "file_id", "read_path"],
        [
            (str(f.path), f.sha256, i, str(read_path))
            for f, i, read_path in zip(batch.files, batch.file_ids, batch.reader_paths, strict=True)
        ],
    )
    rules = [
        *contract.row_rules(batch.spec, has_format_check=batch.file_format == "jsonl"),
        *contract.unnamed_column_rules(batch.spec, batch.columns),
    ]
    numbered_first = numbers_rows_first(batch.spec) or not keeps_read_order(con, batch, rules)
    relation = source_relation(con, batch, numbered_first)
    rows_landed = insert_checked(con, batch, relation, rules)
    if not numbered_first:  # else collected (and the rows numbered) before the mapping
        create_reject_offsets(con, has_reject_store=batch.file_format != "parquet")
    con.execute(
        f"""create temp view _checked as
        select rowid as rid, *, _failed_rules is null and _original_values is null as _ok
        from {RAW_STORE_SCHEMA}.{batch.spec.canonical.name} where {batch.rows_filter}"""
    )
    rows_found = con.execute("select count(*) from _checked").fetchone()[0]
    if rows_found != rows_landed:
        raise RuntimeError(
            f"{rows_landed - rows_found} of the {rows_landed} rows read from this batch could "
            f"not be matched to their file (first file: {batch.files[0].path}); nothing of the "
            "batch is loaded"
        )
    return LandedBatch(numbered_first, relation.numbered_by_rowid)


def write_batch(
    con, batch: Batch, landed: LandedBatch, foreign_keys, *, rows_loaded_before: bool
) -> BatchTally:
    """Inside the caller's transaction (rowids stay put within one): number the landed rows,
    find the set-level failures, move bad rows to quarantine.<table> and record warnings. The
    good rows stay in raw_store, published by the file records the caller writes next."""
    if landed.numbered_by_rowid:
        number_rows(con, batch)
    con.execute(
        "create temp table _set_failures "
        "(rid bigint, rule varchar, severity varchar, detail varchar)"
    )
    find_unknown_foreign_keys(con, batch, foreign_keys)
    find_duplicates_in_batch(con, batch)
    if rows_loaded_before:
        find_keys_loaded_before(con, batch.spec)
    mark_set_failures_bad(con, batch)
    tally = tally_batch(con, batch)
    tally.file_rows = con.execute(
        "select (select count(*) from {}) + (select count(*) from _reject_rows)".format(
            "_src_table" if landed.numbered_first else "_checked"
        )
    ).fetchone()[0]
    write_quarantine(con, batch, with_warnings=bool(tally.warnings_by_rule))
    con.execute(
        f"""delete from {RAW_STORE_SCHEMA}.{batch.spec.canonical.name}
        where {batch.rows_filter} and (_failed_rules is not null or _original_values is not null)"""
    )
    return tally


def discard_batch(con, batch: Batch) -> None:
    """Delete the rows of a batch that failed after its pass (outside any transaction). Only
    rows still unpublished: the failure may have come after the commit (an interrupt raised as
    the commit returned), and then the rows belong to files logged as loaded."""
    con.execute(
        f"""delete from {RAW_STORE_SCHEMA}.{batch.spec.canonical.name}
        where _file_id is null or ({batch.rows_filter} and {_UNPUBLISHED})"""
    )


def discard_unpublished_rows(con, table: str) -> int:
    """Rows whose file has no record: left by a load killed between a batch's pass and its
    commit. Invisible in raw.<table> already; deleted before the next load of the table."""
    deleted = con.execute(
        f"delete from {RAW_STORE_SCHEMA}.{table} where _file_id is null or {_UNPUBLISHED}"
    ).fetchone()
    return deleted[0] if deleted else 0


_UNPUBLISHED = "_file_id not in (select file_id from raw.file_loads where file_id is not null)"
