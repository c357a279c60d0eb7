"""Monitoring of the demand forecast: what the serving model forecasts from tonight against
what it forecast from when it was trained (feature drift, with Evidently), and its forecasts
against what was sold once the actuals arrive (live accuracy, from ml.forecast_log).

Tables (schema `monitoring`): `feature_drift`, one row per night, model version and feature,
appended; `forecast_accuracy`, one row per model version, role, day and segment, from the forecast
log and the actuals, refreshed each night over the days that changed (accuracy_refresh.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl

from sme_platform.lib.features.events import actuals_ctes
from sme_platform.lib.monitoring.config import MonitoringConfig
from sme_platform.lib.monitoring.drift import PendingDrift, start_drift
from sme_platform.lib.monitoring.drift_worker import DriftWorker
from sme_platform.lib.monitoring.tables import append_rows
from sme_platform.lib.release.registry import ModelVersion
from sme_platform.lib.sql_models.incremental import DayRange, range_predicate
from sme_platform.lib.warehouse import table_exists

FEATURE_DRIFT_TABLE = "monitoring.feature_drift"
ACCURACY_TABLE = "monitoring.forecast_accuracy"
# The origin features the model's demand level comes from (the calendar and the price plan are
# known in advance and drift by design).
DRIFT_FEATURES = [
    "mean_7",
    "mean_28",
    "mean_91",
    "mean_182",
    "std_28",
    "max_28",
    "nonzero_share_28",
    "nonzero_share_182",
    "days_since_last_sale",
    "promo_share_28",
    "realized_price_91",
]


@dataclass(frozen=True)
class FeatureDrift:
    measured_on: date  # the scoring origin of the current rows
    rows: pl.DataFrame  # the rows appended to monitoring.feature_drift
    drifted: list[str]
    drifted_share: float
    html_path: Path
    measured_in: str


@dataclass(frozen=True)
class PendingFeatureDrift:
    """A feature drift report asked for; `finish` waits for it and stores its rows."""

    pending: PendingDrift
    model: ModelVersion
    current_feature_set_version: str
    measured_on: date | None
    run_id: str

    def finish(self, con: duckdb.DuckDBPyConnection) -> FeatureDrift:
        model, result = self.model, self.pending.result()
        rows = result.columns.select(
            pl.lit(self.run_id).alias("run_id"),
            pl.lit(model.model_name).alias("model_name"),
            pl.lit(model.version).alias("model_version"),
            pl.lit(model.feature_set_version).alias("reference_feature_set_version"),
            pl.lit(self.current_feature_set_version).alias("current_feature_set_version"),
            pl.lit(self.measured_on, pl.Date).alias("measured_on"),
            pl.col("column").alias("feature"),
            "method",
            "score",
            "threshold",
            "drifted",
            "reference_rows",
            "current_rows",
            pl.lit(str(result.html_path)).alias("report_path"),
            pl.lit(datetime.now(UTC).replace(tzinfo=None)).alias("created_at"),
        )
        append_rows(con, FEATURE_DRIFT_TABLE, rows)
        drifted = rows.filter(pl.col("drifted"))["feature"].to_list()
        return FeatureDrift(
            self.measured_on,
            rows,
            drifted,
            result.drifted_share,
            result.html_path,
            result.measured_in,
        )


def start_feature_drift(
    con: duckdb.DuckDBPyConnection,
    model: ModelVersion,
    current_feature_set_version: str,
    reports_dir: Path,
    config: MonitoringConfig,
    run_id: str,
    worker: DriftWorker | None = None,
) -> PendingFeatureDrift:
    """Tonight's scoring rows against the rows `model` first forecast from: the scoring rows of
    its own feature set, the features as they stood when its training data ended (a sample of at
    most `reference_rows`, the same every night: ordered by a hash of the series). Handed to
    `worker` now; `finish` reads the result.

    Not its training rows: those span a year of origins, and against them a December night
    drifted in 9 of 11 features on the demo, the season the model was trained on. What a drift
    sensor needs is how far the inputs moved since the model was trained."""
    columns = ", ".join(DRIFT_FEATURES)
    reference = con.execute(
        f"""select {columns} from features.demand_features
            where feature_set_version = ? and for_scoring
            order by hash(sku, location_id) limit ?""",
        [model.feature_set_version, config.reference_rows],
    ).pl()
    current = con.execute(
        f"""select origin_date, {columns} from features.demand_features
            where feature_set_version = ? and for_scoring""",
        [current_feature_set_version],
    ).pl()
    measured_on = current["origin_date"].max() if current.height else None
    html_path = reports_dir / "monitoring" / model.model_name / f"{measured_on}.html"
    pending = start_drift(
        reference,
        current.drop("origin_date"),
        DRIFT_FEATURES,
        method=config.drift_method,
        threshold=config.drift_threshold,
        html_path=html_path,
        what=(
            f"feature drift of {model.model_name} {model.version} (reference: feature set "
            f"{model.feature_set_version[:12]}, current: {current_feature_set_version[:12]})"
        ),
        worker=worker,
    )
    return PendingFeatureDrift(pending, model, current_feature_set_version, measured_on, run_id)


def accuracy_rows(
    con: duckdb.DuckDBPyConnection, model_name: str, ranges: list[DayRange] | None = None
) -> pl.DataFrame:
    """Every logged forecast whose day has passed (up to the newest day sold), against the
    units sold: per model version, role, day and segment (overall, location, category), over
    all horizons logged for that day; with `ranges`, for the days in them only. A stocked-out
    day with no sale is left out (its demand is unknown), as in the backtest and the canary."""
    if not table_exists(con, "ml", "forecast_log"):
        return pl.DataFrame()
    categories = (
        "select sku, category from staging.products"
        if table_exists(con, "staging", "products")
        else "select null::varchar as sku, null::varchar as category where false"
    )
    days = "true" if ranges is None else range_predicate("date", ranges)
    frame = con.execute(
        f"""
        with {actuals_ctes(con)},
        categories as ({categories}),
        logged as (select * from ml.forecast_log where model_name = $name and {days}),
        actuals_of_days as (select * from actuals where {days}),
        stock_outs_of_days as (select * from stock_outs where {days}),
        judged as (
            select log.model_version, log.role, log.date, log.sku, log.location_id,
                   coalesce(categories.category, 'uncategorised') as category,
                   log.prediction, coalesce(actuals.units, 0) as actual
            from logged as log
            cross join newest
            left join actuals_of_days as actuals using (sku, location_id, date)
            left join stock_outs_of_days as stock_outs using (sku, location_id, date)
            left join categories using (sku)
            where log.date <= newest.day
              and not (actuals.units is null and stock_outs.sku is not null)
        )
        select model_version, role, date, segment_type, segment,
               count(distinct (sku, location_id)) as series,
               count(*) as forecasts,
               sum(actual) as actual_units,
               sum(prediction) as forecast_units,
               sum(abs(prediction - actual)) as abs_error,
               sum(abs(prediction - actual)) / nullif(sum(actual), 0) as wape,
               (sum(prediction) - sum(actual)) / nullif(sum(actual), 0) as bias
        from (
            select *, 'overall' as segment_type, 'overall' as segment from judged
            union all select *, 'location', location_id from judged
            union all select *, 'category', category from judged
        )
        group by all
        order by model_version, role, date, segment_type, segment
        """,
        {"name": model_name},
    ).pl()
    return frame.with_columns(pl.lit(model_name).alias("model_name"))


@dataclass(frozen=True)
class LiveAccuracy:
    days: int  # days with actuals in the window
    first_day: date | None
    last_day: date | None
    wape: float | None
    bias: float | None


def live_accuracy(
    accuracy: pl.DataFrame, version: str, role: str, window_days: int
) -> LiveAccuracy:
    """Overall WAPE and bias of `version` in `role` over its newest `window_days` judged days."""
    if accuracy.is_empty():
        return LiveAccuracy(0, None, None, None, None)
    days = (
        accuracy.filter(
            (pl.col("model_version") == version)
            & (pl.col("role") == role)
            & (pl.col("segment_type") == "overall")
        )
        .sort("date")
        .tail(window_days)
    )
    if days.is_empty():
        return LiveAccuracy(0, None, None, None, None)
    sold, forecast = days["actual_units"].sum(), days["forecast_units"].sum()
    errors = days["abs_error"].sum()
    return LiveAccuracy(
        days.height,
        days["date"].min(),
        days["date"].max(),
        errors / sold if sold else None,
        (forecast - sold) / sold if sold else None,
    )
