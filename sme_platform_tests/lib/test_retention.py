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
        "retention:forecast_log": 0,  # no forecast published yet
    }
    assert left == [("l2", "parse_error"), ("l2", "required_sku")]
    assert [p.name for p in project.rejected_files.iterdir()] == ["bbbb-recent.csv"]
    remaining = sorted(p.name for p in (project.reports_dir / "monitoring").rglob("*.html"))
    assert remaining == ["2026-11-20.html"]
    assert [(e.event, e.subject, e.actor) for e in events] == [
        ("purged", "retention:quarantine", "run:run-1"),
        ("purged", "retention:rejected_files", "run:run-1"),
        ("purged", "retention:monitoring_reports", "run:run-1"),
        ("purged", "retention:forecast_log", "run:run-1"),
    ]
    assert events[0].details == {"cutoff": "2025-12-01T12:00:00", "removed": 1, "sales_lines": 1}
    assert events[1].details["files"] == ["aaaa-old.csv"]


def test_a_shorter_period_from_the_configuration_purges_more(project):
    config = RetentionConfig(quarantine_days=5, rejected_files_days=5, monitoring_reports_days=5)
    with connect(project.warehouse) as con:
        purges = purge_expired(con, project, config, "run-2", now=NOW)
        (left,) = con.execute("select count(*) from quarantine.sales_lines").fetchone()
    assert [p.removed for p in purges] == [3, 2, 2, 0] and left == 0


def log_scorings(con, scorings):
    """ml.forecast_log with `scorings`: (model, version, role, scored_at, rows) each."""
    con.execute(
        """create schema if not exists ml;
           create table ml.forecast_log (model_name varchar, model_version varchar,
               role varchar, sku varchar, origin_date date, scored_at timestamp)"""
    )
    for model, version, role, scored_at, rows in scorings:
        for row in range(rows):
            con.execute(
                "insert into ml.forecast_log values (?, ?, ?, ?, ?, ?)",
                [model, version, role, f"SKU-{row}", scored_at.date(), scored_at],
            )


def test_old_forecasts_go_but_each_models_newest_and_each_versions_first_scoring_stay(project):
    first_v1, old_v1, first_v2, v2_promoted = (OLD - timedelta(days=d) for d in (20, 10, 5, 3))
    with connect(project.warehouse) as con:
        log_scorings(
            con,
            [
                ("demand_forecast", "v1", "champion", first_v1, 3),  # v1's first
                ("demand_forecast", "v1", "champion", old_v1, 4),  # expired
                ("demand_forecast", "v2", "canary", first_v2, 2),  # v2's first, as a canary
                ("demand_forecast", "v2", "canary", first_v2 + timedelta(days=1), 5),  # expired
                # v2's first as champion: its prediction drift's reference
                ("demand_forecast", "v2", "champion", v2_promoted, 7),
                ("demand_forecast", "v2", "champion", v2_promoted + timedelta(days=1), 1),
                ("demand_forecast", "v2", "champion", RECENT, 6),  # the newest: ml.demand_forecast
                ("other_model", "v1", "champion", OLD - timedelta(days=30), 2),  # its newest
            ],
        )
        purges = purge_expired(con, project, RetentionConfig(), "run-3", now=NOW)
        left = con.execute(
            "select model_name, model_version, role, scored_at, count(*) from ml.forecast_log "
            "group by all order by 1, 4"
        ).fetchall()
        (event,) = [e for e in read_events(con) if e.subject == "retention:forecast_log"]
    (purge,) = [p for p in purges if p.what == "retention:forecast_log"]
    assert purge.removed == 10 and purge.detail == {"scorings": 3}
    assert left == [
        ("demand_forecast", "v1", "champion", first_v1, 3),
        ("demand_forecast", "v2", "canary", first_v2, 2),
        ("demand_forecast", "v2", "champion", v2_promoted, 7),
        ("demand_forecast", "v2", "champion", RECENT, 6),
        ("other_model", "v1", "champion", OLD - timedelta(days=30), 2),
    ]
    assert event.reason == "10 item(s) older than 2025-10-27 12:00 UTC removed"


def test_the_forecast_log_is_kept_long_enough_for_the_live_roi():
    with pytest.raises(ValueError, match="forecast_log_days"):
        RetentionConfig(forecast_log_days=60)
