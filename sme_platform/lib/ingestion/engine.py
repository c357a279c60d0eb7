"""Ingesting one canonical table: new files in, rows loaded or quarantined, every row accounted for.

The steps, all inside DuckDB:

1. find the source's files, fingerprint them (sha256), skip the ones already loaded;
2. pre-check each new file (empty, unreadable, missing the columns the mapping needs): such a file
   is rejected as a whole, with a message naming the file and the reason, and the others go on;
3. read the files in batches of bounded size: CSV as text with DuckDB's reject store, so that a
   line that cannot be parsed is quarantined with its line number instead of failing the load;
4. map onto canonical columns, cast, and evaluate every row rule in one pass, writing the rows
   straight into raw_store.<table>, where they stay invisible until step 6;
5. find set-level failures over the batch's rows: unknown foreign keys, duplicates within the
   batch, keys loaded before;
6. move bad rows to quarantine.<table>, with the rules they broke and their original values;
   record warnings; log every file, which publishes its good rows; log the load.

Steps 5 and 6 of each batch are one transaction, with the log of its files: a file is loaded
whole, with its record in raw.file_loads, or not at all. A batch that fails has its rows deleted
again; rows left by a process killed mid-batch have no file record, so no reader sees them, and
the next load deletes them first. A load that dies halfway keeps the batches it committed (a
two-year backfill does not start over) and the next load reads the remaining files. The load's
own record in raw.loads is written last, so a load without one did not finish.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from sme_platform.lib.ingestion import contract
from sme_platform.lib.ingestion.batch import (
    Batch,
    discard_batch,
    discard_unpublished_rows,
    land_batch,
    write_batch,
)
from sme_platform.lib.ingestion.files import (
    SourceFile,
    check_jsonl_not_empty,
    fingerprint,
    read_csv_header,
    read_parquet_columns,
)
from sme_platform.lib.sources import SourcesConfigError, SourceSpec
from sme_platform.lib.warehouse import (
    RAW_STORE_SCHEMA,
    ensure_ingestion_tables,
    insert_rows,
    reserve_file_ids,
    table_exists,
    transaction,
)

# Bytes of source files read per batch. A batch's rows go straight into storage, so memory grows
# little with it; the bound keeps a killed backfill's lost work, and one transaction's deletes
# and checks, moderate. Batches stay few: each pays fixed costs and a join with the rows loaded
# before (a two-year medium backfill, 780 MB, is one batch).
BATCH_BYTES = 2 * 1024 * 1024 * 1024
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
    file_id: int | None = None  # its record's id in raw.file_loads, for a loaded file


@dataclass
class IngestResult:
    table: str
    load_id: str
    status: str  # loaded | no_new_files | no_files
    files: list[FileOutcome] = field(default_factory=list)
    rows_read: int = 0  # records checked against the contract (after a source's query)
    file_rows_read: int = 0  # rows read from the files (before a source's query)
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_warned: int = 0
    files_replaced: int = 0  # files whose earlier version was loaded and is now replaced
    rows_replaced: int = 0  # rows of those earlier versions, removed from raw
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
    rejected_files_dir: Path | None = None,
) -> IngestResult:
    """Load the source's new files into raw.<table>. A file rejected whole is also copied to
    `rejected_files_dir` (named by its sha256), so it is kept even if the export folder is
    cleaned up before anyone looks at it."""
    # Two loads of one table at once would delete each other's unpublished rows; DuckDB keeps
    # other processes out, this keeps other threads of this one.
    with _TABLE_LOCKS.setdefault(spec.canonical.name, threading.Lock()):
        return _ingest_table(con, spec, run_id, now, rejected_files_dir)


_TABLE_LOCKS: dict[str, threading.Lock] = {}


def _ingest_table(con, spec: SourceSpec, run_id, now, rejected_files_dir) -> IngestResult:
    started = time.perf_counter()
    now = now or datetime.now(UTC).replace(tzinfo=None)
    table = spec.canonical
    result = IngestResult(table=table.name, load_id=uuid.uuid4().hex[:16], status="loaded")
    ensure_ingestion_tables(con, table)
    discard_unpublished_rows(con, table.name)
    paths = spec.matching_files()
    if not paths:
        result.status = "no_files"
        return result

    new_files, changed = _new_files(con, table.name, paths, result)
    readable, headers, extra_columns = _precheck(con, spec, new_files, result)
    if rejected_files_dir is not None:
        for outcome in result.rejected_files:
            outcome.message += f"; a copy is kept at {_keep_copy(outcome, rejected_files_dir)}"
    result.extra_source_columns = sorted(extra_columns)
    foreign_keys = _foreign_keys_in_force(con, spec, result)

    quarantine_by_rule: Counter = Counter()
    warnings_by_rule: Counter = Counter()
    for files in _batches(readable, headers):
        file_format, columns = headers[files[0].path]
        file_ids = reserve_file_ids(con, len(files))
        batch = Batch(spec, files, file_format, columns, result.load_id, now, tuple(file_ids))
        try:
            landed = land_batch(con, batch)
            with transaction(con):
                if spec.changed_files == "replace":
                    _retire_previous_versions(
                        con, table.name, [f for f in changed if f in files], result
                    )
                tally = write_batch(
                    con,
                    batch,
                    landed,
                    foreign_keys,
                    rows_loaded_before=_has_published_rows(con, table.name),
                )
                _refuse_files_changed_while_read(table.name, files)
                outcomes = [
                    _outcome(
                        source_file,
                        "loaded",
                        *tally.per_file.get(str(source_file.path), (0, 0, 0)),
                        file_id=file_id,
                    )
                    for source_file, file_id in zip(files, file_ids, strict=True)
                ]
                _log_files(con, result, outcomes, run_id, now)
        except BaseException:
            _discard_failed_batch(con, batch)
            raise
        result.files.extend(outcomes)
        result.file_rows_read += tally.file_rows
        quarantine_by_rule.update(tally.quarantine_by_rule)
        warnings_by_rule.update(tally.warnings_by_rule)
    result.quarantine_by_rule = dict(quarantine_by_rule)
    result.warnings_by_rule = dict(warnings_by_rule)
    with transaction(con):
        _log_files(con, result, [f for f in result.files if f.status != "loaded"], run_id, now)
        _log_load(con, result, run_id, now)
    result.rows_read = sum(f.rows_read for f in result.files if f.status == "loaded")
    if not new_files:
        result.status = "no_new_files"
    result.seconds = time.perf_counter() - started
    return result


def _outcome(
    source_file: SourceFile,
    status: str,
    read=0,
    loaded=0,
    quarantined=0,
    message=None,
    file_id=None,
):
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
        file_id=file_id,
    )


class FileChangedWhileReading(RuntimeError):
    """A source file changed between its fingerprint and the end of the read."""


def _refuse_files_changed_while_read(table: str, files: list[SourceFile]) -> None:
    """An export still being written when the run read it would load rows that do not match the
    recorded sha256; the file's batch is rolled back instead and the next run reads the file."""
    for source_file in files:
        stat = source_file.path.stat()
        if stat.st_size != source_file.size_bytes or stat.st_mtime_ns != source_file.mtime_ns:
            raise FileChangedWhileReading(
                f"{source_file.path} changed while it was being read (an export still being "
                f"written?); nothing of its batch was loaded into raw.{table} (batches "
                "committed before it stay loaded); the next run loads it"
            )


def _keep_copy(outcome: FileOutcome, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / f"{outcome.sha256[:16]}-{Path(outcome.path).name}"
    if not copy.exists():
        shutil.copy2(outcome.path, copy)
    return copy


def _new_files(con, table: str, paths: list[Path], result: IngestResult):
    """Fingerprint the matching files; those whose content is loaded already are noted and
    skipped. Returns the new ones, and among them new versions of already-loaded paths."""
    loaded_versions = _loaded_versions(con, table)
    loaded_hashes = {sha for shas in loaded_versions.values() for sha in shas}
    new_files: list[SourceFile] = []
    # hashlib lets go of the GIL while it hashes, so threads hash files on every core: half
    # the time of hashing 780 MB one file after the other on two cores (1.1 s, measured).
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        fingerprints = list(pool.map(fingerprint, paths))
    for source_file in fingerprints:
        if source_file.sha256 in loaded_hashes:
            result.files.append(_outcome(source_file, "already_loaded"))
        else:
            new_files.append(source_file)
    changed = [f for f in new_files if str(f.path) in loaded_versions]
    return new_files, changed


def table_data_version(con, table: str) -> str:
    """The identity of what raw.<table> holds: a hash of the content hashes of the file versions
    whose rows are in it. Unchanged when a run finds nothing new, changed by any new or replaced
    file; downstream stages version their outputs on it."""
    shas = [
        sha
        for (sha,) in con.execute(
            "select distinct sha256 from raw.file_loads "
            "where table_name = ? and status = 'loaded' order by 1",
            [table],
        ).fetchall()
    ]
    return hashlib.sha256("\n".join(shas).encode()).hexdigest()[:24]


def _has_published_rows(con, table: str) -> bool:
    return con.execute(f"select exists (select 1 from raw.{table})").fetchone()[0]


def _discard_failed_batch(con, batch: Batch) -> None:
    """Delete the rows a failed batch landed. If DuckDB cannot (the error that failed the batch
    may have broken the connection), they stay invisible and the next load deletes them."""
    with contextlib.suppress(duckdb.Error):
        discard_batch(con, batch)


def _loaded_versions(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, set[str]]:
    """For each file path, the sha256 of the versions whose rows are in the warehouse now."""
    versions: dict[str, set[str]] = {}
    for path, sha in con.execute(
        "select source_file, sha256 from raw.file_loads where table_name = ? and status = 'loaded'",
        [table],
    ).fetchall():
        versions.setdefault(path, set()).add(sha)
    return versions


def _retire_previous_versions(con, table: str, files: list[SourceFile], result) -> None:
    """A new version of a file replaces the rows its earlier versions loaded (and their
    quarantine and warnings), so re-exported files are neither lost nor counted twice."""
    for source_file in files:
        path = str(source_file.path)
        deleted = con.execute(
            f"""delete from {RAW_STORE_SCHEMA}.{table} where _file_id in (
                select file_id from raw.file_loads
                where table_name = ? and source_file = ? and status = 'loaded')""",
            [table, path],
        ).fetchone()
        con.execute(f"delete from quarantine.{table} where _source_file = ?", [path])
        con.execute(
            "delete from quarantine.rule_warnings where table_name = ? and _source_file = ?",
            [table, path],
        )
        con.execute(
            "update raw.file_loads set status = 'superseded' "
            "where table_name = ? and source_file = ? and status = 'loaded'",
            [table, path],
        )
        result.rows_replaced += deleted[0] if deleted else 0
        result.files_replaced += 1


def _precheck(con, spec: SourceSpec, files: list[SourceFile], result: IngestResult):
    """Reject whole files that cannot be loaded at all; return the rest and any extra columns."""
    readable: list[SourceFile] = []
    headers: dict[Path, tuple[str, ...] | None] = {}
    extra: set[str] = set()
    needed_by_header: dict[tuple[str, ...], set[str]] = {}  # daily files share one header
    for source_file in files:
        try:
            if any(character in str(source_file.path) for character in "*?["):
                raise ValueError(
                    "its path has a wildcard character (*, ? or [), which DuckDB's reader would "
                    "expand to other files; rename the file"
                )
            columns = _file_columns(con, spec, source_file.path)
            if columns is not None:
                _check_header_names(columns)
            # A query reads whatever it likes from source_rows; DuckDB reports what is missing.
            if columns is not None and not spec.query:
                key = tuple(columns)
                if key not in needed_by_header:
                    needed_by_header[key] = contract.source_column_references(spec, set(key))
                needed = needed_by_header[key]
                missing = sorted(needed - set(columns))
                if missing:
                    raise ValueError(
                        f"missing column(s) {missing} that the mapping in sources.yaml needs; "
                        f"the header has {len(columns)} column(s): {columns[:12]}"
                        + (" (wrong delimiter?)" if len(columns) == 1 else "")
                    )
                extra.update(set(columns) - needed)
        except SourcesConfigError:
            raise  # the mapping is wrong, not the file: fail the load, reject nothing
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


def _check_header_names(columns: list[str]) -> None:
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise ValueError(f"the header names column(s) {duplicates} more than once")
    if any(not c for c in columns):
        position = [i + 1 for i, c in enumerate(columns) if not c]
        raise ValueError(f"the header has empty column name(s) at position(s) {position}")


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


FILE_LOG_COLUMNS = [
    "table_name",
    "load_id",
    "run_id",
    "source_file",
    "sha256",
    "size_bytes",
    "modified_at",
    "status",
    "message",
    "rows_read",
    "rows_loaded",
    "rows_quarantined",
    "loaded_at",
    "file_id",
]


def _log_files(con, result: IngestResult, outcomes: list[FileOutcome], run_id, now) -> None:
    if not outcomes:
        return
    insert_rows(
        con,
        "raw.file_loads",
        FILE_LOG_COLUMNS,
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
                f.file_id,
            )
            for f in outcomes
        ],
    )


def _log_load(con, result: IngestResult, run_id: str, now: datetime) -> None:
    """Count what landed from the tables themselves, so the conservation check is independent
    of the bookkeeping above, and log the load."""
    result.rows_loaded = con.execute(
        f"""select count(*) from {RAW_STORE_SCHEMA}.{result.table} where _file_id in (
            select file_id from raw.file_loads where load_id = ?)""",
        [result.load_id],
    ).fetchone()[0]
    result.rows_quarantined = con.execute(
        f"select count(*) from quarantine.{result.table} where _load_id = ?", [result.load_id]
    ).fetchone()[0]
    result.rows_warned = con.execute(
        "select count(distinct (_source_file, _source_row)) from quarantine.rule_warnings "
        "where _load_id = ?",
        [result.load_id],
    ).fetchone()[0]
    statuses = Counter(f.status for f in result.files)
    con.execute(
        "insert into raw.loads values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            result.table,
            result.load_id,
            run_id,
            now,
            datetime.now(UTC).replace(tzinfo=None),
            statuses["loaded"],
            statuses["rejected"],
            statuses["already_loaded"],
            result.file_rows_read,
            sum(f.rows_read for f in result.files if f.status == "loaded"),
            result.rows_loaded,
            result.rows_quarantined,
            result.rows_warned,
        ],
    )
