"""Split-conformal intervals: residual quantiles by hand, buckets, and coverage on intermittent
demand."""

from __future__ import annotations

import polars as pl
import pytest

from sme_platform.lib.training.baselines import moving_average
from sme_platform.lib.training.conformal import (
    apply_intervals,
    fit_residual_quantiles,
    with_conformal_intervals,
)
from sme_platform.lib.training.history import TrainingInputError
from sme_platform_tests.lib.training.synthetic import intermittent_history, rolling_origins

SQRT2 = 2**0.5


def residual_rows(model: str, prediction: float, residuals: list[float], horizon: int = 1):
    return pl.DataFrame(
        {
            "model": model,
            "horizon": horizon,
            "prediction": prediction,
            "actual": [prediction + residual for residual in residuals],
            "censored": False,
        }
    )


def test_residual_quantiles_by_hand_and_intervals_clipped_at_zero():
    # Residuals 0..8; nominal 0.5 -> the 25th and 75th percentiles: ranks 0.25 * 8 = 2 and
    # 0.75 * 8 = 6 of the sorted residuals, i.e. 2 and 6, kept in units of sqrt(prediction + 1)
    # = sqrt(2). A censored row (residual 100) is ignored.
    calibration = pl.concat(
        [
            residual_rows("m", 1.0, [float(r) for r in range(9)]),
            residual_rows("m", 1.0, [100.0]).with_columns(censored=pl.lit(True)),
        ]
    )
    quantiles = fit_residual_quantiles(calibration, nominal=0.5, min_rows_per_bucket=1)
    assert quantiles.select(
        "model", "horizon_from", "horizon_to", "residual_low", "residual_high", "calibration_rows"
    ).rows() == [("m", 1, 7, pytest.approx(2 / SQRT2), pytest.approx(6 / SQRT2), 9)]
    frame = pl.DataFrame({"model": ["m", "m"], "horizon": [3, 5], "prediction": [1.0, 0.0]})
    # With residual_low -5 the lower bound would be negative: clipped at 0.
    wide = quantiles.with_columns(residual_low=pl.lit(-5.0))
    # A forecast of 1 gets the residuals back as they were (high 1 + 6); one of 0 (scale 1)
    # narrower (high 6 / sqrt(2)). Both lower bounds (1 + 2, 0 + 2 / sqrt(2)) lie above the
    # forecast: the interval is widened down to it, so it always holds the forecast.
    assert apply_intervals(frame, quantiles).select("low", "high").rows() == [
        (pytest.approx(1.0), pytest.approx(7.0)),
        (pytest.approx(0.0), pytest.approx(6 / SQRT2)),
    ]
    assert apply_intervals(frame, wide).get_column("low").to_list() == [0.0, 0.0]
    # Both upper bounds below the forecast (a slow series that mostly sells nothing): widened
    # up to it; the lower bound clipped at 0.
    below = quantiles.with_columns(residual_low=pl.lit(-3.0), residual_high=pl.lit(-0.5))
    assert apply_intervals(frame, below).select("low", "high").rows() == [
        (0.0, pytest.approx(1.0)),
        (0.0, 0.0),
    ]


def test_size_buckets_separate_slow_from_fast_series_and_merge_empty_buckets():
    calibration = pl.concat(
        [
            residual_rows("m", 0.5, [-0.5, 0.5] * 50),
            residual_rows("m", 10.0, [float(r) for r in range(-5, 5)] * 10),
        ]
    )
    # Four requested buckets, but the cut points are 0.5, 10 and 10: a bucket below 0.5 would be
    # empty, so it merges: two buckets remain, each with its own spread. Fast bucket: residuals
    # -5..4, ten each; the 10th percentile (lower) is rank 9 of 0..99 -> -5, the 90th (higher)
    # rank 90 -> 4; each in units of sqrt(prediction + 1) of its rows. The slow bucket sells
    # nothing on half its days (actual 0.5 - 0.5): its lower bound is 0, its upper bound the 80th
    # percentile (0.5).
    quantiles = fit_residual_quantiles(calibration, nominal=0.8, size_buckets=4)
    assert quantiles.select(
        "size_from", "residual_low", "residual_high", "low_is_zero", "calibration_rows"
    ).rows() == [
        (float("-inf"), pytest.approx(-0.5 / 1.5**0.5), pytest.approx(0.5 / 1.5**0.5), True, 100),
        (10.0, pytest.approx(-5 / 11**0.5), pytest.approx(4 / 11**0.5), False, 100),
    ]
    frame = pl.DataFrame({"model": ["m", "m"], "horizon": [1, 1], "prediction": [0.7, 12.0]})
    slow, fast = (1.7 / 1.5) ** 0.5, (13 / 11) ** 0.5
    assert apply_intervals(frame, quantiles).select("low", "high").rows() == [
        (0.0, pytest.approx(0.7 + 0.5 * slow)),
        (pytest.approx(12 - 5 * fast), pytest.approx(12 + 4 * fast)),
    ]


def slow_bucket_calibration() -> pl.DataFrame:
    """One size bucket that sells nothing on 90 of its 100 days: 95 forecasts of 0.2 (85 zero
    days, 10 of one unit) and 5 of 0.4 that sold nothing."""
    return pl.concat(
        [
            residual_rows("m", 0.2, [-0.2] * 85 + [0.8] * 10),
            residual_rows("m", 0.4, [-0.4] * 5),
        ]
    )


def test_a_bucket_selling_nothing_on_most_days_gets_the_lower_bound_zero():
    calibration = slow_bucket_calibration()
    frame = pl.DataFrame({"model": ["m", "m"], "horizon": [1, 1], "prediction": [0.2, 0.4]})
    quantiles = fit_residual_quantiles(calibration, nominal=0.8, size_buckets=1)
    # Two tails would take the lower bound from the 10th percentile, a zero day of a 0.2
    # forecast (-0.2 / sqrt(1.2)): around a forecast of 0.4 that is 0.4 - 0.2 * sqrt(1.4 / 1.2)
    # = 0.18, above 0, though those days sold nothing every time.
    two_tails = quantiles.drop("low_is_zero")
    assert apply_intervals(frame, two_tails)["low"].to_list() == [
        0.0,
        pytest.approx(0.4 - 0.2 * (1.4 / 1.2) ** 0.5),
    ]
    # 90 % of its days sold nothing, more than the lower tail's 10 %: lower bound 0; the upper
    # bound is the 80th percentile of the residuals, a zero day (-0.2 / sqrt(1.2)), below each
    # forecast, so widened up to it. Every calibration day that sold nothing is covered.
    assert quantiles["low_is_zero"].to_list() == [True]
    assert apply_intervals(frame, quantiles).select("low", "high").rows() == [
        (0.0, pytest.approx(0.2)),
        (0.0, pytest.approx(0.4)),
    ]
    judged = apply_intervals(calibration, quantiles)
    assert judged.filter(pl.col("actual") == 0)["low"].max() == 0.0
    # At nominal 0.95 the upper bound is the 95th percentile: a day of one unit (0.8 / sqrt(1.2)).
    wide = fit_residual_quantiles(calibration, nominal=0.95, size_buckets=1)
    assert apply_intervals(frame, wide)["high"].to_list() == [
        pytest.approx(0.2 + 0.8),
        pytest.approx(0.4 + 0.8 * (1.4 / 1.2) ** 0.5),
    ]


def test_a_bucket_with_few_zero_days_keeps_both_tails():
    # Sells nothing on 5 of 100 days, fewer than the lower tail's 10 %.
    calibration = residual_rows(
        "m", 4.0, [-4.0] * 5 + [float(r) for r in range(-3, 3)] * 15 + [0.0] * 5
    )
    quantiles = fit_residual_quantiles(calibration, nominal=0.8, size_buckets=1)
    assert quantiles["low_is_zero"].to_list() == [False]
    frame = pl.DataFrame({"model": ["m"], "horizon": [1], "prediction": [4.0]})
    # 10th percentile (lower): rank 9 of the sorted residuals, -3; 90th (higher): rank 90, 2.
    assert apply_intervals(frame, quantiles).select("low", "high").rows() == [(1.0, 6.0)]


def test_an_uncalibrated_model_is_refused():
    quantiles = fit_residual_quantiles(residual_rows("m", 1.0, [0.0] * 60))
    frame = pl.DataFrame({"model": ["other"], "horizon": [1], "prediction": [1.0]})
    with pytest.raises(TrainingInputError, match="no residual quantiles for model\\(s\\) other"):
        apply_intervals(frame, quantiles)


def test_coverage_on_simulated_intermittent_demand_is_near_nominal_for_slow_and_fast_series():
    history = intermittent_history(series=200, days=140, seed=7)
    origins = rolling_origins(
        56, ["calibration", "fold_1", "fold_2", "fold_3", "fold_4", "holdout"]
    )
    forecasts = moving_average(history, origins)
    quantiles = fit_residual_quantiles(forecasts.filter(pl.col("fold") == "calibration"))
    evaluated = apply_intervals(forecasts.filter(pl.col("fold") != "calibration"), quantiles)
    covered = evaluated.with_columns(
        covered=pl.col("actual").is_between(pl.col("low"), pl.col("high")),
        size_quartile=(pl.col("prediction").rank("ordinal") * 4 - 1) // pl.len(),
    )
    assert covered.get_column("covered").mean() == pytest.approx(0.8, abs=0.05)
    # Per quartile of forecast size too (one pooled residual distribution covers the fastest
    # quarter of forecasts only about 40 % of the time here).
    by_size = covered.group_by("size_quartile").agg(pl.col("covered").mean()).sort("size_quartile")
    assert by_size.height == 4
    for quartile, coverage in by_size.rows():
        assert coverage == pytest.approx(0.8, abs=0.07), quartile


def test_with_conformal_intervals_calibrates_on_the_calibration_fold_only():
    calibration = residual_rows("m", 1.0, [float(r) for r in range(9)]).with_columns(
        fold=pl.lit("calibration")
    )
    # The holdout's own residuals (huge) must not widen its interval.
    holdout = residual_rows("m", 1.0, [50.0] * 9).with_columns(fold=pl.lit("holdout"))
    frame = with_conformal_intervals(
        pl.concat([calibration, holdout]), nominal=0.5, min_rows_per_bucket=1
    )
    # high 1 + 6 from the calibration residuals alone (low: widened down to the forecast, 1)
    assert frame.filter(pl.col("fold") == "holdout").select("low", "high").unique().rows() == [
        (1.0, 7.0)
    ]
    with pytest.raises(TrainingInputError, match="no 'calibration' fold"):
        with_conformal_intervals(holdout)


def test_quantiles_read_back_from_json_keep_their_lowest_bucket_open():
    # The registry stores the quantiles as JSON, which has no infinity: the lowest bucket's
    # start comes back as null and must still take the slowest forecasts.
    calibration = residual_rows("m", 3.0, [float(r) for r in range(-3, 3)] * 20)
    quantiles = fit_residual_quantiles(calibration, 0.8, size_buckets=1)
    assert quantiles["size_from"].to_list() == [float("-inf")]
    stored = pl.DataFrame(
        [{**row, "size_from": None} for row in quantiles.to_dicts()],
        schema=quantiles.schema,
    )
    frame = pl.DataFrame({"model": ["m"], "horizon": [2], "prediction": [0.01]})
    assert (
        apply_intervals(frame, stored).select("low", "high").rows()
        == apply_intervals(frame, quantiles).select("low", "high").rows()
    )
