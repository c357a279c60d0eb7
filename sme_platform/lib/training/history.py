"""The dense daily history every evaluated model starts from, and the forecast frame's skeleton.

The history is one row per series (sku at location_id) and day: `units` sold (0 when nothing sold)
and `censored` (stocked out with no sale: the true demand that day is unknown). It extends to the
last evaluated day, so the actuals of every fold's target days come from it too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

HISTORY_SCHEMA: dict[str, pl.DataType] = {
    "sku": pl.String(),
    "location_id": pl.String(),
    "date": pl.Date(),
    "units": pl.Float64(),
    "censored": pl.Boolean(),
}
SERIES_KEYS = ["sku", "location_id"]
ATTRIBUTE_COLUMNS = ["sku", "location_id", "category", "unit_price", "unit_cost"]

# The forecast frame of lib/training (see the interfaces of issue 11), in this column order.
FORECAST_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String(),
    "fold": pl.String(),
    "sku": pl.String(),
    "location_id": pl.String(),
    "category": pl.String(),
    "origin_date": pl.Date(),
    "target_date": pl.Date(),
    "horizon": pl.Int64(),
    "actual": pl.Float64(),
    "censored": pl.Boolean(),
    "prediction": pl.Float64(),
    "low": pl.Float64(),
    "high": pl.Float64(),
    "unit_price": pl.Float64(),
    "unit_cost": pl.Float64(),
}
UNKNOWN_CATEGORY = "unknown"

Origins = Sequence[tuple[str, dt.date]]


class TrainingInputError(ValueError):
    """An input frame of the evaluation does not have the shape it needs."""


def require_columns(frame: pl.DataFrame, columns: Sequence[str], frame_name: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise TrainingInputError(
            f"{frame_name} is missing column(s) {', '.join(missing)} "
            f"(it has: {', '.join(frame.columns) or 'no columns'})"
        )


def validate_history(history: pl.DataFrame, frame_name: str = "history") -> pl.DataFrame:
    """The history with its columns checked and cast; an error names what is wrong.

    Rules: the five columns exist, no key is null, units are not negative, one row per series
    and date.
    """
    require_columns(history, list(HISTORY_SCHEMA), frame_name)
    for column, dtype in HISTORY_SCHEMA.items():
        try:
            history.get_column(column).cast(dtype, strict=True)
        except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError) as error:
            raise TrainingInputError(
                f"{frame_name}: column {column} is {history.schema[column]}, it must be {dtype} "
                f"({error})"
            ) from error
    frame = history.select(
        pl.col(column).cast(dtype, strict=True) for column, dtype in HISTORY_SCHEMA.items()
    )
    for column in ["sku", "location_id", "date", "censored"]:
        nulls = frame.filter(pl.col(column).is_null())
        if nulls.height:
            raise TrainingInputError(
                f"{frame_name}: {nulls.height} row(s) with a null {column}, first: {nulls.row(0)}"
            )
    negative = frame.filter(pl.col("units") < 0)
    if negative.height:
        raise TrainingInputError(
            f"{frame_name}: units must not be negative; {negative.height} row(s), "
            f"first: {negative.row(0, named=True)}"
        )
    duplicated = frame.filter(pl.struct([*SERIES_KEYS, "date"]).is_duplicated())
    if duplicated.height:
        raise TrainingInputError(
            f"{frame_name}: one row per sku, location_id and date expected; "
            f"{duplicated.height} duplicated row(s), first: {duplicated.row(0, named=True)}"
        )
    return frame


def history_before(history: pl.DataFrame, origin: dt.date) -> pl.DataFrame:
    """The days known at a forecast origin: strictly before it."""
    return history.filter(pl.col("date") < origin)


def series_of(history: pl.DataFrame) -> pl.DataFrame:
    """Every series in the history, one row each, in a stable order."""
    return history.select(SERIES_KEYS).unique().sort(SERIES_KEYS)


def origins_frame(origins_by_fold: Origins, horizon: int) -> pl.DataFrame:
    """One row per fold, origin and horizon 1..horizon with its target date."""
    if not origins_by_fold:
        raise TrainingInputError("origins_by_fold is empty: at least one (fold, origin) needed")
    folds = [fold for fold, _ in origins_by_fold]
    if len(set(folds)) != len(folds):
        raise TrainingInputError(f"origins_by_fold names a fold twice: {folds}")
    return (
        pl.DataFrame(
            {
                "fold": folds,
                "origin_date": [origin for _, origin in origins_by_fold],
            },
            schema={"fold": pl.String(), "origin_date": pl.Date()},
        )
        .join(pl.DataFrame({"horizon": list(range(1, horizon + 1))}), how="cross")
        .with_columns(
            target_date=pl.col("origin_date") + pl.duration(days=pl.col("horizon") - 1),
        )
    )


def target_days(
    history: pl.DataFrame,
    origins_by_fold: Origins,
    series: pl.DataFrame,
    horizon: int = 14,
    attributes: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Series x fold x horizon with the actual units, censoring and the series' attributes.

    A target day after the history's last day is an error: the actuals must be known to
    evaluate. A target day the series has no row for (before its first activity) counts as no
    sale (actual 0, not censored).
    """
    require_columns(series, SERIES_KEYS, "series")
    targets = origins_frame(origins_by_fold, horizon)
    if history.is_empty():
        raise TrainingInputError("history is empty: no actuals to evaluate forecasts against")
    last_day = history.get_column("date").max()
    beyond = targets.filter(pl.col("target_date") > last_day)
    if beyond.height:
        raise TrainingInputError(
            f"history ends on {last_day} but fold {beyond.get_column('fold')[0]} needs actuals "
            f"up to {beyond.get_column('target_date').max()}"
        )
    frame = (
        series.select(SERIES_KEYS)
        .unique()
        .join(targets, how="cross")
        .join(
            history.select(
                *SERIES_KEYS,
                pl.col("date").alias("target_date"),
                pl.col("units").alias("actual"),
                "censored",
            ),
            on=[*SERIES_KEYS, "target_date"],
            how="left",
        )
        .with_columns(pl.col("actual").fill_null(0.0), pl.col("censored").fill_null(False))
    )
    return with_series_attributes(frame, attributes)


def with_series_attributes(frame: pl.DataFrame, attributes: pl.DataFrame | None) -> pl.DataFrame:
    """Adds category (default "unknown"), unit_price and unit_cost (nullable) per series."""
    if attributes is None:
        attributes = pl.DataFrame(
            schema={
                column: FORECAST_SCHEMA.get(column, pl.String()) for column in ATTRIBUTE_COLUMNS
            }
        )
    require_columns(attributes, ATTRIBUTE_COLUMNS, "series attributes")
    attributes = attributes.select(
        pl.col(column).cast(FORECAST_SCHEMA.get(column, pl.String()))
        for column in ATTRIBUTE_COLUMNS
    )
    duplicated = attributes.filter(pl.struct(SERIES_KEYS).is_duplicated())
    if duplicated.height:
        raise TrainingInputError(
            f"series attributes: one row per sku and location_id expected; first duplicate: "
            f"{duplicated.row(0, named=True)}"
        )
    return (
        frame.drop([c for c in ATTRIBUTE_COLUMNS[2:] if c in frame.columns])
        .join(attributes, on=SERIES_KEYS, how="left")
        .with_columns(pl.col("category").fill_null(UNKNOWN_CATEGORY))
    )


def as_forecast_frame(frame: pl.DataFrame, model: str) -> pl.DataFrame:
    """The forecast frame's columns in order, with the model named and empty interval bounds."""
    frame = frame.with_columns(pl.lit(model).alias("model"))
    for column in ["low", "high"]:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Float64()).alias(column))
    require_columns(frame, list(FORECAST_SCHEMA), f"forecast frame of {model}")
    return frame.select(
        pl.col(column).cast(dtype) for column, dtype in FORECAST_SCHEMA.items()
    ).sort(["fold", *SERIES_KEYS, "horizon"])
