"""The training stage's checks: a complete backtest, and interval coverage near nominal, or above
it only as far as the days without a sale force it."""

from __future__ import annotations

import polars as pl
import pytest

from sme_platform.lib.training.training_checks import training_checks, zero_day_share


def results(coverage: float) -> pl.DataFrame:
    rows = []
    for model in ("lightgbm", "seasonal_naive"):
        for fold in ("fold_1", "holdout"):
            rows.append(
                {
                    "model": model,
                    "fold": fold,
                    "segment_type": "overall",
                    "segment": "overall",
                    "business_cost": 10.0,
                    "interval_coverage": coverage,
                }
            )
    return pl.DataFrame(rows)


def coverage_check(coverage: float, zero_days: float | None):
    complete, calibrated = training_checks(results(coverage), 0.9, zero_days)
    assert complete.passed
    return calibrated


def test_coverage_near_nominal_passes_and_far_from_it_warns():
    assert coverage_check(0.92, None).passed
    assert coverage_check(0.86, 0.5).passed
    below = coverage_check(0.80, 0.5)
    assert not below.passed and below.description == "mean coverage 0.800 against nominal 0.90"
    # Above nominal with most days selling something: too wide, said as before.
    above = coverage_check(0.97, 0.6)
    assert not above.passed
    assert above.description == "mean coverage 0.970 against nominal 0.90"


def test_coverage_above_nominal_is_allowed_as_far_as_the_days_without_a_sale_force_it():
    # 97 % of the judged days sold nothing: an interval holding 0 covers them.
    check = coverage_check(0.973, 0.972)
    assert check.passed
    assert check.description == (
        "mean coverage 0.973 against nominal 0.90; 97.2 % of the judged days sold nothing and "
        "an interval holding 0 covers them: up to 0.972 by construction"
    )
    assert check.metadata["zero_day_share"] == 0.972
    # Beyond that share plus the tolerance: too wide still.
    assert not coverage_check(0.99, 0.92).passed
    # A version registered before the share was recorded: judged against nominal alone.
    assert not coverage_check(0.973, None).passed


def test_the_share_of_days_without_a_sale_is_the_models_uncensored_days():
    forecasts = pl.DataFrame(
        {
            "model": ["lightgbm"] * 5 + ["seasonal_naive"] * 2,
            "actual": [0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0],
            "censored": [False, False, False, False, True, False, False],
        }
    )
    assert zero_day_share(forecasts) == pytest.approx(0.75)  # 3 of its 4 known days
    assert zero_day_share(forecasts.filter(pl.col("model") != "lightgbm")) is None
