"""Loading one batch of files (same format, same header) in a few set-based DuckDB statements.

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

Row numbers: CSV has none of its own, so a row's number is its offset in its file's run of
rowids, which is the read order only while the pass is an order-keeping ("batch") insert. A join
in the pass makes DuckDB plan one that does not keep it, and a file's last chunk, when short,
lands after other files' rows. So IN lists stay expressions, foreign keys are probed afterwards,
and a mapping or rule that still needs a join (a subquery) makes the batch number its rows before
the mapping instead, from a plain read.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from sme_platform.lib.ingestion import contract
from sme_platform.lib.ingestion.files import SourceFile
from sme_platform.lib.sources import SourceSpec
from sme_platform.lib.warehouse import (
    LANDING_COLUMNS,
    RAW_STORE_SCHEMA,
    insert_rows,
    quote_identifier,
    quote_literal,
)

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


@dataclass
class BatchTally:
    per_file: dict[str, list[int]] = field(default_factory=dict)  # path -> [read, loaded, quar.]
    file_rows: int = 0  # rows read from the files (differs from records read for a query)
    quarantine_by_rule: Counter = field(default_factory=Counter)
    warnings_by_rule: Counter = field(default_factory=Counter)


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


@dataclass(frozen=True)
class SourceRelation:
    sql: str  # a query whose rows are the source rows, with _file_id and _source_row
    columns: list[str]  # source columns the mapping may use
    numbered_by_rowid: bool  # True: _source_row comes from the read order
    original: str  # SQL over __src (the source row as a struct) giving the original values


def _create_macros(con) -> None:
    con.execute(
        "create or replace temp macro nullif_markers(value, markers) as "
        "case when list_contains(markers, value) then null else value end"
    )


def land_batch(con, batch: Batch) -> LandedBatch:
    """Read, map, type and judge the batch's rows into raw_store.<table>, unpublished.

    Runs outside any transaction, on purpose (see the module doc); a failure of the pass itself
    writes nothing, as any single statement."""
    _create_macros(con)
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
        *contract.unnamed_column_rules(batch.columns),
    ]
    numbered_first = numbers_rows_first(batch.spec) or not _pass_keeps_read_order(con, batch, rules)
    relation = _source_relation(con, batch, numbered_first)
    rows_landed = _insert_checked(con, batch, relation, rules)
    if not numbered_first:  # else collected (and the rows numbered) before the mapping
        _create_reject_offsets(con, has_reject_store=batch.file_format != "parquet")
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
        _number_rows(con, batch)
    con.execute(
        "create temp table _set_failures "
        "(rid bigint, rule varchar, severity varchar, detail varchar)"
    )
    _find_unknown_foreign_keys(con, batch, foreign_keys)
    _find_duplicates_in_batch(con, batch)
    if rows_loaded_before:
        _find_keys_loaded_before(con, batch.spec)
    _mark_set_failures_bad(con, batch)
    tally = _tally(con, batch)
    tally.file_rows = con.execute(
        "select (select count(*) from {}) + (select count(*) from _reject_rows)".format(
            "_src_table" if landed.numbered_first else "_checked"
        )
    ).fetchone()[0]
    _write_quarantine(con, batch, with_warnings=bool(tally.warnings_by_rule))
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


def _path_list(paths: list[Path]) -> str:
    return "[" + ", ".join(quote_literal(str(path)) for path in paths) + "]"


def _file_id_sql(batch: Batch) -> str:
    """A row's file id from the reader's `file_index` (its file's place in the path list): an
    expression, where a join with the file list would lose the read order (and a lookup by
    file name per row took four times as long as the whole read)."""
    ids = ", ".join(str(file_id) for file_id in batch.file_ids)
    return f"[{ids}][file_index::bigint + 1]"


# The reader's own column, which a source column of the same name would hide.
READER_FILE_INDEX = "file_index"


def _hides_file_index(name: str) -> bool:
    return name.lower() == READER_FILE_INDEX


def _reader_name(position: int, name: str) -> str:
    """The name a CSV column is read under: its own, or a stand-in if it would hide the
    reader's file index (renamed back right after the read)."""
    return f"__source_column_{position}" if _hides_file_index(name) else name


def _csv_arguments(options: dict, columns: tuple[str, ...] | None) -> str:
    """Reader arguments. The header was parsed in the pre-check, so DuckDB need not sniff: a
    sniffer reading a sample would fail the whole file on one bad line (say a 3 MB field), where
    a reader with known columns sends that line to the reject store and reads on."""
    arguments = ["store_rejects = true", "auto_detect = false"]
    if columns is None:
        # JSON lines: each line whole as one text column, so a malformed line is one bad row.
        arguments += [
            "columns = {'_line': 'VARCHAR'}",
            "header = false",
            "delim = '\x1f'",
            "quote = ''",
            "escape = ''",
        ]
    else:
        quote = options.get("quote", '"')
        column_types = ", ".join(
            f"{quote_literal(_reader_name(i, c))}: 'VARCHAR'" for i, c in enumerate(columns)
        )
        arguments += [
            f"columns = {{{column_types}}}",
            f"header = {'true' if options.get('header', True) else 'false'}",
            f"delim = {quote_literal(options.get('delimiter', ','))}",
            f"quote = {quote_literal(quote)}",
            f"escape = {quote_literal(options.get('escape', quote))}",
        ]
        if options.get("skip_rows"):
            arguments.append(f"skip = {int(options['skip_rows'])}")
    markers = ", ".join(quote_literal(m) for m in options.get("null_markers", [""]))
    arguments.append(f"nullstr = [{markers}]")
    if options.get("encoding"):
        arguments.append(f"encoding = {quote_literal(options['encoding'])}")
    if options.get("max_line_size"):
        arguments.append(f"max_line_size = {int(options['max_line_size'])}")
    return ", ".join(arguments)


def _json_key_path(key: str) -> str:
    return quote_literal('$."' + key.replace('"', '\\"') + '"')


def _reader_relation(batch: Batch) -> SourceRelation:
    paths = _path_list(batch.reader_paths)
    spec = batch.spec
    file_id = _file_id_sql(batch)
    columns = batch.columns or ()
    if batch.file_format == "parquet":
        return _parquet_relation(batch, paths, columns)
    if batch.file_format == "jsonl":
        keys = sorted(contract.source_column_references(spec))
        # null_markers apply to JSON values as to CSV fields ("" and "?" mean missing).
        markers = ", ".join(quote_literal(m) for m in spec.options.get("null_markers", [""]))
        extracted = "".join(
            f", case when json_valid(_line) then nullif_markers("
            f"json_extract_string(_line, {_json_key_path(k)}), [{markers}]) end"
            f" as {quote_identifier(k)}"
            for k in keys
        )
        return SourceRelation(
            sql=f"""select {file_id} as _file_id, null::bigint as _source_row, _line,
                       json_valid(_line) as __format_ok{extracted}
                from read_csv({paths}, {_csv_arguments(batch.reader_options, None)})""",
            columns=keys,
            numbered_by_rowid=True,
            original="__src._line",
        )
    renamed = ", ".join(
        f"{quote_identifier(_reader_name(i, c))} as {quote_identifier(c)}"
        for i, c in enumerate(columns)
        if _hides_file_index(c)
    )
    return SourceRelation(
        sql=f"""select *{f" rename ({renamed})" if renamed else ""}, {file_id} as _file_id,
                   null::bigint as _source_row, true as __format_ok
            from read_csv({paths}, {_csv_arguments(batch.reader_options, batch.columns)})""",
        columns=list(batch.columns or ()),
        numbered_by_rowid=True,
        original=_json_of_fields(batch.columns or ()),
    )


def _parquet_relation(batch: Batch, paths: str, columns: tuple[str, ...]) -> SourceRelation:
    """Parquet rows carry their own numbers, so the read order need not be kept: the file id
    comes from the reader's file index or, where a column of that name hides it, from a join
    with the file list by file name."""
    if any(_hides_file_index(c) for c in columns):
        reader = f"""read_parquet({paths}, filename = '_source_file', file_row_number = true) p
            join _batch_files b on b.read_path = p._source_file"""
        rows, file_id = "p.* exclude (file_row_number, _source_file)", "b.file_id"
    else:
        reader = f"read_parquet({paths}, file_row_number = true) p"
        rows, file_id = "p.* exclude (file_row_number)", _file_id_sql(batch)
    return SourceRelation(
        sql=f"""select {rows}, {file_id} as _file_id, p.file_row_number + 1 as _source_row,
                   true as __format_ok
            from {reader}""",
        columns=list(columns),
        numbered_by_rowid=False,
        original=_json_of_fields(columns),
    )


def _json_of_fields(columns) -> str:
    if not columns:
        return "null::varchar"
    pairs = ", ".join(f"{quote_literal(c)}, __src.{quote_identifier(c)}" for c in columns)
    return f"json_object({pairs})::varchar"


def numbers_rows_first(spec: SourceSpec) -> bool:
    """A source defined by a query, or a mapping that reads _source_row, needs its rows numbered
    before the mapping runs (the fast path numbers them afterwards, from the read order)."""
    return bool(spec.query) or contract.mapping_uses_row_number(spec)


def _source_relation(con, batch: Batch, numbered_first: bool) -> SourceRelation:
    relation = _reader_relation(batch)
    if not numbered_first:
        return relation
    # The file rows are read and numbered first; a query (e.g. events collapsed to one row per
    # ticket) then runs over them as the view `source_rows`.
    con.execute(f"create temp table _src_table as {relation.sql}")
    if relation.numbered_by_rowid:
        _check_read_in_order(
            con,
            """select b._source_file from _src_table t join _batch_files b on b.file_id = t._file_id
            group by 1 having max(t.rowid) - min(t.rowid) + 1 <> count(*)""",
        )
    _create_reject_offsets(con, has_reject_store=batch.file_format != "parquet")
    numbering = _row_number_sql("t", "f", "o") if relation.numbered_by_rowid else "t._source_row"
    con.execute(
        f"""create temp view _src_numbered as
        select t.* exclude (__rid, _source_row), {numbering} as _source_row
        from (select rowid as __rid, * from _src_table) t
        join (select _file_id, min(rowid) as first_rowid from _src_table group by all) f
            using (_file_id)
        asof left join _reject_offsets o
            on t._file_id = o._file_id
            and t.__rid - f.first_rowid + 1 > o.good_rows_before"""
    )
    if not batch.spec.query:
        return SourceRelation(
            sql="select * from _src_numbered",
            columns=relation.columns,
            numbered_by_rowid=False,
            original=relation.original,
        )
    # A view, not a CTE put in front of the query, so the query may have a WITH of its own. The
    # query sees each row's file by its path, and its rows are matched back to the file ids.
    con.execute(
        """create temp view source_rows as
        select s.* exclude (__format_ok, _file_id), b._source_file
        from _src_numbered s join _batch_files b on b.file_id = s._file_id"""
    )
    sql = batch.spec.query.strip().rstrip(";")
    columns = [row[0] for row in con.execute(f"describe ({sql})").fetchall()]
    missing = contract.LINEAGE_NAMES - set(columns)
    if missing:
        raise ValueError(
            f"sources.{batch.spec.table}.query must return {sorted(missing)} "
            "(for a grouped query, e.g. min(_source_row) as _source_row)"
        )
    names = [c for c in columns if c not in contract.LINEAGE_NAMES]
    return SourceRelation(
        sql=f"""select q.* exclude (_source_file), b.file_id as _file_id, true as __format_ok
            from ({sql}) q join _batch_files b using (_source_file)""",
        columns=names,
        numbered_by_rowid=False,
        original=_json_of_fields(names),
    )


def _row_number_sql(rows: str, files: str, offsets: str) -> str:
    """A row's number in its file: its place among the good rows plus the rejected rows before
    it (DuckDB's reject store gives the rejected rows' numbers)."""
    return f"{rows}.__rid - {files}.first_rowid + 1 + coalesce({offsets}.rejects_so_far, 0)"


def _checked_sql(spec: SourceSpec, relation: SourceRelation, rules) -> str:
    """The one pass over the rows: map, cast, judge every row rule."""
    table = spec.canonical
    available = set(relation.columns)
    error_rules = [r for r in rules if r.severity == "error"]
    warn_rules = [r for r in rules if r.severity == "warn"]
    mapped = "".join(
        f", {contract.mapped_expression(spec.columns[c.name], available)} as "
        f"{contract.raw_alias(c.name)}"
        for c in table.columns
        if c.name in spec.columns
    )
    typed = ", ".join(
        (
            contract.typed_expression(c.type, contract.raw_alias(c.name), spec.options)
            if c.name in spec.columns
            else f"null::{c.type}"
        )
        + f" as {quote_identifier(c.name)}"
        for c in table.columns
    )
    raw_aliases = ", ".join(
        contract.raw_alias(c.name) for c in table.columns if c.name in spec.columns
    )
    canonical = ", ".join(contract.check_table_columns(table))
    return f"""with source as ({relation.sql}),
            mapped as (
                select _file_id, _source_row, __format_ok, __s as __src{mapped}
                from source as __s
            ),
            typed as (
                select _file_id, _source_row, __format_ok, __src, {raw_aliases}, {typed}
                from mapped
            ),
            judged as (
                select *, {contract.all_pass(error_rules)} as _ok,
                       {contract.all_pass(warn_rules)} as _warn_ok
                from typed
            )
            select {canonical}, _file_id, _source_row,
                   case when _ok then null else {contract.failed_rules_list(error_rules)} end
                       as _failed_rules,
                   case when _warn_ok then null else {contract.failed_rules_list(warn_rules)} end
                       as _warned_rules,
                   case when _ok then null else {relation.original} end as _original_values
            from judged"""


def _insert_sql(spec: SourceSpec, relation: SourceRelation, rules) -> str:
    table = spec.canonical
    lineage = ["_file_id", "_source_row", *(name for name, _ in LANDING_COLUMNS)]
    columns = ", ".join([*contract.check_table_columns(table), *lineage])
    return f"insert into {RAW_STORE_SCHEMA}.{table.name} ({columns}) " + _checked_sql(
        spec, relation, rules
    )


def _insert_checked(con, batch: Batch, relation: SourceRelation, rules) -> int:
    try:
        with _in_lists_as_expressions(con):
            return con.execute(_insert_sql(batch.spec, relation, rules)).fetchone()[0]
    except (duckdb.BinderException, duckdb.ParserException) as error:
        raise _mapping_error(batch.spec, relation, error) from error


def _mapping_error(spec: SourceSpec, relation: SourceRelation, error: Exception) -> ValueError:
    """A mapping that does not fit the files (unknown column, bad SQL) is a config error."""
    return ValueError(
        f"sources.yaml: the mapping of {spec.canonical.name} does not fit the source's columns "
        f"{sorted(relation.columns)}: {error}"
    )


def _pass_keeps_read_order(con, batch: Batch, rules) -> bool:
    """Whether the pass straight from the reader keeps the read order that numbers the rows:
    DuckDB must plan it as an order-keeping ("batch") insert, or, on a single thread, as a
    plain insert without a join. A subquery in a mapping or a custom rule is a join, and with
    one the order is not kept."""
    relation = _reader_relation(batch)
    if not relation.numbered_by_rowid:
        return True  # Parquet: the reader gives each row's number itself
    try:
        with (
            _database_setting(con, "explain_output", "physical_only"),
            _in_lists_as_expressions(con),
        ):
            explained = con.execute(
                "explain (format json) " + _insert_sql(batch.spec, relation, rules)
            )
            plan = json.loads(explained.fetchone()[1])[0]
    except (duckdb.BinderException, duckdb.ParserException) as error:
        raise _mapping_error(batch.spec, relation, error) from error
    if plan["name"] == "BATCH_INSERT":
        return True
    single_thread = con.execute("select current_setting('threads')").fetchone()[0] == 1
    return single_thread and plan["name"] == "INSERT" and not _has_join(plan)


def _has_join(plan: dict) -> bool:
    return "JOIN" in plan["name"] or any(_has_join(child) for child in plan.get("children", []))


# DuckDB's settings are per database instance, not per connection: two loads in one process
# must not interleave changing and restoring them.
_SETTINGS_LOCK = threading.RLock()


@contextmanager
def _database_setting(con, name: str, value: str):
    """The setting changed for the block, then put back as it was."""
    with _SETTINGS_LOCK:
        previous = con.execute(f"select current_setting({quote_literal(name)})").fetchone()[0]
        con.execute(f"set {name} = {quote_literal(str(value))}")
        try:
            yield
        finally:
            con.execute(f"set {name} = {quote_literal(str(previous))}")


@contextmanager
def _in_lists_as_expressions(con):
    """DuckDB rewrites `x in ('a', 'b', ...)` into a join with the list; evaluated as an
    expression it is as fast, and keeps the pass free of joins."""
    with _SETTINGS_LOCK:
        previous = con.execute("select current_setting('disabled_optimizers')").fetchone()[0]
        with _database_setting(
            con, "disabled_optimizers", ",".join(filter(None, [previous, "in_clause"]))
        ):
            yield


def _create_reject_offsets(con, *, has_reject_store: bool) -> None:
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


def _check_read_in_order(con, scattered_files_sql: str) -> None:
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


def _number_rows(con, batch: Batch) -> None:
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
    _check_read_in_order(con, "select _source_file from _file_info where not rows_in_one_run")
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
            select c.__rid, {_row_number_sql("c", "f", "o")} as _source_row
            from (select rid as __rid, _file_id from _checked) c
            join _file_info f on f.file_id = c._file_id
            asof left join _reject_offsets o
                on c._file_id = o._file_id
                and c.__rid - f.first_rowid + 1 > o.good_rows_before
            where f.has_rejects
        ) n
        where r.rowid = n.__rid"""
    )


def _find_unknown_foreign_keys(con, batch: Batch, foreign_keys) -> None:
    """Rows whose key is not in the parent table. A row that breaks an error-severity key is
    then no longer good, so it is neither a duplicate's first occurrence nor loaded."""
    for foreign_key, severity in foreign_keys:
        con.execute(
            "insert into _set_failures " + contract.foreign_key_failures_sql(foreign_key, severity)
        )
    if foreign_keys:
        _mark_set_failures_bad(con, batch)


def _mark_set_failures_bad(con, batch: Batch) -> None:
    """Rows with an error-severity set failure so far are no longer good. Their original values
    mark them: they passed every row rule, so these are their source values, typed (their rules
    are in _set_failures). Not an update of _failed_rules: DuckDB updates a list column by
    deleting the row and inserting it again, under a new rowid."""
    table = batch.spec.canonical
    canonical_json = ", ".join(
        f"{quote_literal(c.name)}, {quote_identifier(c.name)}" for c in table.columns
    )
    con.execute(
        f"""update {RAW_STORE_SCHEMA}.{table.name}
        set _original_values = json_object({canonical_json})::varchar
        where {batch.rows_filter} and _failed_rules is null and _original_values is null
            and rowid in (select rid from _set_failures where severity = 'error')"""
    )


def _find_duplicates_in_batch(con, batch: Batch) -> None:
    """Primary-key failures within the batch: keys that occur twice or more."""
    table = batch.spec.canonical
    key = [quote_identifier(c) for c in table.primary_key]
    key_list = ", ".join(key)
    key_present = " and ".join(f"{k} is not null" for k in key)
    join_on = " and ".join(f"c.{k} = d.{k}" for k in key)
    # Hash first (cheap, fixed width), then the real key for the few repeated hashes. Sorting
    # the hashes finds repeats in half the time of grouping 10M of them (1.1 s against 2.4 s).
    con.execute(
        f"""create temp table _dup_candidates as
        select distinct h from (
            select h, h = lag(h) over (order by h) as repeated
            from (select hash({key_list}) as h from _checked where _ok and {key_present})
        ) where repeated"""
    )
    if not con.execute("select count(*) from _dup_candidates").fetchone()[0]:
        return
    con.execute(
        f"""insert into _set_failures
        with candidates as (
            select c.*, b._source_file from _checked c join _batch_files b
                on b.file_id = c._file_id
            where c._ok and hash({key_list}) in (select h from _dup_candidates)
        ),
        firsts as (
            select {key_list},
                   arg_min(rid, (_source_file, _source_row)) as keep_rid,
                   min((_source_file, _source_row)) as first_seen
            from candidates group by all having count(*) > 1
        )
        select c.rid, '{contract.PRIMARY_KEY}', 'error',
               'duplicate key; first seen at ' || d.first_seen[1] || ' row ' || d.first_seen[2]
        from candidates c join firsts d on {join_on}
        where c.rid <> d.keep_rid"""
    )


def _find_keys_loaded_before(con, spec: SourceSpec) -> None:
    """Primary-key failures against the rows published before (the view raw.<table> does not
    show the batch's own rows: their files have no record yet)."""
    table = spec.canonical
    join_on = " and ".join(
        f"c.{k} = d.{k}" for k in (quote_identifier(c) for c in table.primary_key)
    )
    con.execute(
        f"""insert into _set_failures
        select c.rid, '{contract.PRIMARY_KEY}', 'error',
               'key already loaded from ' || d._source_file || ' row ' || d._source_row
        from _checked c join raw.{table.name} d on {join_on}
        where c._ok"""
    )


def _write_quarantine(con, batch: Batch, *, with_warnings: bool) -> None:
    table = batch.spec.canonical
    load_id = quote_literal(batch.load_id)
    con.execute(
        f"""insert into quarantine.{table.name}
        select {load_id}, b._source_file, b.sha256, n._source_row, ?::timestamp,
               rules[1], rules,
               'breaks ' || array_to_string(rules, ', ') || coalesce('; ' || n.detail, ''),
               n._original_values
        from (
            select n.*,
                   coalesce(n._failed_rules, []::varchar[]) || coalesce(s.rules, []::varchar[])
                       as rules,
                   s.detail
            from _checked n
            left join (
                select rid, list(rule order by rule) as rules,
                       string_agg(detail, '; ' order by rule) as detail
                from _set_failures where severity = 'error' group by rid
            ) s on s.rid = n.rid
            where not n._ok
        ) n
        join _batch_files b on b.file_id = n._file_id""",
        [batch.loaded_at],
    )
    con.execute(
        f"""insert into quarantine.{table.name}
        select {load_id}, b._source_file, b.sha256, r._source_row, ?::timestamp,
               '{contract.PARSE_ERROR}', ['{contract.PARSE_ERROR}'],
               'line ' || r._source_row || ' could not be parsed: ' || r.message,
               r.original_line
        from _reject_rows r join _batch_files b on b.file_id = r._file_id""",
        [batch.loaded_at],
    )
    if not with_warnings:
        return
    con.execute(
        f"""insert into quarantine.rule_warnings
        select {quote_literal(table.name)}, {load_id}, b._source_file, n._source_row,
               w.rule, w.detail
        from (
            select rid, unnest(_warned_rules) as rule, null as detail from _checked
            where _ok and _warned_rules is not null
            union all
            select s.rid, s.rule, s.detail from _set_failures s
            where s.severity = 'warn'
        ) w
        join _checked n on n.rid = w.rid
        join _batch_files b on b.file_id = n._file_id
        where n._ok"""
    )


def _tally(con, batch: Batch) -> BatchTally:
    tally = BatchTally()
    paths = {file_id: str(f.path) for f, file_id in zip(batch.files, batch.file_ids, strict=True)}
    for file_id, read, quarantined in con.execute(
        """select _file_id, count(*), count(*) filter (where not _ok) from _checked group by 1
        union all
        select _file_id, count(*), count(*) from _reject_rows group by 1"""
    ).fetchall():
        counts = tally.per_file.setdefault(paths[file_id], [0, 0, 0])
        counts[0] += read
        counts[2] += quarantined
    for counts in tally.per_file.values():
        counts[1] = counts[0] - counts[2]
    tally.quarantine_by_rule.update(
        dict(
            con.execute(
                """select rule, count(*) from (
                    select unnest(_failed_rules) as rule from _checked
                    where _failed_rules is not null
                    union all select rule from _set_failures where severity = 'error'
                    union all select 'parse_error' from _reject_rows
                ) group by 1"""
            ).fetchall()
        )
    )
    tally.warnings_by_rule.update(
        dict(
            con.execute(
                """select rule, count(*) from (
                    select unnest(_warned_rules) as rule from _checked
                    where _ok and _warned_rules is not null
                    union all select s.rule from _set_failures s join _checked c
                        on c.rid = s.rid where s.severity = 'warn' and c._ok
                ) group by 1"""
            ).fetchall()
        )
    )
    return tally
