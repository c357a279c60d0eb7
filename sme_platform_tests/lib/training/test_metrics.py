"""Accuracy per model, fold and segment on a hand-made frame; the per-model summary."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from sme_platform.lib.training.metrics import accuracy_by_segment, summary
from sme_platform_tests.lib.training.synthetic import START

DAY_1, DAY_2, DAY_3 = (START + dt.timedelta(days=offset) for offset in range(3))


def forecast_rows() -> pl.DataFrame:
    # sku, location, category, date, actual, censored, prediction, low, high
    rows = [
        ("a", "L1", "dairy", DAY_1, 2.0, False, 3.0, 1.0, 4.0),
        ("a", "L1", "dairy", DAY_2, 4.0, False, 3.0, 1.0, 4.0),
        ("a", "L1", "dairy", DAY_3, 0.0, True, 3.0, 1.0, 4.0),  # stocked out: left out
        ("b", "L2", "bakery", DAY_1, 0.0, False, 1.0, 0.0, 2.0),
        ("b", "L2", "bakery", DAY_2, 0.0, False, 0.0, 0.5, 1.0),
    ]
    columns = ["sku", "location_id", "category", "target_date", "actual", "censored"]
    return pl.DataFrame(
        rows, schema=[*columns, "prediction", "low", "high"], orient="row"
    ).with_columns(model=pl.lit("m"), fold=pl.lit("holdout"))


def test_accuracy_per_segment_by_hand():
    results = accuracy_by_segment(forecast_rows(), nominal=0.8)
    assert results.height == 5  # overall, 2 categories, 2 locations
    by_segment = {(row["segment_type"], row["segment"]): row for row in results.to_dicts()}
    overall = by_segment[("overall", "overall")]
    # Uncensored rows: |3-2| + |3-4| + |1-0| + |0-0| = 3 over 6 units sold; 7 forecast.
    assert overall["series"] == 2
    assert overall["days"] == 2
    assert overall["actual_units"] == 6.0
    assert overall["forecast_units"] == 7.0
    assert overall["wape"] == pytest.approx(0.5)
    assert overall["mae"] == pytest.approx(0.75)
    assert overall["bias"] == pytest.approx(1 / 6)
    assert overall["interval_coverage"] == pytest.approx(0.75)  # b's day 2: 0 below low 0.5
    assert overall["nominal_coverage"] == 0.8
    dairy = by_segment[("category", "dairy")]
    assert (dairy["wape"], dairy["bias"], dairy["mae"], dairy["interval_coverage"]) == (
        pytest.approx(2 / 6),
        0.0,
        1.0,
        1.0,
    )
    # Nothing sold in bakery: WAPE and bias are null, not inf.
    bakery = by_segment[("category", "bakery")]
    assert (bakery["wape"], bakery["bias"], bakery["mae"]) == (None, None, 0.5)
    assert by_segment[("location", "L2")]["interval_coverage"] == 0.5


def test_coverage_is_null_without_intervals():
    frame = forecast_rows().with_columns(
        low=pl.lit(None, pl.Float64), high=pl.lit(None, pl.Float64)
    )
    results = accuracy_by_segment(frame)
    assert results.get_column("interval_coverage").null_count() == results.height


def test_summary_means_the_backtest_folds_and_keeps_the_holdout_apart():
    results = pl.DataFrame(
        {
            "model": ["m"] * 4,
            "fold": ["calibration", "fold_1", "fold_2", "holdout"],
            "segment_type": ["overall"] * 4,
            "segment": ["overall"] * 4,
            "wape": [9.0, 0.4, 0.6, 0.7],
        }
    )
    assert summary(results).select("model", "period", "folds", "wape").rows() == [
        ("m", "backtest_mean", 2, pytest.approx(0.5)),
        ("m", "holdout", 1, 0.7),
    ]
