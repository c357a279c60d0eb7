"""Rolling-origin backtest of the demand model, and the final model trained for scoring.

Folds (lib/features/origins.py): a calibration fold, fold_1..fold_N and the holdout, each
`horizon_days` long, ending at the newest day. For each fold a model is trained only on rows
whose target day is before the fold's origin (and whose origins lie in the training window
before it), then forecasts the fold's series from the fold's origin. The final model learns from
every training row and forecasts the scoring origin.

Level correction (lib/training/level_correction): each fold's forecasts are scaled by the units
sold over the units forecast on the folds before it (out of sample: never its own actuals),
bounded and shrunk toward 1; the final model by that ratio over all folds, recorded with the
model. On every fold of the demo the raw model forecast 5 to 20 % fewer units than sold (the mean
of a sample of series, shrunk by regularization).

The calibration fold has no judged fold before it, so a warm-up fold precedes it, forecast by the
model alone and judged by no one (its forecasts are not in `forecasts`): without it the
calibration fold's forecasts went uncorrected (11.7 % below what sold on the demo, 29.9 % on the
long-tail shape), and the safety stock every later window orders from the calibration fold's
misses was wider than the corrected model needed. The warm-up model trains on a window
`horizon_days` shorter (the training grid starts where the calibration fold's window does).
Where the history is too short for it (no series active at its origin, or no training row
before it), the calibration fold stays uncorrected, as `warmup` says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import duckdb
import polars as pl

from sme_platform.lib.features.origins import WARMUP, ForecastCalendar
from sme_platform.lib.features.settings import ForecastSettings
from sme_platform.lib.features.store import planned_folds
from sme_platform.lib.training.frames import expand
from sme_platform.lib.training.history import as_forecast_frame
from sme_platform.lib.training.level_correction import level_factor
from sme_platform.lib.training.model import DemandModel, train

LIGHTGBM = "lightgbm"


@dataclass
class ModelBacktest:
    forecasts: pl.DataFrame  # forecast frame rows of LIGHTGBM on every fold
    final_model: DemandModel
    scoring_frame: pl.DataFrame  # the scoring origin's expanded rows with the final prediction
    training_rows: int
    seconds: dict = field(default_factory=dict)
    level_factors: dict = field(default_factory=dict)
    # The warm-up fold: its origin, rows, units sold and forecast; or why it was skipped.
    warmup: dict = field(default_factory=dict)


def lightgbm_forecast_frame(frame: pl.DataFrame, fold: str, predictions) -> pl.DataFrame:
    """Expanded feature rows and their predictions in the forecast frame every method shares
    (history.as_forecast_frame: its columns, empty intervals)."""
    return as_forecast_frame(
        frame.with_columns(
            pl.lit(fold, dtype=pl.Utf8).alias("fold"),
            pl.Series("prediction", predictions, dtype=pl.Float64),
            pl.coalesce("list_price", "realized_price_91").alias("unit_price"),
        ),
        LIGHTGBM,
    )


def backtest_model(
    con: duckdb.DuckDBPyConnection,
    version: str,
    settings: ForecastSettings,
    calendar: ForecastCalendar,
    holidays_on: list,
    train_model: Callable[[pl.DataFrame, int], DemandModel] = train,
    correct_level: bool = True,
) -> ModelBacktest:
    """`train_model` and `correct_level` let benchmarks/model_variants.py try other models; the
    platform trains with `train` and corrects the level."""

    def factor(sold: float, forecast: float) -> float:
        return level_factor(sold, forecast) if correct_level else 1.0

    horizon = settings.horizon_days
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    training = expand(con, version, "for_training", horizon, holidays_on)
    evaluation = expand(con, version, "fold is not null", horizon, holidays_on)
    seconds["frames"] = time.perf_counter() - started
    forecasts = []
    sold_so_far = forecast_so_far = 0.0
    factors: dict[str, float] = {}
    warmup: dict = {"origin": calendar.warmup_origin.isoformat()}
    for fold, origin in calendar.model_fold_origins().items():
        started = time.perf_counter()
        window_start = origin - timedelta(days=horizon + settings.training_window_days)
        rows = training.filter(
            (pl.col("target_date") < origin) & (pl.col("origin_date") >= window_start)
        )
        fold_rows = evaluation.filter(pl.col("fold") == fold)
        if fold == WARMUP and (fold_rows.is_empty() or rows.is_empty()):
            warmup["skipped"] = _why_no_warmup(con, version, fold_rows, rows)
            continue
        model = train_model(rows, settings.sample_seed)
        model.level_factor = factor(sold_so_far, forecast_so_far)
        raw = model.uncorrected_predict(fold_rows)
        uncensored = ~fold_rows["censored"].to_numpy()
        sold = float(fold_rows["actual"].to_numpy()[uncensored].sum())
        forecast = float(raw[uncensored].sum())
        sold_so_far += sold
        forecast_so_far += forecast
        seconds[f"train_{fold}"] = time.perf_counter() - started
        if fold == WARMUP:
            warmup.update(rows=fold_rows.height, sold=round(sold, 2), forecast=round(forecast, 2))
            continue
        factors[fold] = model.level_factor
        forecasts.append(lightgbm_forecast_frame(fold_rows, fold, raw * model.level_factor))
    started = time.perf_counter()
    final_model = train_model(training, settings.sample_seed)
    final_model.level_factor = factors["final"] = factor(sold_so_far, forecast_so_far)
    scoring = expand(con, version, "for_scoring", horizon, holidays_on)
    scoring = scoring.with_columns(
        pl.Series("prediction", final_model.predict(scoring), dtype=pl.Float64)
    )
    seconds["train_final_and_score"] = time.perf_counter() - started
    return ModelBacktest(
        pl.concat(forecasts), final_model, scoring, training.height, seconds, factors, warmup
    )


def _why_no_warmup(
    con: duckdb.DuckDBPyConnection, version: str, fold_rows: pl.DataFrame, rows: pl.DataFrame
) -> str:
    if fold_rows.is_empty() and WARMUP not in planned_folds(con, version):
        return (
            f"feature set version {version} was built before the warm-up fold existed "
            "(features built again plan one)"
        )
    missing = "series active at" if fold_rows.is_empty() else "training row before"
    return f"history too short for a warm-up fold: no {missing} its origin"
