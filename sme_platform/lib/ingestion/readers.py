"""The source rows of a batch as one DuckDB relation: CSV and JSON lines through DuckDB's CSV reader
with known columns and its reject store, Parquet with its own row numbers, and a source's query
over the numbered rows. Every row carries its file id and (where the reader gives it) its row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sme_platform.lib.ingestion import contract
from sme_platform.lib.ingestion.results import FileRefused
from sme_platform.lib.ingestion.row_numbers import (
    check_read_in_order,
    create_reject_offsets,
    row_number_sql,
)
from sme_platform.lib.sources import SourceSpec
from sme_platform.lib.warehouse import quote_identifier, quote_literal

if TYPE_CHECKING:
    from sme_platform.lib.ingestion.batch import Batch


@dataclass(frozen=True)
class SourceRelation:
    sql: str  # a query whose rows are the source rows, with _file_id and _source_row
    columns: list[str]  # source columns the mapping may use
    numbered_by_rowid: bool  # True: _source_row comes from the read order
    original: str  # SQL over __src (the source row as a struct) giving the original values


def path_list(paths: list[Path]) -> str:
    return "[" + ", ".join(quote_literal(str(path)) for path in paths) + "]"


def file_id_sql(batch: Batch) -> str:
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


def reader_relation(batch: Batch) -> SourceRelation:
    paths = path_list(batch.reader_paths)
    spec = batch.spec
    file_id = file_id_sql(batch)
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
        original=json_of_fields(batch.columns or ()),
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
        rows, file_id = "p.* exclude (file_row_number)", file_id_sql(batch)
    return SourceRelation(
        sql=f"""select {rows}, {file_id} as _file_id, p.file_row_number + 1 as _source_row,
                   true as __format_ok
            from {reader}""",
        columns=list(columns),
        numbered_by_rowid=False,
        original=json_of_fields(columns),
    )


def json_of_fields(columns) -> str:
    if not columns:
        return "null::varchar"
    pairs = ", ".join(f"{quote_literal(c)}, __src.{quote_identifier(c)}" for c in columns)
    return f"json_object({pairs})::varchar"


def numbers_rows_first(spec: SourceSpec) -> bool:
    """A source defined by a query, or a mapping that reads _source_row, needs its rows numbered
    before the mapping runs (the fast path numbers them afterwards, from the read order)."""
    return bool(spec.query) or contract.mapping_uses_row_number(spec)


def source_relation(con, batch: Batch, numbered_first: bool) -> SourceRelation:
    relation = reader_relation(batch)
    if not numbered_first:
        return relation
    # The file rows are read and numbered first; a query (e.g. events collapsed to one row per
    # ticket) then runs over them as the view `source_rows`.
    con.execute(f"create temp table _src_table as {relation.sql}")
    if relation.numbered_by_rowid:
        check_read_in_order(
            con,
            """select b._source_file from _src_table t join _batch_files b on b.file_id = t._file_id
            group by 1 having max(t.rowid) - min(t.rowid) + 1 <> count(*)""",
        )
    create_reject_offsets(con, has_reject_store=batch.file_format != "parquet")
    numbering = row_number_sql("t", "f", "o") if relation.numbered_by_rowid else "t._source_row"
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
    refuse_values_in_unnamed_columns(con, batch)
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
        original=json_of_fields(names),
    )


def refuse_values_in_unnamed_columns(con, batch: Batch) -> None:
    """A source defined by a query cannot quarantine one line (its rows are the query's): a file
    with a value in its unnamed last column is refused whole, naming the first such line."""
    unnamed = contract.unnamed_columns(batch.columns or ())
    if not unnamed:
        return
    has_value = " or ".join(f"not {contract.unnamed_column_is_empty(c, 's')}" for c in unnamed)
    found = con.execute(
        f"""select s._file_id, min(s._source_row) from _src_numbered s where {has_value}
        group by 1 order by 1 limit 1"""
    ).fetchone()
    if found is None:
        return
    source_file = batch.files[batch.file_ids.index(found[0])]
    raise FileRefused(
        f"{source_file.path}: rejected: line {found[1]} has a value in the unnamed last column "
        "(the header ends with a delimiter); a source defined by a query cannot quarantine one "
        "line, so the file is held back whole",
        source_file,
    )
