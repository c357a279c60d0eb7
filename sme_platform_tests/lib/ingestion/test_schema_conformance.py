"""schema_conformance: a rejected file fails it with error severity (alerted the same night,
not blocking: the other files load); columns as the contract says pass it."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from sme_platform.lib.canonical import CANONICAL_TABLES
from sme_platform.lib.ingestion.checks import schema_conformance
from sme_platform.lib.ingestion.results import FileOutcome, FileStatus, IngestResult, LoadStatus
from sme_platform.lib.sources import SourceSpec
from sme_platform.lib.warehouse import ensure_ingestion_tables

SPEC = SourceSpec("sales_lines", "exports/sales_*.csv", "csv", {}, {})


@pytest.fixture
def con():
    connection = duckdb.connect()
    ensure_ingestion_tables(connection, CANONICAL_TABLES["sales_lines"])
    yield connection
    connection.close()


def result(*statuses: FileStatus) -> IngestResult:
    files = [
        FileOutcome(
            f"sales_{n}.csv",
            "sha",
            10,
            datetime(2026, 12, 4),
            status,
            message=f"sales_{n}.csv: rejected: missing column(s) ['qty']"
            if status == FileStatus.REJECTED
            else None,
        )
        for n, status in enumerate(statuses)
    ]
    return IngestResult("sales_lines", "load-1", LoadStatus.LOADED, files=files)


def test_a_rejected_file_fails_the_check_with_error_severity(con):
    check = schema_conformance(con, SPEC, result(FileStatus.LOADED, FileStatus.REJECTED))
    assert (check.passed, check.severity) == (False, "error")
    assert check.description == "sales_1.csv: rejected: missing column(s) ['qty']"
    assert check.metadata["rejected_files"] == 1


def test_files_that_load_pass_it_as_a_warning_check(con):
    check = schema_conformance(con, SPEC, result(FileStatus.LOADED, FileStatus.ALREADY_LOADED))
    assert (check.passed, check.severity) == (True, "warn")
    assert check.description == "columns and types match the contract"
