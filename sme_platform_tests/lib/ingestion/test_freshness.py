"""newest_file_freshness judges the data the warehouse holds (raw.file_loads): a rejected file
is not fresh data, and a file rewritten in place later keeps the age it was loaded with."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pytest

from sme_platform.lib.ingestion.checks import newest_file_freshness
from sme_platform.lib.ingestion.results import FileOutcome, FileStatus, IngestResult, LoadStatus
from sme_platform.lib.sources import SourceSpec
from sme_platform.lib.warehouse import _ensure_load_logs

NOW = datetime(2026, 12, 4, 6, 0)
SPEC = SourceSpec(
    table="sales_lines",
    path_pattern="exports/sales_*.csv",
    format="csv",
    options={},
    columns={},
    max_file_age_hours=36,
)


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute("create schema raw")
    _ensure_load_logs(connection)
    yield connection
    connection.close()


def logged(con, name: str, hours_old: float, status: str = "loaded", table="sales_lines"):
    con.execute(
        "insert into raw.file_loads (table_name, source_file, modified_at, status) "
        "values (?, ?, ?, ?)",
        [table, name, NOW - timedelta(hours=hours_old), status],
    )


def seen(name: str, hours_old: float, status: FileStatus) -> FileOutcome:
    return FileOutcome(name, "sha", 10, NOW - timedelta(hours=hours_old), status)


def judged(con, *files: FileOutcome):
    result = IngestResult("sales_lines", "load-1", LoadStatus.LOADED, files=list(files))
    return newest_file_freshness(con, SPEC, result, NOW)


def test_a_fresh_export_that_is_rejected_every_night_does_not_look_fresh(con):
    # The export's format changed three nights ago: every file since is rejected.
    logged(con, "sales_11-29.csv", 80)
    logged(con, "sales_12-03.csv", 2, status="rejected")
    check = judged(
        con,
        seen("sales_11-29.csv", 80, FileStatus.ALREADY_LOADED),
        seen("sales_11-30.csv", 54, FileStatus.REJECTED),
        seen("sales_12-01.csv", 30, FileStatus.REJECTED),
        seen("sales_12-03.csv", 2, FileStatus.REJECTED),
    )
    assert not check.passed and check.severity == "warn"
    assert check.description == (
        "newest loaded file is 80.0 h old (limit 36 h); 3 newer file(s) rejected "
        "(schema_conformance says why), the newest sales_12-03.csv"
    )
    assert check.metadata["newer_files_rejected"] == 3
    assert check.metadata["age_hours"] == 80.0


def test_a_month_to_date_export_rejected_tonight_keeps_yesterdays_rows_and_their_age(con):
    # One path, replaced every night: yesterday's version loaded, tonight's is rejected.
    logged(con, "sales_month.csv", 25)
    check = judged(con, seen("sales_month.csv", 1, FileStatus.REJECTED))
    assert check.passed
    assert check.description == (
        "newest loaded file is 25.0 h old (limit 36 h); 1 newer file(s) rejected "
        "(schema_conformance says why), the newest sales_month.csv"
    )


def test_the_age_is_the_one_a_file_was_loaded_with_not_its_age_on_disk(con):
    # An erasure rewrote an old file in place: on disk it is new, its rows are not.
    logged(con, "sales_11-01.csv", 800)
    logged(con, "sales_11-02.csv", 700, status="superseded")  # replaced: its rows are gone
    logged(con, "stock_12-03.csv", 1, table="inventory_snapshots")  # another source
    check = judged(con, seen("sales_11-01.csv", 0.5, FileStatus.ALREADY_LOADED))
    assert not check.passed
    assert check.description == "newest loaded file is 800.0 h old (limit 36 h)"
    logged(con, "sales_12-04.csv", 3)
    assert judged(con).description == "newest loaded file is 3.0 h old (limit 36 h)"


def test_a_source_none_of_whose_files_loaded_fails_naming_the_rejected(con):
    check = judged(con, seen("sales_12-03.csv", 1, FileStatus.REJECTED))
    assert not check.passed
    assert check.description == (
        "no file of the source is loaded; 1 newer file(s) rejected (schema_conformance says "
        "why), the newest sales_12-03.csv"
    )
    assert judged(con).description == "no source files"
