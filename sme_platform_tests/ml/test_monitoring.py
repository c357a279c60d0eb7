"""Monitoring of the demand forecast as Dagster runs it after the forecasts: Evidently's feature
drift against the champion's training rows (rows, HTML report, a warning check) and the live
accuracy of the published forecasts once actuals arrive (recomputed here from the log)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._core.storage.tags import RUN_KEY_TAG

from sme_platform.defs.monitoring.assets import demand_forecast_monitoring
from sme_platform.defs.monitoring.sensors import retrain_demand_forecast_on_drift
from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.dashboard.data import collect
from sme_platform.lib.monitoring.forecast_monitoring import DRIFT_FEATURES
from sme_platform.lib.monitoring.summary_lines import monitoring_lines
from sme_platform.lib.training.retraining import RETRAIN_TRIGGER_TAG
from sme_platform.lib.warehouse import connect
from sme_platform_tests.ml.synthetic_company import START, add_days, write_company
from sme_platform_tests.ml.test_forecasting_stages import STAGES, checks, instance, query

__all__ = ["instance"]  # the fixture, shared with the forecasting stages' tests


def evaluate_sensor(project, instance):
    with dg.build_sensor_context(
        instance=instance, resources={"project": ProjectResource(project_dir=str(project))}
    ) as context:
        return retrain_demand_forecast_on_drift(context), context.cursor


def run_night(project, instance):
    return dg.materialize(
        [*STAGES, demand_forecast_monitoring],
        resources={"project": ProjectResource(project_dir=str(project))},
        instance=instance,
        raise_on_error=True,
    )


def test_a_demand_surge_drifts_and_the_sensor_retrains_the_model(tmp_path, instance):
    """The loop closed: a surge drifts the inputs and v1's live error grows; the sensor asks for
    one retraining run; it trains v2 on the surge, the gate judges it, all audited."""
    project = tmp_path / "bakery"
    write_company(project, days=412, pattern="learnable")
    # A monthly cadence: ten new days alone would not train a new version.
    with (project / "forecasting.yaml").open("a", encoding="utf-8") as config:
        config.write("retraining:\n  every_days: 28\n")
    first_night = run_night(project, instance)
    first = checks(first_night)
    # Evidently ran in the worker process the run started (drift_worker.py), ended with the run.
    (monitored,) = [
        event.materialization.metadata
        for event in first_night.get_asset_materialization_events()
        if event.asset_key.to_user_string() == "monitoring/demand_forecast_monitoring"
    ]
    measured_in = monitored["drift_measured_in"].value
    assert re.fullmatch(r"worker process \d+", measured_in), measured_in
    assert not Path(f"/proc/{measured_in.split()[-1]}").exists()
    # The night the champion is trained, its reference is tonight's rows: nothing moved yet.
    assert first["feature_drift"][0] and "0 of 11 features drifted" in first["feature_drift"][2]
    assert first["live_accuracy"][:2] == (True, "WARN")
    assert "no actuals yet for the forecasts of v1" in first["live_accuracy"][2]
    with connect(project / "data" / "warehouse.duckdb", read_only=True) as con:
        night_1 = monitoring_lines(con, "demand_forecast", "v1")
    assert any(
        line.startswith(f"Forecasts of v1 from {START + timedelta(days=412)}: its first, the ")
        for line in night_1
    ), night_1
    rows = query(
        project,
        "select feature, method, threshold, model_version, report_path "
        "from monitoring.feature_drift order by feature",
    )
    assert sorted(r[0] for r in rows) == sorted(DRIFT_FEATURES)
    assert {(r[1], r[2], r[3]) for r in rows} == {("wasserstein", 0.1, "v1")}
    (report,) = {r[4] for r in rows}
    scoring_origin = START + timedelta(days=412)  # the day after the newest sales
    assert report.endswith(f"data/reports/monitoring/demand_forecast/{scoring_origin}.html")
    assert (project / "data" / "reports" / "monitoring" / "demand_forecast").is_dir()

    # A night with nothing new: the feature set, the forecasts and the monitoring stand as
    # they are, their checks reported from last night, not run again.
    drift_rows = query(project, "select count(*) from monitoring.feature_drift")
    forecast_runs = query(project, "select distinct run_id from ml.demand_forecast")
    quiet = run_night(project, instance)
    metadata = {
        event.asset_key.to_user_string(): event.materialization.metadata
        for event in quiet.get_asset_materialization_events()
    }
    assert metadata["features/demand_features"]["reused_stored_version"].value is True
    for key in ("ml/demand_forecast", "monitoring/demand_forecast_monitoring"):
        assert metadata[key]["up_to_date"].value.startswith("up to date: inputs unchanged")
    assert metadata["monitoring/demand_forecast_monitoring"]["model_version"].value == "v1"
    quiet_checks = checks(quiet)
    for name in ("no_leakage", "forecast_complete", "feature_drift", "live_accuracy"):
        assert quiet_checks[name][2].startswith("not run again: "), quiet_checks[name]
    assert quiet_checks["forecast_complete"][0] and quiet_checks["no_leakage"][0]
    assert query(project, "select count(*) from monitoring.feature_drift") == drift_rows
    assert query(project, "select distinct run_id from ml.demand_forecast") == forecast_runs

    # Ten more days, selling five times as much: the inputs drift and v1's forecasts, made
    # before the surge, miss it.
    add_days(project, first_day=412, days=10, pattern="learnable", run=2)
    with connect(project / "data" / "warehouse.duckdb") as con:
        con.execute(
            "update staging.sales_lines set quantity = quantity * 5 where order_date >= ?",
            [START + timedelta(days=412)],
        )
    second = checks(run_night(project, instance))
    passed, severity, description = second["feature_drift"]
    assert (passed, severity) == (False, "WARN"), description
    assert "mean_7" in description and "data/reports/monitoring" in description
    drifted = dict(
        query(
            project,
            "select feature, drifted from monitoring.feature_drift "
            "where measured_on = (select max(measured_on) from monitoring.feature_drift)",
        )
    )
    assert drifted["mean_7"] and drifted["mean_28"]

    # Live accuracy: v1's published forecasts of the ten days against what was sold.
    live = query(
        project,
        "select date, actual_units, forecast_units, wape from monitoring.forecast_accuracy "
        "where model_version = 'v1' and role = 'champion' and segment_type = 'overall' "
        "order by date",
    )
    assert len(live) == 10 and live[0][0] == START + timedelta(days=412)
    expected = query(
        project,
        """select log.date, sum(coalesce(s.units, 0)), sum(log.prediction),
                  sum(abs(log.prediction - coalesce(s.units, 0))) / sum(coalesce(s.units, 0))
           from ml.forecast_log as log
           left join (select sku, location_id, order_date as date, sum(quantity) as units
                      from staging.sales_lines group by all) as s using (sku, location_id, date)
           where log.model_version = 'v1' and log.role = 'champion'
             and log.date <= (select max(order_date) from staging.sales_lines)
           group by 1 order by 1""",
    )
    assert [(d, a, round(f, 6), round(w, 6)) for d, a, f, w in live] == [
        (d, a, round(f, 6), round(w, 6)) for d, a, f, w in expected
    ]
    passed, _, description = second["live_accuracy"]
    assert not passed and "v1 live WAPE" in description, description
    # Per location and category too.
    segments = query(
        project,
        "select distinct segment_type from monitoring.forecast_accuracy order by 1",
    )
    assert segments == [("category",), ("location",), ("overall",)]

    # v1's forecasts moved with its inputs: prediction drift against its first forecasts.
    passed, _, description = second["prediction_drift"]
    assert not passed and description.startswith(
        "v1's forecasts from 2025-02-26 against its first, from 2025-02-16: "
    )
    assert "drifted (wasserstein" in description and "_predictions.html" in description
    assert first["prediction_drift"][0]  # night 1: its first forecasts are the reference
    # The platform's own health: one latency row per publication, check failures per stage.
    latency = query(project, "select rows, seconds > 0 from monitoring.scoring_latency")
    assert latency == [(168, True), (168, True)]  # 12 series x 14 days, two nights
    failures = dict(
        query(
            project,
            "select stage, failed from monitoring.check_failures_daily "
            "where day = (select max(day) from monitoring.check_failures_daily)",
        )
    )
    assert failures["monitoring"] == 3  # tonight's three failed, with night 1's three passed
    # The current period's money: v1's first forecast (origin day 412) has had its lead time
    # and review period (9 days) sold; the later nightly origins are inside that review period.
    impact = query(
        project,
        "select first_origin, last_day, origins, series, versions, served_cost, baseline, "
        "baseline_cost, saving, missing from monitoring.business_impact order by created_at",
    )
    # Night 1: v1's forecast had just been published, none of its days sold.
    assert impact[0][-1] == (
        "no published forecast has 9 days of sales after it yet (lead time 2 + review period 7)"
    )
    first, last, origins, series, versions, served, baseline, baseline_cost, saving, missing = (
        impact[-1]
    )
    assert (first, last, origins, series, versions, missing) == (
        START + timedelta(days=412),
        START + timedelta(days=420),
        1,
        12,
        "v1",
        None,
    )
    # The cheapest alternative: a baseline or a peer the backtest priced (lib/monitoring/live_roi).
    alternatives = {
        "seasonal_naive",
        "moving_average_28",
        "statsforecast.ADIDA",
        "statsforecast.CrostonOptimized",
    }
    assert baseline in alternatives and served > 0
    assert saving == pytest.approx(baseline_cost - served)
    with connect(project / "data" / "warehouse.duckdb", read_only=True) as con:
        roi = collect(con).roi
    current = roi.frame.filter(pl.col("period") == "current").row(0, named=True)
    assert (current["model_cost"], current["baseline"], current["saving"]) == (
        pytest.approx(served),
        baseline,
        pytest.approx(saving),
    )
    assert current["window"] == f"1 order from {first} to {last} (live)"
    assert roi.frame.filter(pl.col("period") == "baseline").height == 2

    # The cadence did not retrain v1; the monitoring asks for it, and the sensor fires once.
    with connect(project / "data" / "warehouse.duckdb", read_only=True) as con:
        summary = monitoring_lines(con, "demand_forecast", "v1")
    assert summary[-2].startswith(
        "Current period (live): ordering from the served forecasts (v1) "
    ) and summary[-2].endswith(f"over 1 order from {first} to {last} (simulated on the days sold)")
    assert summary[-1].startswith(
        "Monitoring failed feature_drift, live_accuracy and prediction_drift: the sensor "
        "retrain_demand_forecast_on_drift retrains the model"
    )
    assert query(project, "select version from ml.model_registry") == [("v1",)]
    request, _ = evaluate_sensor(project, instance)
    assert isinstance(request, dg.RunRequest), request
    assert request.run_key.startswith("retrain-demand_forecast-v1-")
    trigger = request.tags[RETRAIN_TRIGGER_TAG]
    assert trigger.startswith("demand_forecast v1: feature drift: ") and "live error: " in trigger

    # The daemon's run of the request: features -> training -> gate -> forecasts -> monitoring.
    retrained = dg.materialize(
        [*STAGES, demand_forecast_monitoring],
        resources={"project": ProjectResource(project_dir=str(project))},
        instance=instance,
        tags={**request.tags, RUN_KEY_TAG: request.run_key},
    )
    # Ten days of a five-fold surge are too few to learn it: v2 forecasts far below the surge
    # and the statistical peers, which adapt at once, are cheaper. The gate refuses it and v1
    # keeps serving; the audit log says what happened and why.
    passed, _, description = checks(retrained)["promotion_gate"]
    assert not passed and description.startswith("v2: refused; champion v1 serves."), description
    registry = query(project, "select version, status from ml.model_registry order by 1")
    assert registry == [("v1", "champion"), ("v2", "archived")]
    events = query(
        project,
        "select event, model_version, reason, run_id from governance.audit_log "
        "where run_id = ? and subject = 'model:demand_forecast' order by event_id",
        [retrained.run_id],
    )
    assert [e[:2] for e in events] == [
        ("retraining_triggered", "v1"),
        ("trained", "v2"),
        ("gate_refused", "v2"),
    ]
    assert events[0][2] == trigger and "is outside ±30 %" in events[2][2]
    # The same drift of the same champion is not retrained a second time.
    again, _ = evaluate_sensor(project, instance)
    assert isinstance(again, dg.SkipReason)
    assert f"retrained for this drift already, in run {retrained.run_id}" in again.skip_message


def test_an_accuracy_table_from_an_earlier_version_gains_the_new_columns(tmp_path):
    """monitoring.* tables are appended to by name: one written before a column was added
    (abs_error) keeps its rows and takes the new rows with the new column."""
    import polars as pl

    from sme_platform.lib.monitoring.tables import append_rows

    with connect(tmp_path / "w.duckdb") as con:
        con.execute("create schema monitoring")
        con.execute("create table monitoring.forecast_accuracy as select 'v1' as model_version")
        append_rows(
            con,
            "monitoring.forecast_accuracy",
            pl.DataFrame({"model_version": ["v2"], "abs_error": [3.5]}),
        )
        rows = con.execute(
            "select model_version, abs_error from monitoring.forecast_accuracy order by 1"
        ).fetchall()
    assert rows == [("v1", None), ("v2", 3.5)]
