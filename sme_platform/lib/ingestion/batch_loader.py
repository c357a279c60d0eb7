"""Loading batches so that a file's fault stays with the file.

A batch is read, checked and published in a few set-based statements (see `batch`). When DuckDB's
reader refuses one of its files, that file is found (by the reader's message, else by halving the
batch), read through a normalized copy where that can help (mixed line endings), else rejected
with the reader's reason; the other files load. A file changed while it was read is rejected for
this run and loaded by the next.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from sme_platform.lib.ingestion.batch import (
    Batch,
    LandedBatch,
    discard_batch,
    land_batch,
    write_batch,
)
from sme_platform.lib.ingestion.file_versions import retire_previous_versions
from sme_platform.lib.ingestion.files import SourceFile
from sme_platform.lib.ingestion.load_log import log_files
from sme_platform.lib.ingestion.precheck import ReadPlan
from sme_platform.lib.ingestion.quarantine import BatchTally
from sme_platform.lib.ingestion.results import FileFault, FileStatus, file_outcome
from sme_platform.lib.ingestion.text_files import write_normalized_copy
from sme_platform.lib.warehouse import reserve_file_ids, transaction

# Bytes of source files read per batch. A batch's rows go straight into storage, so memory grows
# little with it; the bound keeps a killed backfill's lost work, and one transaction's deletes
# and checks, moderate. Batches stay few: each pays fixed costs and a join with the rows loaded
# before (a two-year medium backfill, 780 MB, is one batch).
BATCH_BYTES = 2 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class LoadSteps:
    """The steps a load takes for each batch, each replaceable. This is the seam for fault
    tests (a process killed in a batch, a file that changes while it is read, an interrupt as
    a commit returns, a reader that refuses a file): they wrap a step instead of patching the
    modules' internals, which move as the code does."""

    land: Callable[..., LandedBatch] = land_batch
    write: Callable[..., BatchTally] = write_batch
    transaction: Callable[[duckdb.DuckDBPyConnection], AbstractContextManager] = transaction
    batch_bytes: int = BATCH_BYTES


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


class BatchLoader:
    """Loads batches of files; a file whose bytes a reader refuses is found (by the reader's
    message, else by halving the batch), read through a normalized copy where that can help
    (mixed line endings), else rejected with the reader's reason, and the rest load."""

    def __init__(self, con, spec, result, changed, foreign_keys, run_id, now, plans, steps):
        self.con, self.spec, self.result, self.steps = con, spec, result, steps
        self.changed, self.foreign_keys = changed, foreign_keys
        self.run_id, self.now, self.plans = run_id, now, plans
        self.copies_dir: Path | None = None
        self.quarantine_by_rule: Counter = Counter()
        self.warnings_by_rule: Counter = Counter()

    def load_isolating_file_faults(self, files: list[SourceFile], *, copied: bool = False):
        plan = self.plans[files[0].path]
        copied = copied or plan.copy_reason is not None
        try:
            self._load(files, copied=copied)
            return
        except ISOLATED_ERRORS as error:
            fault = error
            culprit = _culprit(error, files, copied)
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
        if not copied and plan.file_format != "parquet" and isinstance(fault, FILE_FAULTS):
            try:
                self._load(files, copied=True)
                return
            except ISOLATED_ERRORS as error:
                _culprit(error, files, copied=True)  # re-raises what is not the file's fault
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
            landed = self.steps.land(con, batch)
            with self.steps.transaction(con):
                if self.spec.changed_files == "replace":
                    replaced = [f for f in self.changed if f in files]
                    retire_previous_versions(con, table, replaced, self.result)
                tally = self.steps.write(
                    con,
                    batch,
                    landed,
                    self.foreign_keys,
                    rows_loaded_before=_has_published_rows(con, table),
                )
                _refuse_files_changed_while_read(table, files)
                outcomes = [
                    file_outcome(
                        source_file,
                        FileStatus.LOADED,
                        *tally.per_file.get(str(source_file.path), (0, 0, 0)),
                        file_id=file_id,
                    )
                    for source_file, file_id in zip(files, file_ids, strict=True)
                ]
                log_files(con, self.result, outcomes, self.run_id, self.now)
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
        if target.exists():
            return target
        # Written under another name and renamed: a copy that failed halfway is never taken
        # for a whole one by a later batch.
        partial = target.with_name(target.name + ".partial")
        try:
            write_normalized_copy(
                source_file.path,
                partial,
                encoding=self.spec.options.get("encoding", "utf-8"),
                byte_order_mark=plan.byte_order_mark,
            )
        except ValueError as error:
            partial.unlink(missing_ok=True)
            raise CopyFailed(f"{source_file.path}: rejected: {error}", source_file) from error
        partial.replace(target)
        return target

    def _reject(self, source_file: SourceFile, fault: BaseException) -> None:
        if isinstance(fault, FileFault):
            message = str(fault)
        else:
            reason = str(fault).strip().splitlines()[0] if str(fault).strip() else repr(fault)
            message = f"{source_file.path}: rejected: cannot be read: {reason}"
        outcome = file_outcome(source_file, FileStatus.REJECTED, message=message)
        self.result.files.append(outcome)


def _culprit(error: Exception, files: list[SourceFile], copied: bool) -> SourceFile | None:
    """The file an error is the fault of (None: one of the batch's, which is not said), or the
    error re-raised when it is not a file's fault at all. DuckDB raises IOException for its
    own storage too (a full disk): only one that names a file of the batch is the file's."""
    if isinstance(error, FileFault):
        return error.source_file
    named = _file_named_in(error, files, copied)
    if isinstance(error, duckdb.IOException) and named is None:
        message = str(error)
        if not any(str(f.path) in message or f.path.name in message for f in files):
            raise error
    return named


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


class CopyFailed(FileFault):
    """A file could not be turned into a normalized copy (it does not decode)."""


class FileChangedWhileReading(FileFault):
    """A source file changed between its fingerprint and the end of the read."""


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


def _has_published_rows(con, table: str) -> bool:
    return con.execute(f"select exists (select 1 from raw.{table})").fetchone()[0]


def _discard_failed_batch(con, batch: Batch) -> None:
    """Delete the rows a failed batch landed. If DuckDB cannot (the error that failed the batch
    may have broken the connection), they stay invisible and the next load deletes them."""
    with contextlib.suppress(duckdb.Error):
        discard_batch(con, batch)


# Everything a batch may raise that belongs to one of its files (see _culprit).
ISOLATED_ERRORS = (*FILE_FAULTS, FileFault)
