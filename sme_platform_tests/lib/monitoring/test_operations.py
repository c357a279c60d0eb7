"""The platform's own health over time: scoring latency once per publication, the quarantine
share per source and day, the check failures per stage and day."""

from __future__ import annotations

import pytest

from sme_platform.lib.monitoring.operations import record_scoring_latency, refresh_quality_trends
from sme_platform.lib.warehouse import connect


@pytest.fixture
def con(tmp_path):
    with connect(tmp_path / "warehouse.duckdb") as connection:
        yield connection


def test_latency_is_recorded_once_per_publishing_run(con):
    assert record_scoring_latency(con, "demand_forecast", "run-1", 28_000, {"v1": 1.5, "v2": 0.5})
    assert not record_scoring_latency(con, "demand_forecast", "run-1", 28_000, {"v1": 1.5})
    assert record_scoring_latency(con, "demand_forecast", "run-2", 14_000, {"v1": 0.0})
    rows = con.execute(
        "select run_id, versions, rows, seconds, rows_per_second "
        "from monitoring.scoring_latency order by run_id"
    ).fetchall()
    assert rows == [("run-1", "v1, v2", 28_000, 2.0, 14_000.0), ("run-2", "v1", 14_000, 0.0, None)]


def test_quality_trends_per_day_source_and_stage(con):
    assert refresh_quality_trends(con) == {}  # nothing loaded or checked yet: no tables
    con.execute("create schema raw; create schema governance")
    con.execute(
        """create table raw.loads as select * from (values
             ('sales_lines', timestamp '2025-03-01 02:00', 1000, 10, 2, 0),
             ('sales_lines', timestamp '2025-03-01 09:00', 500, 40, 1, 1),
             ('tickets', timestamp '2025-03-01 02:00', 100, 0, 1, 0),
             ('sales_lines', timestamp '2025-03-02 02:00', 0, 0, 0, 1))
           as t(table_name, started_at, rows_read, rows_quarantined, files_new, files_rejected)"""
    )
    con.execute(
        """create table governance.check_results as select * from (values
             ('raw/sales_lines', 'quarantine_share', false, timestamp '2025-03-01 02:10'),
             ('raw/sales_lines', 'row_conservation', true, timestamp '2025-03-01 02:10'),
             ('marts/sales_daily', 'not_null_sku', true, timestamp '2025-03-01 02:20'),
             ('raw/tickets', 'quarantine_share', false, timestamp '2025-03-01 02:10'))
           as t(asset, check_name, passed, checked_at)"""
    )
    counts = refresh_quality_trends(con)
    assert counts == {"monitoring.data_quality_daily": 3, "monitoring.check_failures_daily": 2}
    quality = con.execute(
        "select day::varchar, source, rows_read, rows_quarantined, round(quarantine_share, 4), "
        "files_loaded, files_rejected from monitoring.data_quality_daily order by 1, 2"
    ).fetchall()
    assert quality == [
        ("2025-03-01", "sales_lines", 1500, 50, 0.0333, 3, 1),
        ("2025-03-01", "tickets", 100, 0, 0.0, 1, 0),
        ("2025-03-02", "sales_lines", 0, 0, None, 0, 1),  # a day with only a rejected file
    ]
    failures = con.execute(
        "select stage, checks_run, failed, failing from monitoring.check_failures_daily "
        "order by stage"
    ).fetchall()
    assert failures == [
        ("marts", 1, 0, ""),
        ("raw", 3, 2, "raw/sales_lines:quarantine_share, raw/tickets:quarantine_share"),
    ]
