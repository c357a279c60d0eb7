"""What a load did: per file and per table, with the statuses a file and a load can end in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sme_platform.lib.ingestion.files import SourceFile


class FileStatus(StrEnum):
    """What became of a file a load saw (raw.file_loads.status)."""

    LOADED = "loaded"  # its rows are in raw (or quarantine)
    REJECTED = "rejected"  # it could not be read at all; a copy is kept
    ALREADY_LOADED = "already_loaded"  # this content was loaded before; skipped
    SUPERSEDED = "superseded"  # a newer version of the file replaced its rows


class LoadStatus(StrEnum):
    """What a load of one table found."""

    LOADED = "loaded"  # new files were read
    NO_NEW_FILES = "no_new_files"  # files match, all loaded before
    NO_FILES = "no_files"  # no file matches the source's path


@dataclass
class FileOutcome:
    path: str
    sha256: str
    size_bytes: int
    modified_at: datetime
    status: FileStatus
    message: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    file_id: int | None = None  # its record's id in raw.file_loads, for a loaded file


@dataclass
class IngestResult:
    table: str
    load_id: str
    status: LoadStatus
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
        return [f for f in self.files if f.status == FileStatus.REJECTED]

    @property
    def quarantine_share(self) -> float:
        return self.rows_quarantined / self.rows_read if self.rows_read else 0.0


def file_outcome(
    source_file: SourceFile,
    status: FileStatus,
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


class FileFault(Exception):
    """An error that belongs to one file of a batch: the batch loader rejects that file with
    this message and loads the others."""

    def __init__(self, message: str, source_file: SourceFile):
        super().__init__(message)
        self.source_file = source_file


class FileRefused(FileFault):
    """A file that cannot be loaded as it is, for a reason found while reading it."""
