"""Ingesting one canonical table: new files in, rows loaded or quarantined, every row accounted for.

The steps, all inside DuckDB and inside one transaction per table so that a failed load leaves
nothing half-written:

1. find the source's files, fingerprint them (sha256), skip the ones already loaded;
2. pre-check each new file (empty, unreadable, missing the columns the mapping needs): such a file
   is rejected as a whole, with a message naming the file and the reason, and the others go on;
3. read the files in batches of bounded size: CSV as text with DuckDB's reject store, so that a
   line that cannot be parsed is quarantined with its line number instead of failing the load;
4. map onto canonical columns, cast, and evaluate every row rule in one pass;
5. find set-level failures (duplicate keys, unknown foreign keys) with joins;
6. append good rows to raw.<table> and bad rows to quarantine.<table>, with the rules they broke
   and their original values; record warnings; log every file and the load.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from sme_platform.lib.canonical import CANONICAL_TABLES
from sme_platform.lib.ingestion import contract
from sme_platform.lib.ingestion.files import (
    SourceFile,
    check_jsonl_not_empty,
    fingerprint,
    read_csv_header,
    read_parquet_columns,
)
from sme_platform.lib.sources import SourceSpec
from sme_platform.lib.warehouse import (
    ensure_ingestion_tables,
    quote_identifier,
    quote_literal,
    table_exists,
)

# Bytes of source files read per batch: bounds memory whatever the number of files.
BATCH_BYTES = 384 * 1024 * 1024
GZIP_EXPANSION = 6  # a .gz file holds about this many bytes of text per byte on disk


@dataclass
class FileOutcome:
    path: str
    sha256: str
    size_bytes: int
    modified_at: datetime
    status: str  # loaded | rejected | already_loaded
    message: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0


@dataclass
class IngestResult:
    table: str
    load_id: str
    status: str  # loaded | no_new_files | no_files
    files: list[FileOutcome] = field(default_factory=list)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_warned: int = 0
    quarantine_by_rule: dict[str, int] = field(default_factory=dict)
    warnings_by_rule: dict[str, int] = field(default_factory=dict)
    skipped_rules: dict[str, str] = field(default_factory=dict)
    extra_source_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rejected_files(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "rejected"]

    @property
    def newest_file_modified_at(self) -> datetime | None:
        return max((f.modified_at for f in self.files), default=None)

    @property
    def quarantine_share(self) -> float:
        return self.rows_quarantined / self.rows_read if self.rows_read else 0.0


def ingest_table(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    *,
    run_id: str = "manual",
    now: datetime | None = None,
) -> IngestResult:
    started = time.perf_counter()
    now = now or datetime.now(UTC).replace(tzinfo=None)
    table = spec.canonical
    result = IngestResult(table=table.name, load_id=uuid.uuid4().hex[:16], status="loaded")
    ensure_ingestion_tables(con, table)
    paths = spec.matching_files()
    if not paths:
        result.status = "no_files"
        return result

    loaded_hashes = _loaded_hashes(con, table.name)
    new_files: list[SourceFile] = []
    for path in paths:
        source_file = fingerprint(path)
        if source_file.sha256 in loaded_hashes:
            result.files.append(_outcome(source_file, "already_loaded"))
        else:
            new_files.append(source_file)

    readable, headers, extra_columns = _precheck(con, spec, new_files, result)
    result.extra_source_columns = sorted(extra_columns)
    foreign_keys = _foreign_keys_in_force(con, spec, result)
    outcomes = {f.path: f for f in result.files}

    con.execute("begin transaction")
    try:
        for batch in _batches(readable, headers):
            columns = headers[batch[0].path][1]
            per_file = _load_batch(con, spec, batch, columns, foreign_keys, result, now)
            for source_file in batch:
                read, loaded, quarantined = per_file.get(str(source_file.path), (0, 0, 0))
                outcome = _outcome(source_file, "loaded", read, loaded, quarantined)
                result.files.append(outcome)
                outcomes[outcome.path] = outcome
        _log_load(con, result, run_id, now)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    result.rows_read = sum(f.rows_read for f in result.files if f.status == "loaded")
    if not new_files:
        result.status = "no_new_files"
    result.seconds = time.perf_counter() - started
    return result


def _outcome(source_file: SourceFile, status: str, read=0, loaded=0, quarantined=0, message=None):
    return FileOutcome(
        path=str(source_file.path),
        sha256=source_file.sha256,
        size_bytes=source_file.size_bytes,
        modified_at=source_file.modified_at,
        status=status,
        message=message,
        rows_read=read,
        rows_loaded=loaded,
        rows_quarantined=quarantined,
    )


def _loaded_hashes(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        "select distinct sha256 from raw.file_loads where table_name = ? and status = 'loaded'",
        [table],
    ).fetchall()
    return {sha for (sha,) in rows}


def _precheck(con, spec: SourceSpec, files: list[SourceFile], result: IngestResult):
    """Reject whole files that cannot be loaded at all; return the rest and any extra columns."""
    readable: list[SourceFile] = []
    headers: dict[Path, tuple[str, ...] | None] = {}
    extra: set[str] = set()
    needed_everywhere = None if spec.query else contract.source_column_references(spec)
    for source_file in files:
        try:
            columns = _file_columns(con, spec, source_file.path)
            if columns is not None and needed_everywhere is not None:
                expressions_as_names = {e for e in spec.columns.values() if e in columns}
                needed = contract.source_column_references(spec, set(columns))
                missing = sorted((needed | expressions_as_names) - set(columns))
                if missing:
                    raise ValueError(
                        f"missing column(s) {missing} that the mapping in sources.yaml needs; "
                        f"the header has {len(columns)} column(s): {columns[:12]}"
                        + (" (wrong delimiter?)" if len(columns) == 1 else "")
                    )
                extra.update(set(columns) - needed - expressions_as_names)
        except ValueError as error:
            message = f"{source_file.path}: rejected: {error}"
            result.files.append(_outcome(source_file, "rejected", message=message))
            continue
        readable.append(source_file)
        headers[source_file.path] = (
            spec.file_format(source_file.path),
            tuple(columns) if columns is not None else None,
        )
    return readable, headers, extra


def _file_columns(con, spec: SourceSpec, path: Path) -> list[str] | None:
    """Column names a file offers (None for JSON lines, whose keys vary by line)."""
    file_format = spec.file_format(path)
    if file_format == "csv":
        options = spec.options
        names = read_csv_header(
            path,
            delimiter=options.get("delimiter", ","),
            quote=options.get("quote", '"'),
            encoding=options.get("encoding", "utf-8"),
        )
        if not options.get("header", True):
            return [f"column{i}" for i in range(len(names))]
        return names
    if file_format == "parquet":
        return read_parquet_columns(con, path)
    check_jsonl_not_empty(path)
    return None


def _foreign_keys_in_force(con, spec: SourceSpec, result: IngestResult):
    """Foreign keys checked in this load; a key whose parent source is absent is skipped."""
    in_force = []
    for foreign_key in spec.canonical.foreign_keys:
        severity = contract.foreign_key_severity(spec, foreign_key)
        if severity is None:
            result.skipped_rules[foreign_key.name] = "switched off in sources.yaml"
        elif foreign_key.column not in spec.columns:
            result.skipped_rules[foreign_key.name] = f"{foreign_key.column} is not mapped"
        elif (
            not table_exists(con, "raw", foreign_key.parent_table)
            or not con.execute(f"select count(*) from raw.{foreign_key.parent_table}").fetchone()[0]
        ):
            result.skipped_rules[foreign_key.name] = (
                f"no rows in raw.{foreign_key.parent_table} (its source is absent or empty)"
            )
        else:
            in_force.append((foreign_key, severity))
    return in_force


def _batches(files: list[SourceFile], headers: dict) -> list[list[SourceFile]]:
    """Consecutive files with the same format and header, up to BATCH_BYTES per batch."""
    batches: list[list[SourceFile]] = []
    current: list[SourceFile] = []
    current_bytes = 0
    for source_file in files:
        size = source_file.size_bytes * (GZIP_EXPANSION if source_file.path.suffix == ".gz" else 1)
        header_changed = current and headers[source_file.path] != headers[current[0].path]
        if current and (header_changed or current_bytes + size > BATCH_BYTES):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(source_file)
        current_bytes += size
    if current:
        batches.append(current)
    return batches


def _path_list(batch: list[SourceFile]) -> str:
    return "[" + ", ".join(quote_literal(str(f.path)) for f in batch) + "]"


def _drop_batch_objects(con) -> None:
    for view in ("_src",):
        con.execute(f"drop view if exists {view}")
    for name in (
        "_src_table",
        "_reject_rows",
        "_reject_offsets",
        "_file_starts",
        "_checked",
        "_set_failures",
        "_bad",
        "_batch_files",
        "reject_errors",
        "reject_scans",
    ):
        con.execute(f"drop table if exists {name}")


def _csv_reader_arguments(options: dict, *, lines_only: bool, columns: tuple[str, ...]) -> str:
    # union_by_name cannot go with the reject store, so a batch only holds files whose headers
    # are identical (see _batches).
    arguments = ["filename = '_source_file'", "store_rejects = true"]
    if lines_only:
        # A JSON line is read whole as one text column, so a malformed line is one bad row.
        arguments += [
            "columns = {'_line': 'VARCHAR'}",
            "header = false",
            "delim = '\x1f'",
            "quote = ''",
            "escape = ''",
            "auto_detect = false",
        ]
    else:
        # The header was parsed in the pre-check, so DuckDB need not sniff: a sniffer reading a
        # sample would fail the whole file on one bad line (say a 3 MB field), where a reader
        # with known columns sends that line to the reject store and reads on.
        quote = options.get("quote", '"')
        column_types = ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in columns)
        arguments += [
            f"columns = {{{column_types}}}",
            "auto_detect = false",
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


def _create_text_source(
    con, spec: SourceSpec, batch: list[SourceFile], columns: tuple[str, ...], *, lines_only: bool
):
    """CSV or JSON lines: read as text into a table; number rows by file, skipping nothing."""
    arguments = _csv_reader_arguments(spec.options, lines_only=lines_only, columns=columns)
    con.execute(
        f"create temp table _src_table as select * from read_csv({_path_list(batch)}, {arguments})"
    )
    header_lines = 0 if lines_only or not spec.options.get("header", True) else 1
    line_offset = header_lines + int(spec.options.get("skip_rows", 0) or 0)
    # DuckDB reports rejected lines with their record number in the file; a good row's number is
    # its position among the good rows plus the number of rejected rows before it.
    con.execute(
        f"""create temp table _reject_rows as
        select s.file_path as _source_file, e.line::bigint - {line_offset} as _source_row,
               string_agg(distinct e.error_type::varchar || ': ' || e.error_message, '; ')
                   as message,
               first(e.csv_line) as original_line
        from reject_errors e join reject_scans s using (scan_id, file_id)
        group by all"""
    )
    con.execute(
        """create temp table _reject_offsets as
        select _source_file, good_rows_before, max(rejects_so_far) as rejects_so_far
        from (
            select _source_file,
                   _source_row - row_number() over w as good_rows_before,
                   row_number() over w as rejects_so_far
            from _reject_rows
            window w as (partition by _source_file order by _source_row)
        ) group by all"""
    )
    con.execute(
        """create temp table _file_starts as
        select _source_file, min(rowid) as first_rowid from _src_table group by all"""
    )
    if lines_only:
        keys = sorted(contract.source_column_references(spec))
        extracted = ", ".join(
            f"case when json_valid(t._line) then json_extract_string(t._line, "
            f"{quote_literal('$.' + _json_path_key(key))}) end as {quote_identifier(key)}"
            for key in keys
        )
        columns = f"t._line as __original, json_valid(t._line) as __format_ok, {extracted}"
    else:
        columns = "t.* exclude (_source_file, __good_position), true as __format_ok"
    con.execute(
        f"""create temp view _src as
        with positioned as (
            select t.*, t.rowid - f.first_rowid + 1 as __good_position
            from _src_table t join _file_starts f using (_source_file)
        )
        select t._source_file,
               t.__good_position + coalesce(o.rejects_so_far, 0) as _source_row,
               {columns}
        from positioned t
        asof left join _reject_offsets o
            on t._source_file = o._source_file and t.__good_position > o.good_rows_before"""
    )
    return [row[0] for row in con.execute("describe _src").fetchall()]


def _json_path_key(key: str) -> str:
    return '"' + key.replace('"', '\\"') + '"'


def _create_parquet_source(con, batch: list[SourceFile]):
    con.execute(
        "create temp table _reject_rows (_source_file varchar, _source_row bigint, "
        "message varchar, original_line varchar)"
    )
    con.execute(
        f"""create temp view _src as
        select _source_file, file_row_number + 1 as _source_row,
               * exclude (_source_file, file_row_number), true as __format_ok
        from read_parquet({_path_list(batch)}, filename = '_source_file',
                          file_row_number = true, union_by_name = true)"""
    )
    return [row[0] for row in con.execute("describe _src").fetchall()]


def _apply_query(con, spec: SourceSpec) -> list[str]:
    """A source defined by a query over its files (for example events collapsed to tickets)."""
    con.execute("alter view _src rename to _src_files")
    con.execute(
        f"create temp view _src as with source_rows as (select * from _src_files) {spec.query}"
    )
    columns = [row[0] for row in con.execute("describe _src").fetchall()]
    missing = contract.LINEAGE_NAMES - set(columns)
    if missing:
        raise ValueError(
            f"sources.{spec.table}.query must return {sorted(missing)} "
            "(for a grouped query, e.g. min(_source_row) as _source_row)"
        )
    if "__format_ok" not in columns:
        con.execute("alter view _src rename to _src_query")
        con.execute("create temp view _src as select *, true as __format_ok from _src_query")
        columns.append("__format_ok")
    return columns


def _load_batch(con, spec: SourceSpec, batch, columns, foreign_keys, result: IngestResult, now):
    table = spec.canonical
    _drop_batch_objects(con)
    for name in ("_src_files", "_src_query"):
        con.execute(f"drop view if exists {name}")
    file_format = spec.file_format(batch[0].path)
    if file_format == "parquet":
        source_columns = _create_parquet_source(con, batch)
    else:
        source_columns = _create_text_source(
            con, spec, batch, columns, lines_only=file_format == "jsonl"
        )
    if spec.query:
        source_columns = _apply_query(con, spec)
    con.execute("create temp table _batch_files (_source_file varchar, sha256 varchar)")
    con.executemany(
        "insert into _batch_files values (?, ?)", [(str(f.path), f.sha256) for f in batch]
    )
    available = set(source_columns) - {"__format_ok", "__original"}
    rules = contract.row_rules(spec, has_format_check=file_format == "jsonl")
    error_rules = [r for r in rules if r.severity == "error"]
    warn_rules = [r for r in rules if r.severity == "warn"]
    _create_checked(con, spec, available, error_rules, warn_rules)
    _find_set_failures(con, spec, foreign_keys)
    original = _original_values_expression(spec, source_columns)
    columns = ", ".join(contract.check_table_columns(table))
    lineage = f"{quote_literal(result.load_id)}, c._source_file, b.sha256, c._source_row"
    con.execute(
        f"""insert into raw.{table.name}
        select {columns}, {lineage}, ?::timestamp
        from _checked c join _batch_files b using (_source_file)
        where c.rowid not in (select rid from _bad)""",
        [now],
    )
    con.execute(
        f"""insert into quarantine.{table.name}
        select {lineage}, ?::timestamp, rules[1], rules,
               'breaks ' || array_to_string(rules, ', ')
                   || coalesce('; ' || c.detail, ''),
               {original}
        from (
            select c._source_file, c._source_row,
                   coalesce(c._failed_rules, []::varchar[]) || coalesce(s.rules, []::varchar[])
                       as rules,
                   s.detail
            from _checked c
            left join (
                select rid, list(rule order by rule) as rules,
                       string_agg(detail, '; ' order by rule) as detail
                from _set_failures where severity = 'error' group by rid
            ) s on s.rid = c.rowid
            where c.rowid in (select rid from _bad)
        ) c
        join _batch_files b using (_source_file)
        left join _src o on o._source_file = c._source_file and o._source_row = c._source_row""",
        [now],
    )
    con.execute(
        f"""insert into quarantine.{table.name}
        select {quote_literal(result.load_id)}, r._source_file, b.sha256, r._source_row,
               ?::timestamp, '{contract.PARSE_ERROR}', ['{contract.PARSE_ERROR}'],
               'line ' || r._source_row || ' could not be parsed: ' || r.message,
               r.original_line
        from _reject_rows r join _batch_files b using (_source_file)""",
        [now],
    )
    con.execute(
        f"""insert into quarantine.rule_warnings
        select {quote_literal(table.name)}, {quote_literal(result.load_id)}, c._source_file,
               c._source_row, w.rule, w.detail
        from (
            select rowid as rid, unnest(_warned_rules) as rule, null as detail from _checked
            where _warned_rules is not null and len(_warned_rules) > 0
            union all
            select rid, rule, detail from _set_failures where severity = 'warn'
        ) w
        join _checked c on c.rowid = w.rid
        where w.rid not in (select rid from _bad)"""
    )
    return _tally_batch(con, result)


def _create_checked(con, spec: SourceSpec, available: set[str], error_rules, warn_rules):
    table = spec.canonical
    mapped = ", ".join(
        f"{contract.mapped_expression(spec.columns[c.name], available)} as "
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
    try:
        con.execute(
            f"""create temp table _checked as
            with mapped as (
                select _source_file, _source_row, __format_ok, {mapped} from _src
            ),
            typed as (
                select *, {typed} from mapped
            ),
            judged as (
                select *, {contract.all_pass(error_rules)} as _ok,
                       {contract.all_pass(warn_rules)} as _warn_ok
                from typed
            )
            select _source_file, _source_row,
                   {", ".join(contract.check_table_columns(table))}, _ok,
                   case when _ok then null else {contract.failed_rules_list(error_rules)} end
                       as _failed_rules,
                   case when _warn_ok then null else {contract.failed_rules_list(warn_rules)} end
                       as _warned_rules
            from judged"""
        )
    except duckdb.BinderException as error:
        raise ValueError(
            f"sources.yaml: the mapping of {table.name} does not fit the source's columns "
            f"{sorted(available)}: {error}"
        ) from error


def _find_set_failures(con, spec: SourceSpec, foreign_keys) -> None:
    table = spec.canonical
    con.execute(
        "create temp table _set_failures "
        "(rid bigint, rule varchar, severity varchar, detail varchar)"
    )
    key = [quote_identifier(c) for c in table.primary_key]
    key_present = " and ".join(f"{k} is not null" for k in key)
    join_on = " and ".join(f"c.{k} = d.{k}" for k in key)
    key_list = ", ".join(key)
    # Within the batch, the first occurrence of a key is kept and the later ones quarantined.
    con.execute(
        f"""insert into _set_failures
        select c.rowid, '{contract.PRIMARY_KEY}', 'error',
               'duplicate key; first seen at ' || d.first_file || ' row ' || d.first_row
        from _checked c join (
            select {key_list},
                   -- first in file order (rowid order is not file order after the joins)
                   arg_min(rowid, (_source_file, _source_row)) as keep_rid,
                   arg_min(_source_file, (_source_file, _source_row)) as first_file,
                   arg_min(_source_row, (_source_file, _source_row)) as first_row
            from _checked where _ok and {key_present}
            group by all having count(*) > 1
        ) d on {join_on}
        where c._ok and c.rowid <> d.keep_rid"""
    )
    con.execute(
        f"""insert into _set_failures
        select c.rowid, '{contract.PRIMARY_KEY}', 'error',
               'key already loaded from ' || d._source_file || ' row ' || d._source_row
        from _checked c join raw.{table.name} d on {join_on}
        where c._ok"""
    )
    for foreign_key, severity in foreign_keys:
        column = quote_identifier(foreign_key.column)
        parent_column = quote_identifier(foreign_key.parent_column)
        con.execute(
            f"""insert into _set_failures
            select c.rowid, '{foreign_key.name}', '{severity}',
                   {quote_literal(foreign_key.column)} || ' ' || c.{column}
                       || ' not found in raw.{foreign_key.parent_table}'
            from _checked c
            where c._ok and c.{column} is not null
              and not exists (
                  select 1 from raw.{foreign_key.parent_table} p
                  where p.{parent_column} = c.{column}
              )"""
        )
    con.execute(
        """create temp table _bad as
        select rowid as rid, _source_file from _checked where not _ok
        union
        select s.rid, c._source_file from _set_failures s join _checked c on c.rowid = s.rid
        where s.severity = 'error'"""
    )


def _original_values_expression(spec: SourceSpec, source_columns: list[str]) -> str:
    if "__original" in source_columns:
        return "o.__original"
    names = [c for c in source_columns if c not in ("__format_ok", "_source_file", "_source_row")]
    pairs = ", ".join(f"{quote_literal(n)}, o.{quote_identifier(n)}" for n in names)
    return f"json_object({pairs})::varchar"


def _tally_batch(con, result: IngestResult) -> dict[str, tuple[int, int, int]]:
    """Per file: rows read, loaded, quarantined; also adds up rule counts for the result."""
    per_file: dict[str, list[int]] = {}
    rows = con.execute(
        """select _source_file, count(*) from _checked group by 1
        union all select _source_file, count(*) from _reject_rows group by 1"""
    ).fetchall()
    for path, count in rows:
        per_file.setdefault(path, [0, 0, 0])[0] += count
    quarantined = con.execute(
        """select _source_file, count(*) from _bad group by 1
        union all select _source_file, count(*) from _reject_rows group by 1"""
    ).fetchall()
    for path, count in quarantined:
        per_file.setdefault(path, [0, 0, 0])[2] += count
    for counts in per_file.values():
        counts[1] = counts[0] - counts[2]
    by_rule = Counter(result.quarantine_by_rule)
    by_rule.update(
        dict(
            con.execute(
                """select rule, count(*) from (
                    select unnest(_failed_rules) as rule from _checked where not _ok
                    union all select rule from _set_failures where severity = 'error'
                    union all select 'parse_error' from _reject_rows
                ) group by 1"""
            ).fetchall()
        )
    )
    result.quarantine_by_rule = dict(by_rule)
    warned = Counter(result.warnings_by_rule)
    warned.update(
        dict(
            con.execute(
                """select rule, count(*) from (
                    select unnest(_warned_rules) as rule from _checked
                    where _warned_rules is not null and rowid not in (select rid from _bad)
                    union all select rule from _set_failures s where severity = 'warn'
                      and rid not in (select rid from _bad)
                ) group by 1"""
            ).fetchall()
        )
    )
    result.warnings_by_rule = dict(warned)
    return {path: (c[0], c[1], c[2]) for path, c in per_file.items()}


def _log_load(con, result: IngestResult, run_id: str, now: datetime) -> None:
    """Count what landed from the tables themselves, so the conservation check is independent
    of the bookkeeping above, and log every file and the load."""
    result.rows_loaded = con.execute(
        f"select count(*) from raw.{result.table} where _load_id = ?", [result.load_id]
    ).fetchone()[0]
    result.rows_quarantined = con.execute(
        f"select count(*) from quarantine.{result.table} where _load_id = ?", [result.load_id]
    ).fetchone()[0]
    result.rows_warned = con.execute(
        "select count(distinct (_source_file, _source_row)) from quarantine.rule_warnings "
        "where _load_id = ?",
        [result.load_id],
    ).fetchone()[0]
    con.executemany(
        "insert into raw.file_loads values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                result.table,
                result.load_id,
                run_id,
                f.path,
                f.sha256,
                f.size_bytes,
                f.modified_at,
                f.status,
                f.message,
                f.rows_read,
                f.rows_loaded,
                f.rows_quarantined,
                now,
            )
            for f in result.files
        ],
    )
    statuses = Counter(f.status for f in result.files)
    con.execute(
        "insert into raw.loads values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            result.table,
            result.load_id,
            run_id,
            now,
            datetime.now(UTC).replace(tzinfo=None),
            statuses["loaded"],
            statuses["rejected"],
            statuses["already_loaded"],
            sum(f.rows_read for f in result.files if f.status == "loaded"),
            result.rows_loaded,
            result.rows_quarantined,
            result.rows_warned,
        ],
    )


def known_tables() -> list[str]:
    return list(CANONICAL_TABLES)
