"""The monitoring checks of the demand forecast (warnings: a drifting input or a live error
above the backtest's does not stop the night; the drift sensor of the next step acts on them)."""

from __future__ import annotations

from sme_platform.lib.governance import CheckOutcome
from sme_platform.lib.monitoring.config import MonitoringConfig
from sme_platform.lib.monitoring.forecast_monitoring import FeatureDrift, LiveAccuracy
from sme_platform.lib.monitoring.prediction_drift import PredictionDrift
from sme_platform.lib.release.registry import ModelVersion


def feature_drift_check(drift: FeatureDrift, config: MonitoringConfig) -> CheckOutcome:
    scores = {row["feature"]: round(row["score"], 4) for row in drift.rows.iter_rows(named=True)}
    share = f"{len(drift.drifted)} of {len(scores)} features"
    passed = drift.drifted_share < config.drift_share
    method = f"{config.drift_method} >= {config.drift_threshold}"
    description = (
        f"{share} drifted ({method}) on {drift.measured_on}"
        + (f": {', '.join(drift.drifted)}" if drift.drifted else "")
        + ("" if passed else f"; at least {config.drift_share:.0%} is drift of the inputs")
        + f". Report: {drift.html_path}"
    )
    return CheckOutcome(
        "feature_drift",
        passed,
        "warn",
        description,
        {
            "drifted": drift.drifted,
            "drifted_share": round(drift.drifted_share, 4),
            "scores": scores,
            "report": str(drift.html_path),
        },
    )


def live_accuracy_check(
    live: LiveAccuracy, model: ModelVersion, config: MonitoringConfig
) -> CheckOutcome:
    holdout_wape = model.metrics.get("wape")
    if live.days == 0 or live.wape is None:
        return CheckOutcome(
            "live_accuracy",
            True,
            "warn",
            f"no actuals yet for the forecasts of {model.version}: nothing to judge",
            {"days": live.days},
        )
    limit = holdout_wape * (1 + config.max_live_wape_increase) if holdout_wape else None
    passed = limit is None or live.wape <= limit
    period = f"{live.first_day} to {live.last_day} ({live.days} days)"
    against = (
        f"its holdout WAPE {holdout_wape:.3f} (at most {limit:.3f} allowed)"
        if limit is not None
        else "no holdout WAPE recorded"
    )
    return CheckOutcome(
        "live_accuracy",
        passed,
        "warn",
        f"{model.version} live WAPE {live.wape:.3f}, bias {live.bias:+.1%} over {period}, "
        f"against {against}",
        {
            "live_wape": round(live.wape, 4),
            "live_bias": round(live.bias, 4) if live.bias is not None else None,
            "holdout_wape": holdout_wape,
            "days": live.days,
        },
    )


def prediction_drift_check(
    drift: PredictionDrift | None, model: ModelVersion, config: MonitoringConfig
) -> CheckOutcome:
    if drift is None:
        return CheckOutcome(
            "prediction_drift", True, "warn", f"{model.version} has published no forecast yet"
        )
    rule = f"{config.drift_method} {drift.score:.3f} against {drift.threshold:g}"
    description = (
        f"{model.version}'s forecasts from {drift.current_origin} against its first, from "
        f"{drift.reference_origin}: {'drifted' if drift.drifted else 'steady'} ({rule}); mean "
        f"{drift.reference_mean:.2f} -> {drift.current_mean:.2f} units a day per series. "
        f"Report: {drift.html_path}"
    )
    return CheckOutcome(
        "prediction_drift",
        not drift.drifted,
        "warn",
        description,
        {
            "score": round(drift.score, 4),
            "reference_mean": round(drift.reference_mean, 4),
            "current_mean": round(drift.current_mean, 4),
            "report": str(drift.html_path),
        },
    )
