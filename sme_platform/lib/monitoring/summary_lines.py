"""The monitoring's lines in the run summary: the serving version's latest drift of inputs and
forecasts, its live accuracy, the current period's money, and whether retraining was asked for."""

from __future__ import annotations

import duckdb

from sme_platform.lib.monitoring.config import MonitoringConfig
from sme_platform.lib.monitoring.forecast_monitoring import (
    ACCURACY_TABLE,
    FEATURE_DRIFT_TABLE,
    live_accuracy,
)
from sme_platform.lib.monitoring.live_roi import latest_impact
from sme_platform.lib.monitoring.prediction_drift import PREDICTION_DRIFT_TABLE
from sme_platform.lib.warehouse import table_exists

# The checks whose failure is the retraining signal (lib/monitoring/retraining_signal.py).
SIGNAL_CHECKS = ("feature_drift", "prediction_drift", "live_accuracy")


def monitoring_lines(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    version: str,
    window_days: int = MonitoringConfig().live_window_days,
) -> list[str]:
    lines = [
        _feature_drift(con, model_name, version),
        _prediction_drift(con, model_name, version),
        _live_accuracy(con, model_name, version, window_days),
        _current_period(con, model_name),
        _retraining(con),
    ]
    return [line for line in lines if line]


def _feature_drift(con, model_name: str, version: str) -> str | None:
    if not table_exists(con, "monitoring", "feature_drift"):
        return None
    night = con.execute(
        f"""select measured_on, count(*), count(*) filter (where drifted),
                   string_agg(feature, ', ' order by score desc) filter (where drifted),
                   any_value(method), any_value(threshold), any_value(report_path)
            from {FEATURE_DRIFT_TABLE}
            where model_name = ? and model_version = ?
              and run_id = (select max_by(run_id, created_at) from {FEATURE_DRIFT_TABLE}
                            where model_name = ? and model_version = ?)
            group by measured_on""",
        [model_name, version, model_name, version],
    ).fetchone()
    if not night:
        return None
    day, total, drifted, names, method, threshold, report = night
    return (
        f"Monitoring of {version}: {drifted} of {total} features drifted on {day} "
        f"({method} >= {threshold:g})" + (f": {names}" if names else "") + f"; report {report}"
    )


def _prediction_drift(con, model_name: str, version: str) -> str | None:
    if not table_exists(con, "monitoring", "prediction_drift"):
        return None
    row = con.execute(
        f"""select reference_origin, current_origin, score, threshold, drifted,
                   reference_mean, current_mean
            from {PREDICTION_DRIFT_TABLE} where model_name = ? and model_version = ?
            order by created_at desc limit 1""",
        [model_name, version],
    ).fetchone()
    if not row:
        return None
    first, newest, score, threshold, drifted, before, now = row
    if first == newest:
        return (
            f"Forecasts of {version} from {newest}: its first, the reference its later "
            f"forecasts are compared with (mean {now:.2f} units a day per series)"
        )
    return (
        f"Forecasts of {version} from {newest} against its first ({first}): "
        f"{'drifted' if drifted else 'steady'} (score {score:.3f}, drift at {threshold:g}); "
        f"mean {before:.2f} -> {now:.2f} units a day per series"
    )


def _live_accuracy(con, model_name: str, version: str, window_days: int) -> str | None:
    if not table_exists(con, "monitoring", "forecast_accuracy"):
        return None
    accuracy = con.execute(
        f"select * from {ACCURACY_TABLE} where model_name = ?", [model_name]
    ).pl()
    live = live_accuracy(accuracy, version, "champion", window_days)
    if not live.days or live.wape is None:
        return None
    return (
        f"Live accuracy of {version}: WAPE {live.wape:.3f}, bias {live.bias:+.1%} "
        f"from {live.first_day} to {live.last_day} ({live.days} days with actuals)"
    )


def _current_period(con, model_name: str) -> str | None:
    impact = latest_impact(con, model_name)
    if not impact or impact["saving"] is None:
        return None
    verb = "saved {:,.0f} against" if impact["saving"] >= 0 else "cost {:,.0f} more than"
    orders = f"{impact['origins']} order{'s' if impact['origins'] != 1 else ''}"
    return (
        f"Current period (live): ordering from the served forecasts ({impact['versions']}) "
        f"{verb.format(abs(impact['saving']))} {impact['baseline']} over {orders} from "
        f"{impact['first_origin']} to {impact['last_day']} (simulated on the days sold)"
    )


def _retraining(con) -> str | None:
    """The signal checks failing at the latest monitoring run (what the sensor reads from the
    asset's metadata, as the warehouse keeps it)."""
    if not table_exists(con, "governance", "check_results"):
        return None
    failed = [
        name
        for (name,) in con.execute(
            """select check_name from (
                   select check_name, passed from governance.check_results
                   where asset = 'monitoring/demand_forecast_monitoring' and check_name in ?
                   qualify row_number() over (partition by check_name order by checked_at desc)
                       = 1)
               where not passed order by 1""",
            [list(SIGNAL_CHECKS)],
        ).fetchall()
    ]
    if not failed:
        return None
    named = " and ".join([", ".join(failed[:-1]), failed[-1]] if len(failed) > 1 else failed)
    return (
        f"Monitoring failed {named}: the sensor retrain_demand_forecast_on_drift "
        "retrains the model while the daemon runs (sme-platform ui), as forecasting.yaml's "
        "retraining: says; at once: sme-platform retrain --by NAME --reason TEXT"
    )
