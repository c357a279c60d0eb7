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
import re
import shutil
import tempfile
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
    fingerprint,
    read_parquet_columns,
)
from sme_platform.lib.ingestion.text_files import (
    TextLayout,
    gzip_stream_error,
    read_csv_head,
    read_jsonl_layout,
    write_normalized_copy,
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
    readable, plans, extra_columns = _precheck(con, spec, new_files, result)
    if rejected_files_dir is not None:
        for outcome in result.rejected_files:
            outcome.message += f"; a copy is kept at {_keep_copy(outcome, rejected_files_dir)}"
    result.extra_source_columns = sorted(extra_columns)
    foreign_keys = _foreign_keys_in_force(con, spec, result)

    loader = _BatchLoader(con, spec, result, changed, foreign_keys, run_id, now, plans)
    with tempfile.TemporaryDirectory(prefix="sme-platform-copies-") as copies_dir:
        loader.copies_dir = Path(copies_dir)
        for files in _batches(readable, plans):
            loader.load_isolating_file_faults(files)
    for outcome in loader.rejected_while_reading:
        if rejected_files_dir is not None:
            outcome.message += f"; a copy is kept at {_keep_copy(outcome, rejected_files_dir)}"
    quarantine_by_rule, warnings_by_rule = loader.quarantine_by_rule, loader.warnings_by_rule
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


# Errors with which DuckDB's readers (CSV, JSON lines through the CSV reader, Parquet, gzip)
# refuse a file's bytes. They belong to one file, not to the load: that file is isolated and the
# others load. Config errors (a mapping that does not fit) and DuckDB's own failures (out of
# memory, internal errors) are not among them and still fail the load.
FILE_FAULTS = (
    duckdb.InvalidInputException,
    duckdb.IOException,
    duckdb.ConversionException,
)
# How DuckDB's messages name the file: `file = <path>` (CSV), `reading file "<path>"` (Parquet).
_FAULT_FILE_NAMED = re.compile(
    r'^\s*file = (?P<path>.+?)\s*$|reading file "(?P<quoted>[^"]+)"', re.MULTILINE
)


class _BatchLoader:
    """Loads batches of files; a file whose bytes a reader refuses is found (by the reader's
    message, else by halving the batch), read through a normalized copy where that can help
    (mixed line endings), else rejected with the reader's reason, and the rest load."""

    def __init__(self, con, spec, result, changed, foreign_keys, run_id, now, plans):
        self.con, self.spec, self.result = con, spec, result
        self.changed, self.foreign_keys = changed, foreign_keys
        self.run_id, self.now, self.plans = run_id, now, plans
        self.copies_dir: Path | None = None
        self.quarantine_by_rule: Counter = Counter()
        self.warnings_by_rule: Counter = Counter()
        self.rejected_while_reading: list[FileOutcome] = []

    def load_isolating_file_faults(self, files: list[SourceFile], *, copied: bool = False):
        plan = self.plans[files[0].path]
        copied = copied or plan.copy_reason is not None
        try:
            self._load(files, copied=copied)
            return
        except FileChangedWhileReading as error:
            fault, culprit = error, error.source_file
        except FILE_FAULTS as error:
            fault, culprit = error, _file_named_in(error, files, copied)
        if len(files) > 1:
            if culprit is None:  # the reader did not say which file: halve the batch
                middle = len(files) // 2
                parts = [files[:middle], files[middle:]]
            else:  # in file order, so the first occurrence of a key stays the first loaded
                at = files.index(culprit)
                parts = [files[:at], [culprit], files[at + 1 :]]
            for part in filter(None, parts):
                self.load_isolating_file_faults(part, copied=copied)
            return
        (source_file,) = files
        if (
            not copied
            and plan.file_format != "parquet"
            and not isinstance(fault, FileChangedWhileReading)
        ):
            try:
                self._load(files, copied=True)
                return
            except FILE_FAULTS as error:
                fault = error
            except ValueError as error:  # the copy itself could not be made
                fault = error
        self._reject(source_file, fault)

    def _load(self, files: list[SourceFile], *, copied: bool) -> None:
        plan = self.plans[files[0].path]
        read_paths = tuple(self._copy(f, plan) for f in files) if copied else ()
        file_ids = reserve_file_ids(self.con, len(files))
        batch = Batch(
            self.spec,
            files,
            plan.file_format,
            plan.columns,
            self.result.load_id,
            self.now,
            tuple(file_ids),
            read_paths=read_paths,
        )
        con, table = self.con, self.spec.canonical.name
        try:
            landed = land_batch(con, batch)
            with transaction(con):
                if self.spec.changed_files == "replace":
                    replaced = [f for f in self.changed if f in files]
                    _retire_previous_versions(con, table, replaced, self.result)
                tally = write_batch(
                    con,
                    batch,
                    landed,
                    self.foreign_keys,
                    rows_loaded_before=_has_published_rows(con, table),
                )
                _refuse_files_changed_while_read(table, files)
                outcomes = [
                    _outcome(
                        source_file,
                        "loaded",
                        *tally.per_file.get(str(source_file.path), (0, 0, 0)),
                        file_id=file_id,
                    )
                    for source_file, file_id in zip(files, file_ids, strict=True)
                ]
                _log_files(con, self.result, outcomes, self.run_id, self.now)
        except BaseException:
            _discard_failed_batch(con, batch)
            raise
        self.result.files.extend(outcomes)
        self.result.file_rows_read += tally.file_rows
        self.quarantine_by_rule.update(tally.quarantine_by_rule)
        self.warnings_by_rule.update(tally.warnings_by_rule)

    def _copy(self, source_file: SourceFile, plan: ReadPlan) -> Path:
        """A normalized UTF-8 copy with LF line endings, read in place of the file."""
        assert self.copies_dir is not None
        target = self.copies_dir / f"{source_file.sha256[:16]}-{source_file.path.name}"
        if target.suffix == ".gz":
            target = target.with_suffix("")
        if not target.exists():
            write_normalized_copy(
                source_file.path,
                target,
                encoding=self.spec.options.get("encoding", "utf-8"),
                byte_order_mark=plan.byte_order_mark,
            )
        return target

    def _reject(self, source_file: SourceFile, fault: BaseException) -> None:
        if isinstance(fault, FileChangedWhileReading):
            message = str(fault)
        else:
            reason = str(fault).strip().splitlines()[0] if str(fault).strip() else repr(fault)
            message = f"{source_file.path}: rejected: cannot be read: {reason}"
        outcome = _outcome(source_file, "rejected", message=message)
        self.result.files.append(outcome)
        self.rejected_while_reading.append(outcome)


def _file_named_in(error: Exception, files: list[SourceFile], copied: bool):
    """The batch's file that a reader's message names (DuckDB's CSV errors say `file = ...`)."""
    match = _FAULT_FILE_NAMED.search(str(error))
    if match is None:
        return None
    named = match.group("path") or match.group("quoted")
    for source_file in files:
        if str(source_file.path) == named or (
            copied and Path(named).name.endswith(source_file.path.name.removesuffix(".gz"))
        ):
            return source_file
    return None


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

    def __init__(self, message: str, source_file: SourceFile):
        super().__init__(message)
        self.source_file = source_file


def _refuse_files_changed_while_read(table: str, files: list[SourceFile]) -> None:
    """An export still being written when the run read it would load rows that do not match the
    recorded sha256; the file's batch is rolled back instead and the next run reads the file."""
    for source_file in files:
        stat = source_file.path.stat()
        if stat.st_size != source_file.size_bytes or stat.st_mtime_ns != source_file.mtime_ns:
            raise FileChangedWhileReading(
                f"{source_file.path} changed while it was being read (an export still being "
                f"written?); nothing of it was loaded into raw.{table}; the next run loads it",
                source_file,
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


@dataclass(frozen=True)
class ReadPlan:
    """How a file is read: files with equal plans can share one batch."""

    file_format: str
    columns: tuple[str, ...] | None  # CSV/Parquet header; None for JSON lines
    copy_reason: str | None = None  # why it is read through a normalized copy
    byte_order_mark: str | None = None  # the codec its byte-order mark names


def _precheck(con, spec: SourceSpec, files: list[SourceFile], result: IngestResult):
    """Reject whole files that cannot be loaded at all; return the rest, how to read each, and
    any extra columns."""
    readable: list[SourceFile] = []
    plans: dict[Path, ReadPlan] = {}
    extra: set[str] = set()
    needed_by_header: dict[tuple[str, ...], set[str]] = {}  # daily files share one header
    gzip_errors = _gzip_errors([f.path for f in files if f.path.suffix == ".gz"])
    for source_file in files:
        try:
            if any(character in str(source_file.path) for character in "*?["):
                raise ValueError(
                    "its path has a wildcard character (*, ? or [), which DuckDB's reader would "
                    "expand to other files; rename the file"
                )
            if gzip_errors.get(source_file.path):
                raise ValueError(gzip_errors[source_file.path])
            columns, layout = _file_columns(con, spec, source_file.path)
            if columns is not None:
                columns = _name_trailing_empty_columns(columns)
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
                extra.update(set(columns) - needed - set(contract.unnamed_columns(columns)))
        except SourcesConfigError:
            raise  # the mapping is wrong, not the file: fail the load, reject nothing
        except ValueError as error:
            message = f"{source_file.path}: rejected: {error}"
            result.files.append(_outcome(source_file, "rejected", message=message))
            continue
        readable.append(source_file)
        plans[source_file.path] = ReadPlan(
            spec.file_format(source_file.path),
            tuple(columns) if columns is not None else None,
            copy_reason=layout.needs_copy if layout else None,
            byte_order_mark=layout.byte_order_mark if layout else None,
        )
    return readable, plans, extra


def _gzip_errors(paths: list[Path]) -> dict[Path, str | None]:
    """Check gzip files whole (zlib lets go of the GIL: one thread per core)."""
    if not paths:
        return {}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return dict(zip(paths, pool.map(gzip_stream_error, paths), strict=True))


def _name_trailing_empty_columns(columns: list[str]) -> list[str]:
    """A delimiter at the end of every line (common in ERP exports) makes an unnamed last
    column. It is read under a name of its own; a row with a value in it is quarantined (see
    contract.unnamed_column_rules), so nothing is dropped unseen."""
    named = list(columns)
    position = len(named)
    while position > 1 and not named[position - 1]:
        named[position - 1] = contract.unnamed_column_name(position)
        position -= 1
    return named


def _check_header_names(columns: list[str]) -> None:
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise ValueError(f"the header names column(s) {duplicates} more than once")
    if any(not c for c in columns):
        position = [i + 1 for i, c in enumerate(columns) if not c]
        raise ValueError(f"the header has empty column name(s) at position(s) {position}")


def _file_columns(con, spec: SourceSpec, path: Path) -> tuple[list[str] | None, TextLayout | None]:
    """Column names a file offers (None for JSON lines, whose keys vary by line), and the
    layout of a text file."""
    file_format = spec.file_format(path)
    if file_format == "csv":
        options = spec.options
        head = read_csv_head(
            path,
            delimiter=options.get("delimiter", ","),
            quote=options.get("quote", '"'),
            encoding=options.get("encoding", "utf-8"),
        )
        if not options.get("header", True):
            return [f"column{i}" for i in range(len(head.columns))], head.layout
        return head.columns, head.layout
    if file_format == "parquet":
        return read_parquet_columns(con, path), None
    return None, read_jsonl_layout(path)


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


def _batches(files: list[SourceFile], plans: dict) -> list[list[SourceFile]]:
    """Consecutive files read the same way (format, header, copy), up to BATCH_BYTES each."""
    batches: list[list[SourceFile]] = []
    current: list[SourceFile] = []
    current_bytes = 0
    for source_file in files:
        size = source_file.size_bytes * (GZIP_EXPANSION if source_file.path.suffix == ".gz" else 1)
        header_changed = current and plans[source_file.path] != plans[current[0].path]
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
