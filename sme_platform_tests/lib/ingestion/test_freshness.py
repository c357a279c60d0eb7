"""newest_file_freshness judges the data the warehouse holds: a rejected file is not fresh data."""

from __future__ import annotations

from datetime import datetime, timedelta

from sme_platform.lib.ingestion.checks import newest_file_freshness
from sme_platform.lib.ingestion.results import FileOutcome, FileStatus, IngestResult, LoadStatus
from sme_platform.lib.sources import SourceSpec

NOW = datetime(2026, 12, 4, 6, 0)
SPEC = SourceSpec(
    table="sales_lines",
    path_pattern="exports/sales_*.csv",
    format="csv",
    options={},
    columns={},
    max_file_age_hours=36,
)


def outcome(name: str, hours_old: float, status: FileStatus) -> FileOutcome:
    return FileOutcome(name, "sha", 10, NOW - timedelta(hours=hours_old), status)


def judged(*files: FileOutcome):
    result = IngestResult("sales_lines", "load-1", LoadStatus.LOADED, files=list(files))
    return newest_file_freshness(SPEC, result, NOW)


def test_a_fresh_export_that_is_rejected_every_night_does_not_look_fresh():
    # The export's format changed three nights ago: every file since is rejected.
    check = judged(
        outcome("sales_11-29.csv", 80, FileStatus.ALREADY_LOADED),
        outcome("sales_11-30.csv", 54, FileStatus.REJECTED),
        outcome("sales_12-01.csv", 30, FileStatus.REJECTED),
        outcome("sales_12-03.csv", 2, FileStatus.REJECTED),
    )
    assert not check.passed and check.severity == "warn"
    assert check.description == (
        "newest loaded file is 80.0 h old (limit 36 h); 3 newer file(s) rejected "
        "(schema_conformance says why), the newest sales_12-03.csv"
    )
    assert check.metadata["newer_files_rejected"] == 3
    assert check.metadata["age_hours"] == 80.0


def test_files_loaded_tonight_or_before_count_and_a_replaced_version_does_not():
    check = judged(
        outcome("sales_12-02.csv", 30, FileStatus.SUPERSEDED),
        outcome("sales_12-02.csv", 3, FileStatus.LOADED),
        outcome("sales_12-01.csv", 40, FileStatus.ALREADY_LOADED),
    )
    assert check.passed
    assert check.description == "newest loaded file is 3.0 h old (limit 36 h)"
    assert judged(outcome("sales_12-01.csv", 20, FileStatus.ALREADY_LOADED)).passed


def test_a_source_none_of_whose_files_loaded_fails_naming_the_rejected():
    check = judged(outcome("sales_12-03.csv", 1, FileStatus.REJECTED))
    assert not check.passed
    assert check.description == (
        "no file of the source is loaded; 1 newer file(s) rejected (schema_conformance says "
        "why), the newest sales_12-03.csv"
    )
    assert judged().description == "no source files"
