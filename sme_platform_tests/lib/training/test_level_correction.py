"""The level correction: units sold over units forecast on the earlier folds, shrunk toward 1
and bounded, so one fold's surprise moves the next forecast only part of the way; and the same
rule applied to any method's forecasts for judging."""

from datetime import date

import polars as pl
import pytest

from sme_platform.lib.training.history import TrainingInputError
from sme_platform.lib.training.level_correction import (
    LEVEL_CORRECTION_STRENGTH,
    fold_level_factors,
    level_corrected,
    level_factor,
)

K = LEVEL_CORRECTION_STRENGTH


def test_the_ratio_is_shrunk_toward_one():
    assert 0 < K < 1
    assert level_factor(120.0, 100.0) == pytest.approx(1.2**K)
    assert level_factor(80.0, 100.0) == pytest.approx(0.8**K)
    assert 1 < level_factor(120.0, 100.0) < 1.2


def test_bounded_and_neutral_without_evidence():
    assert level_factor(0.0, 100.0) == 1.0 and level_factor(100.0, 0.0) == 1.0
    assert level_factor(1000.0, 100.0) == pytest.approx(2.0**K)
    assert level_factor(1.0, 100.0) == pytest.approx(0.5**K)


def forecast_rows(model, fold, origin, pairs, censored=()):
    """One row per (actual, prediction) pair of a fold; rows whose index is in `censored` are
    censored."""
    return [
        {
            "model": model,
            "fold": fold,
            "origin_date": origin,
            "actual": actual,
            "prediction": prediction,
            "low": prediction / 2,
            "high": prediction * 2,
            "censored": index in censored,
        }
        for index, (actual, prediction) in enumerate(pairs)
    ]


def three_folds() -> pl.DataFrame:
    # Listed out of date order, and fold_10 sorts before fold_9 by name: the folds are ordered
    # by their origin dates.
    rows = [
        *forecast_rows("peer", "fold_10", date(2025, 3, 15), [(5.0, 10.0)]),
        *forecast_rows("peer", "calibration", date(2025, 3, 1), [(12.0, 8.0), (0.0, 2.0)]),
        # The censored row's 100 units forecast and 0 sold must not count.
        *forecast_rows("peer", "fold_9", date(2025, 3, 8), [(9.0, 6.0), (0.0, 100.0)], {1}),
        *forecast_rows("model", "calibration", date(2025, 3, 1), [(10.0, 10.0)]),
        *forecast_rows("model", "fold_1", date(2025, 3, 8), [(10.0, 10.0)]),
        *forecast_rows("model", "fold_2", date(2025, 3, 15), [(10.0, 10.0)]),
    ]
    return pl.DataFrame(rows)


def test_each_fold_is_corrected_by_the_folds_before_it():
    factors = {
        (row["model"], row["fold"]): row["level_factor"]
        for row in fold_level_factors(three_folds()).iter_rows(named=True)
    }
    assert factors[("peer", "calibration")] == 1.0  # nothing before it
    assert factors[("peer", "fold_9")] == pytest.approx((12.0 / 10.0) ** K)
    assert factors[("peer", "fold_10")] == pytest.approx(((12.0 + 9.0) / (10.0 + 6.0)) ** K)
    assert factors[("model", "fold_1")] == 1.0 and factors[("model", "fold_2")] == 1.0


def test_the_forecasts_and_their_intervals_are_scaled_for_the_chosen_models():
    frame = three_folds()
    corrected = level_corrected(frame, models=["peer"])
    assert corrected.columns == frame.columns and corrected.height == frame.height
    fold_10 = corrected.filter((pl.col("model") == "peer") & (pl.col("fold") == "fold_10")).row(
        0, named=True
    )
    factor = (21.0 / 16.0) ** K
    assert fold_10["prediction"] == pytest.approx(10.0 * factor)
    assert fold_10["low"] == pytest.approx(5.0 * factor)
    assert fold_10["high"] == pytest.approx(20.0 * factor)
    assert fold_10["actual"] == 5.0
    # The model not chosen is untouched, and every model is corrected without a choice.
    untouched = corrected.filter(pl.col("model") == "model")
    assert untouched["prediction"].to_list() == [10.0, 10.0, 10.0]
    every = level_corrected(frame).filter(pl.col("model") == "peer")
    assert every.filter(pl.col("fold") == "fold_10")["prediction"].item() == pytest.approx(
        10.0 * factor
    )


def test_a_frame_without_origin_dates_is_refused():
    with pytest.raises(TrainingInputError, match="origin_date"):
        fold_level_factors(three_folds().drop("origin_date"))
