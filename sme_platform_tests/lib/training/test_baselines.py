"""Seasonal naive and the 28-day moving average on hand-made series, expected values by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from sme_platform.lib.training.baselines import moving_average, seasonal_naive
from sme_platform.lib.training.history import FORECAST_SCHEMA
from sme_platform_tests.lib.training.synthetic import START, history_frame, series_history

ORIGIN_DAY = 14
ORIGINS = [("holdout", START + dt.timedelta(days=ORIGIN_DAY))]


def counting_series(days: int, after_origin: float | None = None) -> pl.DataFrame:
    """Day i sells i units; from the origin on, `after_origin` units if given."""
    units = [
        float(day) if after_origin is None or day < ORIGIN_DAY else after_origin
        for day in range(days)
    ]
    return history_frame(series_history("a", "L1", units))


def test_seasonal_naive_takes_the_same_weekday_of_the_last_week_before_the_origin():
    forecast = seasonal_naive(counting_series(28), ORIGINS)
    assert forecast.columns == list(FORECAST_SCHEMA)
    assert forecast.get_column("model").unique().to_list() == ["seasonal_naive"]
    # Horizon h targets day 13 + h. The latest same weekday before day 14: for h = 1..7 one
    # week back, (13 + h) - 7 = days 7..13; for h = 8..14 two weeks back, (13 + h) - 14 = 7..13.
    assert forecast.get_column("prediction").to_list() == [float(d) for d in range(7, 14)] * 2
    assert forecast.get_column("actual").to_list() == [float(d) for d in range(14, 28)]
    assert forecast.get_column("target_date").to_list()[0] == START + dt.timedelta(days=14)


def test_seasonal_naive_does_not_see_days_from_the_origin_on():
    honest = seasonal_naive(counting_series(28), ORIGINS)
    changed_future = seasonal_naive(counting_series(28, after_origin=1000.0), ORIGINS)
    assert changed_future.get_column("prediction").to_list() == (
        honest.get_column("prediction").to_list()
    )
    assert changed_future.get_column("actual").to_list() == [1000.0] * 14


def test_moving_average_is_the_mean_of_uncensored_days_in_the_28_before_the_origin():
    origin_day = 35
    units = [float(day) for day in range(origin_day)] + [1000.0] * 14
    censored = [day in (10, 20) for day in range(origin_day + 14)]
    units[10] = units[20] = 0.0
    rows = series_history("a", "L1", units, censored)
    # Series b: every day censored -> no known demand in the window -> 0.
    rows += series_history("b", "L1", [0.0] * (origin_day + 14), [True] * (origin_day + 14))
    forecast = moving_average(
        history_frame(rows), [("holdout", START + dt.timedelta(days=origin_day))]
    )
    assert forecast.get_column("model").unique().to_list() == ["moving_average_28"]
    by_series = dict(forecast.group_by("sku").agg(pl.col("prediction").unique()).iter_rows())
    # Window: days 7..34, sum 7+...+34 = 574, less the censored days 10 and 20, over 26 days.
    assert by_series["a"] == [pytest.approx(544 / 26)]
    assert by_series["b"] == [0.0]


def test_baselines_cover_every_fold_and_carry_series_attributes():
    history = history_frame(
        series_history("a", "L1", [1.0] * 60) + series_history("b", "L2", [2.0] * 60)
    )
    origins = [
        ("calibration", START + dt.timedelta(days=32)),
        ("holdout", START + dt.timedelta(days=46)),
    ]
    attributes = pl.DataFrame(
        {
            "sku": ["a"],
            "location_id": ["L1"],
            "category": ["dairy"],
            "unit_price": [3.0],
            "unit_cost": [2.0],
        }
    )
    forecast = moving_average(history, origins, attributes=attributes)
    assert forecast.height == 2 * 2 * 14
    assert forecast.group_by("fold").len().sort("fold").rows() == [
        ("calibration", 28),
        ("holdout", 28),
    ]
    assert forecast.filter(pl.col("sku") == "a").get_column("category").unique().to_list() == [
        "dairy"
    ]
    assert forecast.filter(pl.col("sku") == "b").get_column("unit_price").null_count() == 28
    assert forecast.filter(pl.col("sku") == "b").get_column("prediction").unique().to_list() == [
        2.0
    ]
