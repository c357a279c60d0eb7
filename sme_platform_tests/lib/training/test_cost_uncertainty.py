"""The model's cost against another method's, with a bootstrap interval over the series."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from sme_platform.lib.training.cost_uncertainty import (
    ALL_WINDOWS,
    cost_ratio_intervals,
    ratio_interval,
    segment_cost_intervals,
    series_costs,
)
from sme_platform.lib.training.pipeline import NOMINAL_COVERAGE, judge_methods
from sme_platform_tests.lib.training.test_expanding_calibration import ASSUMPTIONS, window


def costs(model: list[float], other: list[float], fold: str = "fold_1") -> pl.DataFrame:
    rows = []
    for method, values in (("lightgbm", model), ("statsforecast.ADIDA", other)):
        rows += [
            {"model": method, "fold": fold, "sku": f"s{i}", "location_id": "L", "cost": cost}
            for i, cost in enumerate(values)
        ]
    return pl.DataFrame(rows)


def test_a_model_cheaper_on_every_series_by_the_same_share_has_no_doubt():
    other = [float(10 + i % 7) for i in range(200)]
    intervals = cost_ratio_intervals(costs([0.8 * c for c in other], other), "lightgbm")
    assert intervals[ALL_WINDOWS]["statsforecast.ADIDA"] == {
        "ratio": pytest.approx(-0.2),
        "low": pytest.approx(-0.2),
        "high": pytest.approx(-0.2),
    }
    # No holdout rows: no holdout interval.
    assert "holdout" not in intervals


def test_a_lead_carried_by_a_few_series_gets_an_interval_across_zero():
    # 300 series cost 10 for both methods; on 5 of them the other method missed a spike (cost
    # 200 instead of 20): the model is cheaper in sum, but only through those five.
    rng = np.random.default_rng(1)
    other = [float(c) for c in rng.integers(5, 15, 300)]
    model = list(other)
    for i in range(5):
        other[i], model[i] = 200.0, 20.0
    model = [c + 2.0 if i >= 5 else c for i, c in enumerate(model)]
    first = cost_ratio_intervals(costs(model, other), "lightgbm")[ALL_WINDOWS]
    figures = first["statsforecast.ADIDA"]
    assert figures["ratio"] == pytest.approx(sum(model) / sum(other) - 1, abs=1e-4)
    assert figures["ratio"] < 0 and figures["low"] < figures["ratio"] < figures["high"]
    assert figures["high"] > 0  # not sure at all
    # Seeded: the same costs give the same interval.
    assert cost_ratio_intervals(costs(model, other), "lightgbm")[ALL_WINDOWS] == first


def test_every_window_sums_each_series_and_the_holdout_stands_alone():
    fold_1 = costs([10.0] * 100, [20.0] * 100, "fold_1")
    holdout = costs([30.0] * 100, [20.0] * 100, "holdout")
    intervals = cost_ratio_intervals(pl.concat([fold_1, holdout]), "lightgbm")
    assert intervals[ALL_WINDOWS]["statsforecast.ADIDA"]["ratio"] == pytest.approx(0.0)
    assert intervals["holdout"]["statsforecast.ADIDA"]["ratio"] == pytest.approx(0.5)


def test_series_costs_add_up_to_the_judged_business_cost():
    forecasts = pl.concat(
        [
            pl.DataFrame(window("calibration", 2.0) + window("fold_1", 6.0)),
            pl.DataFrame(window("holdout", 6.0)),
            pl.DataFrame(window("holdout", 6.0)).with_columns(model=pl.lit("other")),
            pl.DataFrame(window("calibration", 3.0) + window("fold_1", 3.0)).with_columns(
                model=pl.lit("other")
            ),
        ]
    )
    judged, results, _, _ = judge_methods(forecasts, ASSUMPTIONS)
    per_series = series_costs(forecasts, judged, ASSUMPTIONS, NOMINAL_COVERAGE)
    assert per_series.height == 2 * 2 * 300  # methods x judged windows x series
    summed = per_series.group_by("model", "fold").agg(pl.col("cost").sum()).sort("model", "fold")
    overall = results.filter(pl.col("segment_type") == "overall").sort("model", "fold")
    assert summed.select("model", "fold").rows() == overall.select("model", "fold").rows()
    assert summed["cost"].to_list() == pytest.approx(overall["business_cost"].to_list())
    # The two methods differ on both windows: the sums are theirs, not one method's twice.
    assert len(set(summed["cost"].round(2).to_list())) == 4


def test_each_category_and_location_gets_its_own_interval():
    # Dairy (series 0-99, location L1): the model 10 % dearer on every series; bakery (100-199,
    # location L2): 10 % cheaper on every series.
    other = [10.0] * 200
    model = [11.0] * 100 + [9.0] * 100
    frame = costs(model, other).with_columns(
        category=pl.when(pl.col("sku").str.slice(1).cast(pl.Int64) < 100)
        .then(pl.lit("dairy"))
        .otherwise(pl.lit("bakery")),
        location_id=pl.when(pl.col("sku").str.slice(1).cast(pl.Int64) < 100)
        .then(pl.lit("L1"))
        .otherwise(pl.lit("L2")),
    )
    segments = segment_cost_intervals(frame, "lightgbm")[ALL_WINDOWS]
    assert segments["category"]["dairy"]["statsforecast.ADIDA"] == {
        "ratio": pytest.approx(0.1),
        "low": pytest.approx(0.1),
        "high": pytest.approx(0.1),
    }
    assert segments["category"]["bakery"]["statsforecast.ADIDA"]["ratio"] == pytest.approx(-0.1)
    assert segments["location"]["L2"]["statsforecast.ADIDA"]["ratio"] == pytest.approx(-0.1)
    assert set(segments) == {"category", "location"}


def test_a_resample_without_the_rivals_cost_is_left_out_not_counted_as_minus_100_percent():
    # One series: a resample draws it (the ratio itself) or nothing (no ratio at all).
    one = ratio_interval(np.array([30.0]), np.array([40.0]))
    assert one == {"ratio": -0.25, "low": -0.25, "high": -0.25}
    # A rival that cost nothing anywhere: no ratio.
    assert ratio_interval(np.array([5.0]), np.array([0.0]))["ratio"] is None
