"""The statistical peers a data team would use instead of a platform model: statsforecast (Nixtla)
CrostonOptimized, ADIDA and AutoETS, on the same folds and series as every other model.

Censored days: statsforecast has no notion of censoring, and a stock-out zero fed in as an observed
zero teaches Croston and ADIDA that demand is lower than it is. So each censored day of the
training window is imputed with the mean of the same series' uncensored days before the origin
(0 if it has none) - the same estimate the 28-day moving average baseline makes, using only days
known at the origin.

The history must be dense up to the day before each origin (zero-filled, as lib/training/history
describes): statsforecast forecasts the `horizon` days after each series' last training day, and
those days are taken as horizons 1..horizon. A series with no day before an origin gets 0.
"""

from __future__ import annotations

import logging
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import polars as pl

from sme_platform.lib.features.demand import LOOKBACK_DAYS
from sme_platform.lib.training.history import (
    SERIES_KEYS,
    Origins,
    TrainingInputError,
    as_forecast_frame,
    history_before,
    require_columns,
    series_of,
    target_days,
    validate_history,
)

# Fitting a peer outside the backtest (the fallback forecast, the live ROI): on the days of the
# feature lookback before the origin, in chunks of series (each series is fitted alone, so the
# forecasts are the same): on the long-tail demo's 59,923 series the dense history at once
# peaked at 3.3 GB, in chunks of 5,000 at 1.0 GB (ADIDA: 8.9 s).
PEER_HISTORY_DAYS = LOOKBACK_DAYS
PEER_CHUNK_SERIES = 5_000
CROSTON = "statsforecast.CrostonOptimized"
ADIDA_MODEL = "statsforecast.ADIDA"
AUTOETS = "statsforecast.AutoETS"
WEEK = 7


@dataclass
class PeerForecasts:
    """The peers' forecast frame (all three models), a note per model and the seconds each took."""

    forecasts: pl.DataFrame
    notes: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@contextmanager
def _quiet_statsforecast():
    """statsforecast warns per series (e.g. when it falls back); not for the run log."""
    logger = logging.getLogger("statsforecast")
    previous_level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            yield
    finally:
        logger.setLevel(previous_level)


def training_frame(history: pl.DataFrame, origin, series_ids: pl.DataFrame) -> pl.DataFrame:
    """statsforecast's long frame (unique_id, ds, y) of the days before the origin, censored days
    imputed with the series' mean uncensored units before the origin."""
    known = history_before(history, origin).join(series_ids, on=SERIES_KEYS, how="inner")
    uncensored_mean = (
        pl.col("units").filter(~pl.col("censored")).mean().over("unique_id").fill_null(0.0)
    )
    return (
        known.with_columns(
            y=pl.when(pl.col("censored")).then(uncensored_mean).otherwise(pl.col("units"))
        )
        .select("unique_id", pl.col("date").alias("ds"), "y")
        .sort("unique_id", "ds")
    )


def _forecast(models, train: pl.DataFrame, horizon: int, fallback=None) -> pl.DataFrame:
    """statsforecast's forecasts, with the step after each series' last day as the horizon."""
    from statsforecast import StatsForecast  # imported here: it takes seconds (numba)

    if train.is_empty():
        columns = {"unique_id": pl.Int64(), "horizon": pl.Int64()}
        return pl.DataFrame(schema=columns | {model.alias: pl.Float64() for model in models})
    with _quiet_statsforecast():
        engine = StatsForecast(
            models=models, freq="1d", n_jobs=1, fallback_model=fallback, verbose=False
        )
        result = engine.forecast(df=train, h=horizon)
    return result.with_columns(horizon=pl.int_range(1, pl.len() + 1).over("unique_id")).drop("ds")


def statsforecast_peers(
    history: pl.DataFrame,
    origins_by_fold: Origins,
    series: pl.DataFrame | None = None,
    horizon: int = 14,
    attributes: pl.DataFrame | None = None,
    autoets_series: int = 30,
) -> PeerForecasts:
    """CrostonOptimized and ADIDA on every series; AutoETS(season_length=7) on the top
    `autoets_series` series by units before each origin (censored days imputed as the module
    says; ties broken by sku, location_id), the others carrying ADIDA's forecast under the
    AutoETS name (AutoETS takes a fraction of a second per series and fold; the note says how
    many series it ran on). Predictions are clipped at 0. `seconds` holds the fitting time per
    model summed over folds (Croston and ADIDA share one call: half each).
    """
    from statsforecast.models import ADIDA, AutoETS, CrostonOptimized

    if autoets_series < 0:
        raise TrainingInputError(f"autoets_series must be 0 or more, got {autoets_series}")
    history = validate_history(history)
    series = series_of(history) if series is None else series
    require_columns(series, SERIES_KEYS, "series")
    series_ids = (
        series.select(SERIES_KEYS).unique().sort(SERIES_KEYS).with_row_index("unique_id")
    ).with_columns(pl.col("unique_id").cast(pl.Int64))
    seconds = {CROSTON: 0.0, ADIDA_MODEL: 0.0, AUTOETS: 0.0}
    per_fold = []
    autoets_counts = []
    for fold, origin in origins_by_fold:
        train = training_frame(history, origin, series_ids)
        started = time.perf_counter()
        fast = _forecast([CrostonOptimized(), ADIDA()], train, horizon)
        # One call fits both models: their time is shared.
        shared = (time.perf_counter() - started) / 2
        seconds[CROSTON] += shared
        seconds[ADIDA_MODEL] += shared
        top_ids = (
            train.group_by("unique_id")
            .agg(volume=pl.col("y").sum())
            .sort(["volume", "unique_id"], descending=[True, False])
            .head(autoets_series)
            .select("unique_id")
        )
        autoets_counts.append(top_ids.height)
        started = time.perf_counter()
        # A series too short for ETS falls back to ADIDA, like the series outside the top.
        ets = _forecast(
            [AutoETS(season_length=WEEK)],
            train.join(top_ids, on="unique_id", how="semi"),
            horizon,
            fallback=ADIDA(),
        )
        seconds[AUTOETS] += time.perf_counter() - started
        predictions = fast.join(ets, on=["unique_id", "horizon"], how="left").with_columns(
            pl.col("AutoETS").fill_null(pl.col("ADIDA"))
        )
        per_fold.append(predictions.with_columns(fold=pl.lit(fold)))
    predictions = pl.concat(per_fold).join(series_ids, on="unique_id").drop("unique_id")
    targets = target_days(history, origins_by_fold, series, horizon, attributes)
    frames = []
    for model, column in [
        (CROSTON, "CrostonOptimized"),
        (ADIDA_MODEL, "ADIDA"),
        (AUTOETS, "AutoETS"),
    ]:
        frame = targets.join(
            predictions.select("fold", *SERIES_KEYS, "horizon", pl.col(column).alias("prediction")),
            on=["fold", *SERIES_KEYS, "horizon"],
            how="left",
        ).with_columns(pl.col("prediction").fill_null(0.0).clip(lower_bound=0.0))
        frames.append(as_forecast_frame(frame, model))
    series_count = series_ids.height
    notes = {
        CROSTON: f"CrostonOptimized on all {series_count} series",
        ADIDA_MODEL: f"ADIDA on all {series_count} series",
        AUTOETS: (
            f"AutoETS(season_length=7) on the top {max(autoets_counts)} of {series_count} series "
            f"by units before each origin; the other {series_count - max(autoets_counts)} carry "
            "ADIDA's forecast"
        ),
    }
    return PeerForecasts(forecasts=pl.concat(frames), notes=notes, seconds=seconds)


def peer_forecast(history: pl.DataFrame, origin, method: str, horizon: int) -> pl.DataFrame:
    """CrostonOptimized or ADIDA fitted as the backtest fits them (censored days imputed), on
    every series of `history` (dense up to the day before `origin`): sku, location_id, horizon,
    prediction clipped at 0. The fallback forecast's (lib/release/fallback.py)."""
    from statsforecast.models import ADIDA, CrostonOptimized

    models = {CROSTON: CrostonOptimized, ADIDA_MODEL: ADIDA}
    if method not in models:
        raise TrainingInputError(f"no peer {method!r} to forecast with: one of {sorted(models)}")
    history = validate_history(history)
    series_ids = (
        series_of(history)
        .select(SERIES_KEYS)
        .unique()
        .sort(SERIES_KEYS)
        .with_row_index("unique_id")
    ).with_columns(pl.col("unique_id").cast(pl.Int64))
    model = models[method]()
    predictions = _forecast([model], training_frame(history, origin, series_ids), horizon)
    return predictions.join(series_ids, on="unique_id").select(
        *SERIES_KEYS, "horizon", prediction=pl.col(model.alias).clip(lower_bound=0.0)
    )
