"""Each window judged with the safety stock of the windows before it (as production calibrates)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from sme_platform.lib.training.business import BusinessAssumptions
from sme_platform.lib.training.expanding_calibration import (
    judge_with_calibration_fold,
    judge_with_expanding_calibration,
    window_order,
)
from sme_platform.lib.training.pipeline import NOMINAL_COVERAGE, judge_methods
from sme_platform.lib.training.safety_stock import fit_protection_quantiles

ASSUMPTIONS = BusinessAssumptions(lead_time_days=1, review_period_days=2, service_level=0.9)
SERIES = 300
# The folds as the backtest names them, oldest first by origin (listed out of order on purpose).
ORIGINS = {
    "holdout": date(2025, 3, 1),
    "calibration": date(2025, 2, 1),
    "fold_1": date(2025, 2, 15),
}


def window(fold: str, sold_on_a_busy_day: float) -> list[dict]:
    """SERIES series forecast 2 a day for 3 days; every third sells `sold_on_a_busy_day` on
    each day, the rest 2."""
    origin = ORIGINS[fold]
    return [
        {
            "model": "m",
            "fold": fold,
            "sku": f"s{index}",
            "location_id": "L",
            "category": "c",
            "origin_date": origin,
            "target_date": origin + timedelta(days=horizon - 1),
            "horizon": horizon,
            "actual": sold_on_a_busy_day if index % 3 == 0 else 2.0,
            "censored": False,
            "prediction": 2.0,
            "low": None,
            "high": None,
            "unit_price": 10.0,
            "unit_cost": 6.0,
        }
        for index in range(SERIES)
        for horizon in (1, 2, 3)
    ]


def overall(results: pl.DataFrame, fold: str) -> dict:
    return results.filter((pl.col("fold") == fold) & (pl.col("segment_type") == "overall")).row(
        0, named=True
    )


def test_the_holdout_is_judged_with_the_misses_of_every_window_before_it():
    # The calibration fold's forecasts were right on every series; from fold_1 on, a third of
    # the series sell 6 a day where 2 were forecast. Calibrated on the calibration fold alone,
    # the holdout orders no safety stock; calibrated on the calibration fold and fold_1 (a
    # sixth of the rows missed by 12 over the 3 days: more than the 10 % beyond the 90th
    # percentile), it orders 12 / sqrt(7) x sqrt(7) = 12 units more on every series.
    forecasts = pl.DataFrame(
        window("calibration", 2.0) + window("fold_1", 6.0) + window("holdout", 6.0)
    )
    assert window_order(forecasts) == ["calibration", "fold_1", "holdout"]
    judged = judge_methods(forecasts, ASSUMPTIONS)[0]  # the later windows, with intervals
    expanding = judge_with_expanding_calibration(forecasts, judged, ASSUMPTIONS, 0.8)
    fixed = judge_with_calibration_fold(forecasts, judged, ASSUMPTIONS, 0.8)
    assert sorted(expanding.get_column("fold").unique()) == ["fold_1", "holdout"]
    # fold_1 has only the calibration fold before it: the same judgement either way.
    for column in ("business_cost", "units_short", "wape"):
        assert overall(expanding, "fold_1")[column] == pytest.approx(
            overall(fixed, "fold_1")[column]
        )
    # Without a safety stock: the shelf at the origin holds day 1's demand (6), which the
    # order-up-to level (3 x 2 forecast) counts, so nothing is ordered and each busy series is
    # short 6 a day on days 2 and 3: 100 series x 12 units.
    assert overall(fixed, "holdout")["units_short"] == pytest.approx(1200.0)
    assert overall(expanding, "holdout")["units_short"] == pytest.approx(0.0)
    assert overall(expanding, "holdout")["holding_cost"] > overall(fixed, "holdout")["holding_cost"]


def test_the_platform_judges_every_method_with_the_expanding_calibration():
    forecasts = pl.DataFrame(
        window("calibration", 2.0) + window("fold_1", 6.0) + window("holdout", 6.0)
    )
    judged, results, protection, _ = judge_methods(forecasts, ASSUMPTIONS)
    assert results.equals(
        judge_with_expanding_calibration(forecasts, judged, ASSUMPTIONS, NOMINAL_COVERAGE)
    )
    assert sorted(judged.get_column("fold").unique()) == ["fold_1", "holdout"]
    # The safety stock production orders with: every window's misses (two of three missed).
    assert protection == fit_protection_quantiles(forecasts, ASSUMPTIONS)
    assert protection["m"]["quantiles"] == [pytest.approx(12 / 7**0.5)]


def test_one_window_cannot_be_judged_with_an_expanding_calibration():
    forecasts = pl.DataFrame(window("calibration", 2.0))
    with pytest.raises(ValueError, match="needs a calibration window and a window to judge"):
        judge_with_expanding_calibration(forecasts, forecasts, ASSUMPTIONS, 0.8)
