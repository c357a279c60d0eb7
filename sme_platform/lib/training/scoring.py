"""Scoring with a registered model: loaded by the version its registry row names, its artifact's
sha256 checked, its forecasts given the intervals it was calibrated with."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from sme_platform.lib.release.registry import ModelVersion, get_version, load_model_text
from sme_platform.lib.training.backtest import LIGHTGBM
from sme_platform.lib.training.conformal import apply_intervals
from sme_platform.lib.training.frames import expand, holiday_dates
from sme_platform.lib.training.model import FORMER_RECENT_MEAN_WINDOWS, DemandModel, load
from sme_platform.lib.training.safety_stock import ProtectionQuantile


@dataclass
class LoadedModel:
    row: ModelVersion
    model: DemandModel
    quantiles: pl.DataFrame
    holiday_country: str | None
    horizon_days: int
    scaled_intervals: bool
    protection_quantile: ProtectionQuantile | None = None


def load_registered(
    con: duckdb.DuckDBPyConnection, models_dir: Path, model_name: str, version: str
) -> LoadedModel:
    row = get_version(con, model_name, version)
    text = load_model_text(con, models_dir, model_name, row.version)
    parameters = row.parameters
    model = load(
        text,
        parameters["categories"],
        parameters["lightgbm"],
        parameters.get("level_factor", 1.0),
        parameters.get("recent_mean_weight", 0.0),
        parameters.get("recent_mean_windows", FORMER_RECENT_MEAN_WINDOWS),
        # Versions registered before the offset had none.
        parameters.get("offset_windows", ()),
    )
    quantiles = pl.DataFrame(parameters["interval"]["quantiles"])
    return LoadedModel(
        row,
        model,
        quantiles,
        parameters.get("holiday_country"),
        parameters["horizon_days"],
        parameters["interval"].get("scaled", False),
        # Versions registered before the simulation ordered for the whole protection interval
        # kept the quantile of their review-period residuals: the nearest safety stock they have.
        parameters.get("protection_quantile", parameters.get("review_period_quantile")),
    )


@dataclass
class Scored:
    forecast: pl.DataFrame
    rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def score(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedModel,
    feature_set_version: str,
    where: str,
    years: list[int],
) -> Scored:
    """Forecast the rows of `feature_set_version` matching `where` (a SQL condition on the
    feature rows, e.g. "for_scoring") with intervals; the frame keeps the actuals where known."""
    started = time.perf_counter()
    holidays_on = holiday_dates(loaded.holiday_country, years)
    frame = expand(con, feature_set_version, where, loaded.horizon_days, holidays_on)
    if frame.is_empty():
        return Scored(frame, 0, 0.0)
    predicted = frame.with_columns(
        pl.Series("prediction", loaded.model.predict(frame), dtype=pl.Float64),
        pl.lit(LIGHTGBM).alias("model"),
        pl.coalesce("list_price", "realized_price_91").alias("unit_price"),
    )
    with_intervals = apply_intervals(predicted, loaded.quantiles, loaded.scaled_intervals)
    return Scored(with_intervals, frame.height, time.perf_counter() - started)
