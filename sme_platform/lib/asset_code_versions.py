"""The code versions of the release, monitoring, governance and report assets: each is the hash
of the modules that make the asset and of every module of the named packages they import
(`closure_hash`), so a change to a helper they call is a changed code version. Dagster shows
it, and the assets that skip work whose inputs and code are unchanged (`defs/standing.py`) do
that work again. Hand-kept lists missed such helpers: the forecast ceiling in training/model.py
changed the forecasts the scoring published, and the forecasts' code version did not move."""

from __future__ import annotations

from sme_platform.lib.code_version import closure_hash

LIB = "sme_platform.lib"
RELEASE = f"{LIB}.release"
TRAINING = f"{LIB}.training"
FEATURES = f"{LIB}.features"
MONITORING = f"{LIB}.monitoring"


def release_code_version() -> str:
    """The release decision: the gate, the canary's judge and the promotion rules, with the
    training's scoring and judge (the champion's holdout rows the gate reads) and the events'
    actuals (the canary's)."""
    from sme_platform.lib.release import canary, flow, gate, gate_check, promotion, recipe

    roots = (flow, gate, promotion, canary, gate_check, recipe)
    return closure_hash(*roots, within=(RELEASE, TRAINING, FEATURES))


def forecast_code_version() -> str:
    """The published forecasts: the champion's scoring (its model and intervals, training's
    code) or the fallback's, and their check."""
    from sme_platform.lib.release import fallback, forecast_check, forecasts
    from sme_platform.lib.training import scoring

    return closure_hash(forecasts, forecast_check, fallback, scoring, within=(RELEASE, TRAINING))


def monitoring_code_version() -> str:
    """Drift, live accuracy, live ROI (the training's simulation) and the retraining signal."""
    from sme_platform.lib.monitoring import (
        accuracy_refresh,
        checks,
        drift,
        drift_worker,
        forecast_monitoring,
        live_roi,
        operations,
        prediction_drift,
        retraining_signal,
    )

    roots = (drift, drift_worker, forecast_monitoring, accuracy_refresh, checks)
    roots += (retraining_signal, live_roi, prediction_drift, operations)
    return closure_hash(*roots, within=(MONITORING, TRAINING, FEATURES))


def erasure_code_version() -> str:
    from sme_platform.lib.erasure import files, person, register, rows, serve, traces

    return closure_hash(files, person, register, rows, serve, traces, within=f"{LIB}.erasure")


def compliance_code_version() -> str:
    from sme_platform.lib.compliance import figures, render, report

    # The report's page is the dashboard's (dashboard/render.py).
    return closure_hash(figures, render, report, within=(f"{LIB}.compliance", f"{LIB}.dashboard"))


def dashboard_code_version() -> str:
    from sme_platform.lib.dashboard import check, data, render

    # Its figures come from the monitoring (live ROI) and the training's summary.
    return closure_hash(data, render, check, within=(f"{LIB}.dashboard", MONITORING, TRAINING))
