"""Accuracy per model, fold and segment on a hand-made frame; the per-model summary."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from sme_platform.lib.training.metrics import accuracy_by_segment, summary, wape_at_zero_bias
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


def test_wape_at_zero_bias_rescales_each_fold_to_the_units_sold():
    # Uncensored: sold 2 + 4 + 0 + 0 = 6, forecast 3 + 3 + 1 + 0 = 7, so each forecast x 6/7:
    # |18/7 - 2| + |18/7 - 4| + |6/7 - 0| + 0 = 20/7 over 6 sold (plain WAPE: 3/6).
    result = wape_at_zero_bias(forecast_rows())
    assert result.to_dicts() == [
        {"model": "m", "fold": "holdout", "wape_at_zero_bias": pytest.approx(20 / 42)}
    ]


def test_wape_at_zero_bias_cannot_be_bought_with_bias():
    exact = forecast_rows()
    # Scaled down by a fifth (bias -6.7 %): a lower plain WAPE, 2.8 / 6 against 3 / 6.
    lowered = exact.with_columns(pl.col("prediction") * 0.8, model=pl.lit("lowered"))
    both = pl.concat([exact, lowered])
    plain = accuracy_by_segment(both).filter(pl.col("segment_type") == "overall")
    assert plain.sort("model")["wape"].to_list() == pytest.approx([2.8 / 6, 0.5])
    rescaled = wape_at_zero_bias(both).sort("model")["wape_at_zero_bias"].to_list()
    assert rescaled == pytest.approx([20 / 42, 20 / 42])


def test_wape_at_zero_bias_is_null_without_units_sold_or_forecast():
    rows = forecast_rows()
    nothing_forecast = rows.with_columns(prediction=pl.lit(0.0), fold=pl.lit("fold_1"))
    nothing_sold = rows.with_columns(actual=pl.lit(0.0), fold=pl.lit("fold_2"))
    result = wape_at_zero_bias(pl.concat([nothing_forecast, nothing_sold]))
    assert result["fold"].to_list() == ["fold_1", "fold_2"]
    assert result["wape_at_zero_bias"].to_list() == [None, None]


def test_wape_at_zero_bias_names_a_missing_column():
    with pytest.raises(Exception, match="censored"):
        wape_at_zero_bias(forecast_rows().drop("censored"))
