"""A snapshot of the graph: an asset, check, job or schedule that appears or vanishes is a change
someone must mean (after dagster-open-platform's definitions snapshot test)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import dagster as dg

from sme_platform_tests.conftest import CANONICAL_TABLES as CANONICAL
from sme_platform_tests.conftest import REPO_ROOT, SQL_MODELS

INGESTION_CHECKS = [
    "newest_file_freshness",
    "quarantine_share",
    "row_conservation",
    "schema_conformance",
]


ML_ASSETS = [
    "features/demand_features",
    "training/demand_forecast_model",
    "release/demand_forecast_release",
    "ml/demand_forecast",
    "monitoring/demand_forecast_monitoring",
    "reports/kpi_dashboard",
]


def test_asset_keys_checks_jobs_and_schedules(monkeypatch):
    monkeypatch.setenv("SME_PLATFORM_DIR", str(REPO_ROOT))
    from sme_platform.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = sorted(key.to_user_string() for key in graph.get_all_asset_keys())
    assert keys == sorted(
        [f"raw/{name}" for name in CANONICAL]
        + SQL_MODELS
        + ML_ASSETS
        + ["governance/analyst_database", "governance/audit_log", "governance/catalog"]
        + ["reports/compliance_report", "governance/erasures"]
    )
    checks = sorted((key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys)
    ingestion_checks = [c for c in checks if c[0].startswith("raw/")]
    assert ingestion_checks == [(f"raw/{t}", c) for t in CANONICAL for c in INGESTION_CHECKS]
    assert [c for c in checks if c[0].startswith("governance/")] == [
        ("governance/analyst_database", "pii_masked"),
        ("governance/analyst_database", "published_rows_match_warehouse"),
        ("governance/audit_log", "audit_chain_intact"),
        ("governance/catalog", "catalog_complete"),
        ("governance/erasures", "no_trace_left"),
    ]
    assert [
        c
        for c in checks
        if c[0].split("/")[0] in ("features", "training", "release", "ml", "monitoring")
    ] == [
        ("features/demand_features", "feature_values_valid"),
        ("features/demand_features", "no_leakage"),
        ("features/demand_features", "sales_history_complete"),
        ("ml/demand_forecast", "forecast_complete"),
        ("monitoring/demand_forecast_monitoring", "feature_drift"),
        ("monitoring/demand_forecast_monitoring", "live_accuracy"),
        ("monitoring/demand_forecast_monitoring", "prediction_drift"),
        ("release/demand_forecast_release", "promotion_gate"),
        ("training/demand_forecast_model", "backtest_complete"),
        ("training/demand_forecast_model", "interval_coverage"),
    ]
    # the tests in the SQL models' headers, and one Great Expectations suite on each mart
    governance = 5  # the analyst database (2), audit log, catalog, erasures
    assert len(checks) - len(ingestion_checks) - governance - 10 - 2 == 60 + 5  # 2: the reports
    assert len([c for c in checks if c[1] == "great_expectations_suite"]) == 5
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert {k: g for k, g in groups.items() if not k.startswith("raw/")} == {
        **{
            key: key.split("/")[0]
            for key in [
                *SQL_MODELS,
                "governance/analyst_database",
                "governance/audit_log",
                "governance/catalog",
            ]
        },
        "features/demand_features": "features",
        "training/demand_forecast_model": "training",
        "release/demand_forecast_release": "release",
        "ml/demand_forecast": "release",  # the table lives in schema ml
        "monitoring/demand_forecast_monitoring": "monitoring",
        "reports/kpi_dashboard": "reports",
        "reports/compliance_report": "governance",  # on demand: no nightly freshness
        "governance/erasures": "governance",
    }
    assert {
        k.to_user_string() for k in graph.get(dg.AssetKey(["marts", "sales_daily"])).parent_keys
    } == {
        "staging/sales_lines",
        "staging/sales_returns",
        "staging/inventory_snapshots",
        "marts/products",  # through its relationships test
    }
    blocking = sorted(
        spec.name
        for assets_def in graph.assets_defs
        for spec in assets_def.check_specs
        if spec.blocking and spec.asset_key.to_user_string() == "raw/sales_lines"
    )
    assert blocking == ["quarantine_share", "row_conservation"]
    assert sorted(
        job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")
    ) == [
        "approve_model_job",
        "compliance_report",
        "erase_customer",
        "ingest_new_files",
        "materialize_all",
        "purge_expired_job",
        "retrain_demand_forecast",
        "rollback_model_job",
    ]
    purge = defs.resolve_schedule_def("purge_expired_weekly")
    assert (purge.cron_schedule, purge.job_name) == ("0 4 * * 0", "purge_expired_job")
    schedule = defs.resolve_schedule_def("nightly_materialize_all")
    assert schedule.cron_schedule == "0 2 * * *"
    sensor = defs.resolve_sensor_def("new_export_files")
    assert sensor.job_name == "ingest_new_files"
    assert defs.resolve_sensor_def("retrain_demand_forecast_on_drift").job_name == (
        "retrain_demand_forecast"
    )
    retraining = defs.resolve_job_def("retrain_demand_forecast").asset_layer.selected_asset_keys
    assert sorted(k.to_user_string() for k in retraining) == [
        "features/demand_features",
        "governance/analyst_database",
        "governance/audit_log",
        "governance/catalog",
        "ml/demand_forecast",
        "monitoring/demand_forecast_monitoring",
        "release/demand_forecast_release",
        "reports/kpi_dashboard",
        "training/demand_forecast_model",
    ]
    assert sorted(s.name for s in defs.sensors) == [
        "alert_on_failed_check",
        "alert_on_run_failure",
        "mark_dead_runs_failed",
        "new_export_files",
        "publish_after_approval",
        "rescore_forecasts_after_rollback",
        "retrain_demand_forecast_on_drift",
    ]


def test_the_schedule_is_the_projects_own(tmp_path, monkeypatch):
    """The night and time zone come from the project's automation.yaml, not from code."""
    from sme_platform.definitions import project_definitions

    (tmp_path / "sources.yaml").write_text(
        (REPO_ROOT / "sources.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "automation.yaml").write_text(
        "schedule:\n  cron: '30 3 * * 1-6'\n  timezone: Europe/Berlin\n"
        "freshness:\n  warn_after_hours: 50\n  fail_after_hours: 74\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SME_PLATFORM_DIR", str(tmp_path))
    project = project_definitions()
    graph = project.resolve_asset_graph()
    policies = {
        key.to_user_string(): graph.get(key).freshness_policy
        for key in graph.get_all_asset_keys()
        if graph.get(key).freshness_policy is not None
    }
    # The sources and the KPI reports, as automation.yaml says; nothing else.
    assert sorted(policies) == sorted(
        [f"raw/{name}" for name in CANONICAL]
        + ["reports/kpi_dashboard", "reports/sales_kpis_monthly", "reports/support_kpis_monthly"]
    )
    windows = {
        (p.warn_window.to_timedelta(), p.fail_window.to_timedelta()) for p in policies.values()
    }
    assert windows == {(timedelta(hours=50), timedelta(hours=74))}
    schedule = project.resolve_schedule_def("nightly_materialize_all")
    assert (schedule.cron_schedule, schedule.execution_timezone) == (
        "30 3 * * 1-6",
        "Europe/Berlin",
    )
    assert "set in automation.yaml" in schedule.description


def test_every_asset_has_an_owner_a_description_a_check_and_a_version(monkeypatch):
    monkeypatch.setenv("SME_PLATFORM_DIR", str(REPO_ROOT))
    from sme_platform.definitions import defs

    graph = defs.resolve_asset_graph()
    checked_assets = {key.asset_key for key in graph.asset_check_keys}
    for spec in defs.resolve_all_asset_specs():
        name = spec.key.to_user_string()
        assert spec.owners, f"{name} has no owner"
        assert spec.description, f"{name} has no description"
        assert spec.key in checked_assets, f"{name} has no check"
        assert spec.code_version, f"{name} has no code version"


def test_dagster_validates_the_workspace():
    completed = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "All code locations passed validation" in completed.stderr + completed.stdout


def test_the_workspace_puts_each_sources_description_and_owner_on_its_ingestion_asset(
    monkeypatch, tmp_path
):
    from sme_platform.definitions import defs, project_definitions

    monkeypatch.delenv("SME_PLATFORM_DIR", raising=False)
    assert project_definitions() is defs  # no project to read: the graph as it is
    (tmp_path / "sources.yaml").write_text(
        (REPO_ROOT / "sources.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    monkeypatch.setenv("SME_PLATFORM_DIR", str(tmp_path))
    specs = {
        spec.key.to_user_string(): spec for spec in project_definitions().resolve_all_asset_specs()
    }
    sales = specs["raw/sales_lines"]
    assert sales.owners == ["team:sales"]
    assert sales.description.startswith("Daily order-line exports from the ERP (sources.yaml)\n\n")
    assert "Loaded as-is with lineage columns" in sales.description
    assert specs["raw/tickets"].owners == ["team:support"]
    # a source without an owner keeps the platform's default; models are untouched
    assert specs["raw/products"].owners == ["team:data"]
    assert specs["raw/products"].description.startswith("Item master from the ERP")
    assert (
        specs["marts/sales_daily"]
        == defs.resolve_assets_def(dg.AssetKey(["marts", "sales_daily"])).specs_by_key[
            dg.AssetKey(["marts", "sales_daily"])
        ]
    )


def test_a_broken_sources_yaml_fails_the_code_location_with_one_line_per_problem(tmp_path):
    (tmp_path / "sources.yaml").write_text(
        "version: 2\nsources:\n  sales_line: {path: x.csv, columns: {order_id: a}}\n",
        encoding="utf-8",
    )
    completed = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "SME_PLATFORM_DIR": str(tmp_path)},
    )
    assert completed.returncode != 0
    output = completed.stderr + completed.stdout
    config = tmp_path / "sources.yaml"
    message = (
        f"SourcesConfigError: {config}: version: 2 is not supported; this sme-platform reads "
        "sources.yaml version 1\n"
        f"{config}: sources.sales_line: unknown canonical table 'sales_line'; known tables: "
        "locations, products, customers, sales_lines, inventory_snapshots, prices, tickets; "
        "did you mean sources.sales_lines?\n"
    )
    assert message in output
