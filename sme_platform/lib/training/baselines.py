"""The naive baselines every model must beat, on the same folds and series.

Both use only days strictly before each fold's origin (the forecast is made at the origin).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from sme_platform.lib.training.history import (
    SERIES_KEYS,
    Origins,
    as_forecast_frame,
    series_of,
    target_days,
    validate_history,
)

SEASONAL_NAIVE = "seasonal_naive"
MOVING_AVERAGE = "moving_average_28"


def seasonal_naive(
    history: pl.DataFrame,
    origins_by_fold: Origins,
    series: pl.DataFrame | None = None,
    horizon: int = 14,
    attributes: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Same weekday, last known week: target day D gets the units of D - 7k, k the smallest with
    D - 7k before the origin (k = 1 for horizons 1-7, 2 for 8-14).

    The units are taken as recorded, also on a censored day (a naive method knows nothing of
    stock-outs); a source day the series has no row for (before its first activity) counts as 0.
    """
    history = validate_history(history)
    series = series_of(history) if series is None else series
    frame = target_days(history, origins_by_fold, series, horizon, attributes)
    weeks_back = (pl.col("horizon") - 1) // 7 + 1
    frame = frame.with_columns(
        source_date=pl.col("target_date") - pl.duration(days=weeks_back * 7)
    ).join(
        history.select(*SERIES_KEYS, pl.col("date").alias("source_date"), "units"),
        on=[*SERIES_KEYS, "source_date"],
        how="left",
    )
    frame = frame.with_columns(prediction=pl.col("units").fill_null(0.0))
    return as_forecast_frame(frame, SEASONAL_NAIVE)


def moving_average(
    history: pl.DataFrame,
    origins_by_fold: Origins,
    series: pl.DataFrame | None = None,
    horizon: int = 14,
    attributes: pl.DataFrame | None = None,
    window: int = 28,
) -> pl.DataFrame:
    """The mean units of the uncensored days among the `window` days before the origin, flat over
    the horizon; 0 when none of those days is known (a censored zero is not zero demand, so it is
    left out rather than averaged in).
    """
    history = validate_history(history)
    series = series_of(history) if series is None else series
    frame = target_days(history, origins_by_fold, series, horizon, attributes)
    # One filter per origin (a handful) rather than a cross join of origins with the history.
    window_means = pl.concat(
        [
            history.filter(
                ~pl.col("censored")
                & (pl.col("date") < origin)
                & (pl.col("date") >= origin - dt.timedelta(days=window))
            )
            .group_by(SERIES_KEYS)
            .agg(prediction=pl.col("units").mean())
            .with_columns(fold=pl.lit(fold))
            for fold, origin in origins_by_fold
        ]
    )
    frame = frame.join(window_means, on=["fold", *SERIES_KEYS], how="left").with_columns(
        pl.col("prediction").fill_null(0.0)
    )
    model = MOVING_AVERAGE if window == 28 else f"moving_average_{window}"
    return as_forecast_frame(frame, model)
