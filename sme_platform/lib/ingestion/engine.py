"""Ingesting one canonical table: new files in, rows loaded or quarantined, every row accounted for.

The steps, all inside DuckDB, each in its own module:

1. `file_versions`: find the source's files, fingerprint them (sha256), skip the ones already
   loaded, note new versions of files loaded before;
2. `precheck` (with `text_files`): reject a file that cannot be loaded at all (empty, not text,
   gzip cut short, missing the columns the mapping needs) with a message naming it and the
   reason; plan how to read the others (a normalized copy for UTF-16 or CR line endings);
3. `batch_loader`: read the files in batches of bounded size, keeping a file's fault with that
   file (a file the reader refuses is isolated, retried through a normalized copy, or rejected);
4. `batch` (with `readers`, `checked_pass`, `row_numbers`): map onto canonical columns, cast and
   evaluate every row rule in one pass, writing the rows straight into raw_store.<table>, where
   they stay invisible until step 6; CSV lines that cannot be parsed keep their line numbers;
5. `set_rules`: find set-level failures over the batch's rows: unknown foreign keys, duplicates
   within the batch, keys loaded before;
6. `quarantine` and `load_log`: move bad rows to quarantine.<table>, with the rules they broke
   and their original values; record warnings; log every file, which publishes its good rows;
   log the load.

Steps 5 and 6 of each batch are one transaction, with the log of its files: a file is loaded
whole, with its record in raw.file_loads, or not at all. A batch that fails has its rows deleted
again; rows left by a process killed mid-batch have no file record, so no reader sees them, and
the next load deletes them first. A load that dies halfway keeps the batches it committed (a
two-year backfill does not start over) and the next load reads the remaining files. The load's
own record in raw.loads is written last, so a load without one did not finish.
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from sme_platform.lib.ingestion import contract
from sme_platform.lib.ingestion.batch import discard_unpublished_rows
from sme_platform.lib.ingestion.batch_loader import BatchLoader, LoadSteps
from sme_platform.lib.ingestion.file_versions import find_new_files
from sme_platform.lib.ingestion.files import SourceFile, keep_copy
from sme_platform.lib.ingestion.load_log import log_files, log_load
from sme_platform.lib.ingestion.precheck import precheck
from sme_platform.lib.ingestion.results import FileStatus, IngestResult, LoadStatus
from sme_platform.lib.sources import SourceSpec
from sme_platform.lib.warehouse import ensure_ingestion_tables, table_exists, transaction

GZIP_EXPANSION = 6  # a .gz file holds about this many bytes of text per byte on disk


def ingest_table(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    *,
    run_id: str = "manual",
    now: datetime | None = None,
    rejected_files_dir: Path | None = None,
    steps: LoadSteps | None = None,
) -> IngestResult:
    """Load the source's new files into raw.<table>. A file rejected whole is also copied to
    `rejected_files_dir` (named by its sha256), so it is kept even if the export folder is
    cleaned up before anyone looks at it. `steps` replaces the per-batch steps (tests)."""
    # Two loads of one table at once would delete each other's unpublished rows; DuckDB keeps
    # other processes out, this keeps other threads of this one.
    with _TABLE_LOCKS.setdefault(spec.canonical.name, threading.Lock()):
        return _ingest_table(con, spec, run_id, now, rejected_files_dir, steps or LoadSteps())


_TABLE_LOCKS: dict[str, threading.Lock] = {}


def _ingest_table(
    con, spec: SourceSpec, run_id, now, rejected_files_dir, steps: LoadSteps
) -> IngestResult:
    started = time.perf_counter()
    now = now or datetime.now(UTC).replace(tzinfo=None)
    table = spec.canonical
    result = IngestResult(table=table.name, load_id=uuid.uuid4().hex[:16], status=LoadStatus.LOADED)
    ensure_ingestion_tables(con, table)
    discard_unpublished_rows(con, table.name)
    paths = spec.matching_files()
    if not paths:
        result.status = LoadStatus.NO_FILES
        return result

    new_files, changed = find_new_files(con, table.name, paths, result)
    readable, plans, extra_columns = precheck(con, spec, new_files, result)
    result.extra_source_columns = sorted(extra_columns)
    foreign_keys = _foreign_keys_in_force(con, spec, result)

    loader = BatchLoader(con, spec, result, changed, foreign_keys, run_id, now, plans, steps)
    with tempfile.TemporaryDirectory(prefix="sme-platform-copies-") as copies_dir:
        loader.copies_dir = Path(copies_dir)
        for files in _batches(readable, plans, steps.batch_bytes):
            loader.load_isolating_file_faults(files)
    # Rejected in the pre-check or while read: either way a copy is kept.
    if rejected_files_dir is not None:
        for outcome in result.rejected_files:
            outcome.message += f"; a copy is kept at {keep_copy(outcome, rejected_files_dir)}"
    result.quarantine_by_rule = dict(loader.quarantine_by_rule)
    result.warnings_by_rule = dict(loader.warnings_by_rule)
    not_loaded = [f for f in result.files if f.status != FileStatus.LOADED]
    with transaction(con):
        log_files(con, result, not_loaded, run_id, now)
        log_load(con, result, run_id, now)
    result.rows_read = sum(f.rows_read for f in result.files if f.status == FileStatus.LOADED)
    if not new_files:
        result.status = LoadStatus.NO_NEW_FILES
    result.seconds = time.perf_counter() - started
    return result


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


def _batches(files: list[SourceFile], plans: dict, batch_bytes: int) -> list[list[SourceFile]]:
    """Consecutive files read the same way (format, header, copy), up to batch_bytes each."""
    batches: list[list[SourceFile]] = []
    current: list[SourceFile] = []
    current_bytes = 0
    for source_file in files:
        size = source_file.size_bytes * (GZIP_EXPANSION if source_file.path.suffix == ".gz" else 1)
        header_changed = current and plans[source_file.path] != plans[current[0].path]
        if current and (header_changed or current_bytes + size > batch_bytes):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(source_file)
        current_bytes += size
    if current:
        batches.append(current)
    return batches
