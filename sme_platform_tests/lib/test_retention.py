"""Retention: what is older than its period goes, what is younger stays, and each purge is an
audit event saying what it removed."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pytest

from sme_platform.lib.audit.log import read_events
from sme_platform.lib.automation import RetentionConfig
from sme_platform.lib.project import ProjectPaths
from sme_platform.lib.retention import purge_expired
from sme_platform.lib.warehouse import connect

NOW = datetime(2026, 12, 1, 12, 0)
OLD, RECENT = NOW - timedelta(days=400), NOW - timedelta(days=10)


@pytest.fixture
def project(tmp_path):
    paths = ProjectPaths.at(tmp_path)
    with connect(paths.warehouse) as con:
        con.execute("create schema raw")
        con.execute(
            "create table raw.file_loads (table_name varchar, load_id varchar, run_id varchar, "
            "source_file varchar, sha256 varchar, status varchar, loaded_at timestamp)"
        )
        con.execute("create schema if not exists quarantine")
        con.execute(
            "create table quarantine.sales_lines (_load_id varchar, _ingested_at timestamp, "
            "rule varchar, original_values varchar)"
        )
        con.execute(
            "insert into quarantine.sales_lines values "
            "('l1', ?, 'required_sku', '{\"email\": \"ana@x.org\"}'), "
            "('l2', ?, 'required_sku', '{}'), ('l2', ?, 'parse_error', '{}')",
            [OLD, RECENT, RECENT],
        )
    paths.rejected_files.mkdir(parents=True)
    for name, rejected_at in (("aaaa-old.csv", OLD), ("bbbb-recent.csv", RECENT)):
        (paths.rejected_files / name).write_text("x")
        with connect(paths.warehouse) as con:
            con.execute(
                "insert into raw.file_loads (table_name, load_id, run_id, source_file, sha256, "
                "status, loaded_at) values ('sales_lines', 'l', 'r', ?, ?, 'rejected', ?)",
                [name, name.split("-")[0] + "0" * 60, rejected_at],
            )
    reports = paths.reports_dir / "monitoring" / "demand_forecast"
    reports.mkdir(parents=True)
    for name, written in (("2025-01-01.html", OLD), ("2026-11-20.html", RECENT)):
        (reports / name).write_text("<html></html>")
        os.utime(reports / name, (written.timestamp(), written.timestamp()))
    return paths


def test_what_is_older_than_its_period_goes_and_each_purge_is_audited(project):
    with connect(project.warehouse) as con:
        purges = purge_expired(con, project, RetentionConfig(), "run-1", now=NOW)
        left = con.execute(
            "select _load_id, rule from quarantine.sales_lines order by 2"
        ).fetchall()
        events = read_events(con)
    assert {p.what: p.removed for p in purges} == {
        "retention:quarantine": 1,
        "retention:rejected_files": 1,
        "retention:monitoring_reports": 1,
    }
    assert left == [("l2", "parse_error"), ("l2", "required_sku")]
    assert [p.name for p in project.rejected_files.iterdir()] == ["bbbb-recent.csv"]
    remaining = sorted(p.name for p in (project.reports_dir / "monitoring").rglob("*.html"))
    assert remaining == ["2026-11-20.html"]
    assert [(e.event, e.subject, e.actor) for e in events] == [
        ("purged", "retention:quarantine", "run:run-1"),
        ("purged", "retention:rejected_files", "run:run-1"),
        ("purged", "retention:monitoring_reports", "run:run-1"),
    ]
    assert events[0].details == {"cutoff": "2025-12-01T12:00:00", "removed": 1, "sales_lines": 1}
    assert events[1].details["files"] == ["aaaa-old.csv"]


def test_a_shorter_period_from_the_configuration_purges_more(project):
    config = RetentionConfig(quarantine_days=5, rejected_files_days=5, monitoring_reports_days=5)
    with connect(project.warehouse) as con:
        purges = purge_expired(con, project, config, "run-2", now=NOW)
        (left,) = con.execute("select count(*) from quarantine.sales_lines").fetchone()
    assert [p.removed for p in purges] == [3, 2, 2] and left == 0
