"""The monitoring stage: the serving demand model's inputs against those it was trained up to
(Evidently feature drift, HTML report per night) and its forecasts against the actuals."""

import dagster as dg

from sme_platform.defs.features.assets import DEMAND_FEATURES_KEY
from sme_platform.defs.governance.checks import report_checks, skipped
from sme_platform.defs.release.jobs import DEMAND_FORECAST_KEY
from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.standing import INPUTS_KEY, inputs_key, standing_results
from sme_platform.defs.upstream import latest_metadata_value
from sme_platform.lib.asset_code_versions import monitoring_code_version
from sme_platform.lib.features.store import stored_version
from sme_platform.lib.monitoring import live_roi, retraining_signal
from sme_platform.lib.monitoring.accuracy_refresh import (
    read_forecast_accuracy,
    refresh_forecast_accuracy,
)
from sme_platform.lib.monitoring.checks import (
    feature_drift_check,
    live_accuracy_check,
    prediction_drift_check,
)
from sme_platform.lib.monitoring.drift_worker import MEASURING_STEP
from sme_platform.lib.monitoring.forecast_monitoring import live_accuracy, start_feature_drift
from sme_platform.lib.monitoring.live_roi import record_impact
from sme_platform.lib.monitoring.operations import record_scoring_latency, refresh_quality_trends
from sme_platform.lib.monitoring.prediction_drift import measure_prediction_drift
from sme_platform.lib.monitoring.retraining_signal import reference_window
from sme_platform.lib.release.registry import champion
from sme_platform.lib.sql_models.up_to_date import FULL_REFRESH_TAG
from sme_platform.lib.training.config import MODEL_NAME, load_forecasting_config

MONITORING_KEY = dg.AssetKey(["monitoring", "demand_forecast_monitoring"])
MONITORING_CODE_VERSION = monitoring_code_version()
# Metadata the retraining sensor reads: why to retrain (empty: no need), and the run key.
RETRAIN_SIGNAL = "retrain_signal"
RETRAIN_RUN_KEY = "retrain_run_key"
CHECKS = {
    "feature_drift": "Tonight's scoring features against the features the champion first "
    "forecast from, when its training data ended (Evidently, one drift score per feature): "
    "fails (warn) when the configured share of them drifted.",
    "prediction_drift": "Tonight's forecasts of the champion against its first forecasts "
    "(Evidently, the daily predictions of every series): fails (warn) when they drifted.",
    "live_accuracy": "The champion's WAPE over the newest days with actuals, from the forecasts "
    "it published: fails (warn) when it exceeds its holdout WAPE by more than the configured "
    "share.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            MONITORING_KEY,
            group_name="monitoring",
            description=(
                "Monitoring of the demand forecast: monitoring.feature_drift (one row per "
                "night, model version and feature: Evidently's score, method, threshold, "
                "drifted; the HTML report in data/reports/monitoring/<model>/<date>.html) and "
                "monitoring.forecast_accuracy (live WAPE and bias per model version, role, day "
                "and segment, from ml.forecast_log and the actuals, refreshed over the days "
                "that changed) and "
                "monitoring.business_impact (the money of ordering from the served forecasts "
                "against the cheapest baseline or peer, on the days sold since; one row per run), "
                "monitoring.prediction_drift (its forecasts against its first), "
                "monitoring.scoring_latency, monitoring.data_quality_daily and "
                "monitoring.check_failures_daily (the platform's own health over time). "
                "Grain: see tables."
            ),
            deps=[DEMAND_FORECAST_KEY],
            code_version=MONITORING_CODE_VERSION,
            kinds={"duckdb", "python"},
            tags={"stage": "monitoring"},
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(name, asset=MONITORING_KEY, blocking=False, description=text)
        for name, text in CHECKS.items()
    ],
    name=MEASURING_STEP,
)
def demand_forecast_monitoring(context: dg.AssetExecutionContext, project: ProjectResource):
    settings = load_forecasting_config(project.paths.root)
    config = settings.monitoring
    run_id = context.run.run_id
    feature_version = latest_metadata_value(context, DEMAND_FEATURES_KEY, "feature_set_version")
    with project.warehouse() as con:
        feature_set = stored_version(con, feature_version) if feature_version else None
        serving = champion(con, MODEL_NAME)
        if feature_set is None or serving is None:
            reason = "no feature set or no champion model: nothing to monitor"
            yield from skipped(context, con, MONITORING_KEY, CHECKS, reason)
            return
        inputs = inputs_key(
            serving=serving.version,
            feature_set=feature_set.version,
            forecast=latest_metadata_value(context, DEMAND_FORECAST_KEY, INPUTS_KEY),
            settings=settings.model_dump(include={"monitoring", "retraining", "business"}),
            code=MONITORING_CODE_VERSION,
        )
        standing = standing_results(
            context, con, MONITORING_KEY, inputs, set(CHECKS), "the monitoring"
        )
        if standing is not None:
            # Nothing new to measure; the platform's health trends still count tonight's run.
            refresh_quality_trends(con)
            yield from standing
            return
        # Evidently's report is made in the worker process while this one refreshes the
        # live accuracy.
        pending_drift = start_feature_drift(
            con,
            serving,
            feature_set.version,
            project.paths.reports_dir,
            config,
            run_id,
            worker=project.drift_worker,
        )
        accuracy_update = refresh_forecast_accuracy(
            con, MODEL_NAME, run_id, full_refresh=FULL_REFRESH_TAG in context.run.tags
        )
        drifted = pending_drift.finish(con)
        accuracy = read_forecast_accuracy(con, MODEL_NAME)
        live = live_accuracy(accuracy, serving.version, "champion", config.live_window_days)
        predicted = measure_prediction_drift(
            con, serving, project.paths.reports_dir, config, run_id, worker=project.drift_worker
        )
        drift_outcomes = [
            feature_drift_check(drifted, config),
            prediction_drift_check(predicted, serving, config),
        ]
        live_outcome = live_accuracy_check(live, serving, config)
        outcomes = [*drift_outcomes, live_outcome]
        reference = stored_version(con, serving.feature_set_version)
        window = reference_window(
            serving.feature_set_version, reference.calendar.scoring_origin if reference else None
        )
        signal = retraining_signal.retraining_signal(
            serving, window, drift_outcomes, live_outcome, settings.retraining
        )
        impact = live_roi.live_roi(con, MODEL_NAME, settings.business)
        record_impact(con, MODEL_NAME, impact, run_id)
        published = context.instance.get_latest_materialization_event(DEMAND_FORECAST_KEY)
        if published is not None and published.asset_materialization is not None:
            metadata = published.asset_materialization.metadata
            if "seconds_per_batch" in metadata:
                record_scoring_latency(
                    con,
                    MODEL_NAME,
                    published.run_id,
                    int(metadata["dagster/row_count"].value),
                    dict(metadata["seconds_per_batch"].value),
                )
        results = report_checks(con, MONITORING_KEY, outcomes, run_id)
        trends = refresh_quality_trends(con)  # after tonight's checks: they count too
    if signal.fires:
        context.log.warning(f"retraining asked for ({signal.run_key}): {signal.trigger}")
    yield dg.MaterializeResult(
        metadata={
            "model_version": serving.version,
            "drift_report": dg.MetadataValue.path(str(drifted.html_path)),
            "drifted_features": drifted.drifted,
            "drifted_share": round(drifted.drifted_share, 4),
            "drift_measured_in": drifted.measured_in,
            "accuracy_rows": accuracy.height,
            "accuracy_refresh": accuracy_update.describe(),
            "live_wape": live.wape,
            "live_days": live.days,
            "prediction_drift": predicted.score if predicted else None,
            "prediction_report": dg.MetadataValue.path(str(predicted.html_path))
            if predicted
            else None,
            "quality_trend_rows": trends,
            "reference_window": window,
            "live_saving": impact.saving,
            "live_saving_against": impact.baseline or impact.missing,
            RETRAIN_SIGNAL: signal.trigger if signal.fires else "",
            RETRAIN_RUN_KEY: signal.run_key if signal.fires else "",
            INPUTS_KEY: inputs,
        }
    )
    yield from results


MONITORING_ASSETS = [demand_forecast_monitoring]
