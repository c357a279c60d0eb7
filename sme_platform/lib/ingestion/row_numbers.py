"""Numbering each row by its line in its file.

Row numbers: CSV has none of its own, so a row's number is its offset in its file's run of
rowids, which is the read order only while the pass is an order-keeping ("batch") insert. A join
in the pass makes DuckDB plan one that does not keep it, and a file's last chunk, when short,
lands after other files' rows. So IN lists stay expressions, foreign keys are probed afterwards,
and a mapping or rule that still needs a join (a subquery) makes the batch number its rows before
the mapping instead, from a plain read.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sme_platform.lib.warehouse import RAW_STORE_SCHEMA, quote_literal

if TYPE_CHECKING:
    from sme_platform.lib.ingestion.batch import Batch

# DuckDB's settings are per database instance, not per connection: two loads in one process
# must not interleave changing and restoring them.
_SETTINGS_LOCK = threading.RLock()


@contextmanager
def database_setting(con, name: str, value: str):
    """The setting changed for the block, then put back as it was."""
    with _SETTINGS_LOCK:
        previous = con.execute(f"select current_setting({quote_literal(name)})").fetchone()[0]
        con.execute(f"set {name} = {quote_literal(str(value))}")
        try:
            yield
        finally:
            con.execute(f"set {name} = {quote_literal(str(previous))}")


@contextmanager
def in_lists_as_expressions(con):
    """DuckDB rewrites `x in ('a', 'b', ...)` into a join with the list; evaluated as an
    expression it is as fast, and keeps the pass free of joins."""
    with _SETTINGS_LOCK:
        previous = con.execute("select current_setting('disabled_optimizers')").fetchone()[0]
        with database_setting(
            con, "disabled_optimizers", ",".join(filter(None, [previous, "in_clause"]))
        ):
            yield


def create_reject_offsets(con, *, has_reject_store: bool) -> None:
    if has_reject_store:
        con.execute(
            """create temp table _reject_rows as
            select b.file_id as _file_id,
                   e.line::bigint - (case when s.has_header then 1 else 0 end)
                       - coalesce(s.skip_rows, 0)::bigint as _source_row,
                   string_agg(distinct e.error_type::varchar || ': ' || e.error_message, '; ')
                       as message,
                   first(e.csv_line) as original_line
            from reject_errors e
            join reject_scans s on s.scan_id = e.scan_id and s.file_id = e.file_id
            join _batch_files b on b.read_path = s.file_path
            group by all"""
        )
    else:
        con.execute(
            "create temp table _reject_rows (_file_id bigint, _source_row bigint, "
            "message varchar, original_line varchar)"
        )
    con.execute(
        """create temp table _reject_offsets as
        select _file_id, good_rows_before, max(rejects_so_far) as rejects_so_far
        from (
            select _file_id,
                   _source_row - row_number() over w as good_rows_before,
                   row_number() over w as rejects_so_far
            from _reject_rows
            window w as (partition by _file_id order by _source_row)
        ) group by all"""
    )


def check_read_in_order(con, scattered_files_sql: str) -> None:
    """Rows are numbered by their offset in their file's run of rowids, which is the read order
    only if each file's rows form one run. The pass is planned so that they do (see the module
    doc); this catches rows of files interleaved all the same (the failure seen), so that the
    batch fails rather than recording wrong row numbers. It cannot see rows reordered within
    one file's run, which DuckDB's reader does not do (the CSV reader returns a file's lines
    in order)."""
    scattered = [path for (path,) in con.execute(scattered_files_sql).fetchall()]
    if scattered:
        raise RuntimeError(
            f"DuckDB did not keep the read order of {len(scattered)} file(s), e.g. "
            f"{scattered[0]}: their rows would get wrong row numbers, so nothing of this batch "
            "is loaded"
        )


def number_rows(con, batch: Batch) -> None:
    """Each landed row's number in its file, from its offset in its file's run of rowids."""
    con.execute(
        """create temp table _file_info as
        select b.file_id, b._source_file, c.first_rowid, c.rows_in_one_run,
               b.file_id in (select _file_id from _reject_rows) as has_rejects
        from _batch_files b left join (
            select _file_id, min(rid) as first_rowid,
                   max(rid) - min(rid) + 1 = count(*) as rows_in_one_run
            from _checked group by 1
        ) c on c._file_id = b.file_id"""
    )
    check_read_in_order(con, "select _source_file from _file_info where not rows_in_one_run")
    table = f"{RAW_STORE_SCHEMA}.{batch.spec.canonical.name}"
    con.execute(
        f"""update {table} as r set _source_row = r.rowid - f.first_rowid + 1
        from _file_info f
        where r.{batch.rows_filter} and r._file_id = f.file_id and not f.has_rejects"""
    )
    if not con.execute("select count(*) from _file_info where has_rejects").fetchone()[0]:
        return
    # An ASOF join costs a pass over its whole input even when it matches nothing, so it only
    # runs over the rows of files with rejected lines.
    con.execute(
        f"""update {table} as r set _source_row = n._source_row
        from (
            select c.__rid, {row_number_sql("c", "f", "o")} as _source_row
            from (select rid as __rid, _file_id from _checked) c
            join _file_info f on f.file_id = c._file_id
            asof left join _reject_offsets o
                on c._file_id = o._file_id
                and c.__rid - f.first_rowid + 1 > o.good_rows_before
            where f.has_rejects
        ) n
        where r.rowid = n.__rid"""
    )


def row_number_sql(rows: str, files: str, offsets: str) -> str:
    """A row's number in its file: its place among the good rows plus the rejected rows before
    it (DuckDB's reject store gives the rejected rows' numbers)."""
    return f"{rows}.__rid - {files}.first_rowid + 1 + coalesce({offsets}.rejects_so_far, 0)"
