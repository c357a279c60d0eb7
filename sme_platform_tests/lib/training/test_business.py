"""The reorder simulation on hand-computed examples (defaults: lead 2 days, review 7 days)."""

from __future__ import annotations

import polars as pl
import pytest
from pydantic import ValidationError

from sme_platform.lib.training.business import (
    BusinessAssumptions,
    business_by_segment,
    cost_optimal_service_level,
    simulate_series,
)
from sme_platform.lib.training.history import TrainingInputError
from sme_platform.lib.training.safety_stock import fit_protection_quantiles

DEMAND = [1, 2, 0, 3, 1, 0, 2, 1, 1, 0, 0, 0, 0, 0]  # 11 units on simulated days 1..9
HOLDING_PER_UNIT_DAY = 6.5 * 0.25 / 365  # assumed cost 10 * (1 - 0.35), 25 % a year


def one_series(
    prediction,
    actual=DEMAND,
    high=None,
    censored=None,
    unit_price=None,
    unit_cost=None,
    sku="a",
    location_id="L1",
):
    days = len(actual)
    return pl.DataFrame(
        {
            "model": "m",
            "fold": "holdout",
            "sku": sku,
            "location_id": location_id,
            "category": "dairy",
            "horizon": list(range(1, days + 1)),
            "actual": [float(value) for value in actual],
            "censored": censored or [False] * days,
            "prediction": [float(value) for value in prediction],
            "high": high or [None] * days,
            "unit_price": unit_price,
            "unit_cost": unit_cost,
        },
        schema_overrides={"high": pl.Float64, "unit_price": pl.Float64, "unit_cost": pl.Float64},
    )


def simulate(frame, **assumptions):
    return simulate_series(frame, BusinessAssumptions(**assumptions)).row(0, named=True)


def test_a_perfect_forecast_has_no_units_short():
    result = simulate(one_series(DEMAND))
    # The shelf holds the lead time's demand, 1 + 2 = 3; the order brings it up to the forecast
    # over days 1..9 (11): 8 units, arriving on day 3.
    assert (result["opening"], result["order"]) == (3.0, 8.0)
    assert result["units_short"] == 0.0
    assert result["stock_out_days"] == 0
    # End-of-day stock: 2, 0, 8, 5, 4, 4, 2, 1, 0 -> 26 unit-days held.
    assert result["stock_days"] == 26.0
    assert result["holding_cost"] == pytest.approx(26 * HOLDING_PER_UNIT_DAY)
    assert (result["price_assumed"], result["cost_assumed"]) == (True, True)


def test_a_zero_forecast_orders_nothing_and_is_short_after_the_lead_time():
    result = simulate(one_series([0] * 14))
    assert result["order"] == 0.0
    assert result["units_short"] == 8.0  # days 3..9: 0 + 3 + 1 + 0 + 2 + 1 + 1
    assert result["stock_out_days"] == 5
    assert result["lost_margin"] == pytest.approx(8 * 3.5)  # assumed margin 10 - 6.5
    assert result["holding_cost"] == pytest.approx(2 * HOLDING_PER_UNIT_DAY)  # day 1's 2 units


def test_a_huge_forecast_has_a_large_holding_cost():
    result = simulate(one_series([100] * 14))
    # Opening 3, order 900 - 3 on day 3. End stock: 2, 0, 897, 894, 893, 893, 891, 890, 889.
    assert result["units_short"] == 0.0
    assert result["stock_days"] == 6249.0
    assert result["holding_cost"] == pytest.approx(6249 * HOLDING_PER_UNIT_DAY)
    assert result["holding_cost"] > 100 * simulate(one_series(DEMAND))["holding_cost"]


def test_the_shelf_at_the_origin_is_the_same_whichever_model_is_judged():
    # A model that knows nothing sells on days 1-2 (a closed weekend) and a flat one forecast
    # the same 9 units over days 1..9: the same order, the same days, the same money. The stock
    # at the origin is the lead time's demand (3 + 1 = 4), not either model's forecast of it.
    actual = [3] + [1] * 13
    weekend_aware = simulate(one_series([0, 0] + [9 / 7] * 7 + [1] * 5, actual=actual))
    flat = simulate(one_series([1] * 14, actual=actual))
    assert weekend_aware == pytest.approx(flat)
    # Order 9 - 4 = 5 on day 3; end stock 1, 0, 4, 3, 2, 1, 0, 0, 0: days 8 and 9 short.
    assert (flat["opening"], flat["order"]) == (4.0, 5.0)
    assert (flat["units_short"], flat["stock_out_days"]) == (2.0, 2)
    assert flat["stock_days"] == 1 + 0 + 4 + 3 + 2 + 1


def test_the_order_covers_the_protection_interval_at_the_service_level_from_the_interval():
    # high - prediction = 1 each day: the upper half of an 80 % interval, so a day's sigma is
    # 1 / z(0.9); at service level 0.9 the level is 9 + z(0.9) * sqrt(9) / z(0.9) = 12 over
    # days 1..9, less the 2 units on the shelf.
    frame = one_series([1] * 14, actual=[1] * 14, high=[2.0] * 14)
    assert simulate(frame)["order"] == pytest.approx(12 - 2)
    assert simulate(frame, service_level=0.5)["order"] == pytest.approx(9 - 2)


def test_censored_days_are_not_counted_as_stock_outs():
    censored = [day == 3 for day in range(14)]  # simulated day 4: demand unknown
    actual = [0 if flag else 1 for flag in censored]
    result = simulate(one_series([0] * 14, actual=actual, censored=censored))
    assert result["known_days"] == 8
    assert result["stock_out_days"] == 6  # days 3, 5..9; days 1-2 are on the shelf
    assert result["units_short"] == 6.0
    results = business_by_segment(
        one_series([0] * 14, actual=actual, censored=censored), BusinessAssumptions()
    )
    assert results.get_column("stock_out_rate").unique().to_list() == [0.75]  # 6 of 8, not of 9


def test_known_price_and_cost_are_used_and_segments_count_assumed_series():
    known = one_series([0] * 14, unit_price=20.0, unit_cost=12.0)
    assumed = one_series([0] * 14, sku="b", location_id="L2")
    results = business_by_segment(pl.concat([known, assumed]), BusinessAssumptions())
    rows = {(row["segment_type"], row["segment"]): row for row in results.to_dicts()}
    assert rows[("location", "L1")]["lost_margin"] == pytest.approx(8 * 8.0)
    assert rows[("location", "L1")]["series_price_assumed"] == 0
    overall = rows[("overall", "overall")]
    assert overall["lost_margin"] == pytest.approx(8 * 8.0 + 8 * 3.5)
    holding = 2 * (12.0 + 6.5) * 0.25 / 365  # day 1's 2 units of each series
    assert overall["holding_cost"] == pytest.approx(holding)
    assert overall["business_cost"] == pytest.approx(overall["lost_margin"] + holding)
    assert overall["stock_out_rate"] == pytest.approx(10 / 18)
    assert (overall["series_price_assumed"], overall["series_cost_assumed"]) == (1, 1)


def test_days_on_hand_is_average_stock_over_average_daily_demand():
    results = business_by_segment(one_series(DEMAND), BusinessAssumptions())
    overall = results.filter(pl.col("segment_type") == "overall").row(0, named=True)
    assert overall["days_on_hand"] == pytest.approx((26 / 9) / (11 / 9))


def test_lead_plus_review_longer_than_the_horizon_is_refused():
    with pytest.raises(ValidationError, match="must be at most 14"):
        BusinessAssumptions(lead_time_days=8, review_period_days=7)


def test_missing_horizons_are_refused():
    frame = one_series(DEMAND).filter(pl.col("horizon") != 5)
    with pytest.raises(TrainingInputError, match=r"needs horizons 1..9 once per series; 1 series"):
        simulate_series(frame, BusinessAssumptions())


def test_row_order_does_not_matter():
    in_order = simulate(one_series([1] * 14, actual=[3] + [1] * 13))
    shuffled = one_series([1] * 14, actual=[3] + [1] * 13).reverse()
    assert simulate(shuffled) == in_order


def test_a_calibrated_protection_quantile_sets_the_safety_stock():
    assumptions = BusinessAssumptions(lead_time_days=1, review_period_days=2, service_level=0.9)
    # Calibration: ten series, each forecast 3 units over the protection interval (days 1-3);
    # nine sold 3 (residual 0), one sold 11 (residual 8 / sqrt(3 + 1) = 4).
    rows = []
    for series in range(10):
        sold = [3.0, 4.0, 4.0] if series == 9 else [1.0, 1.0, 1.0]
        for horizon in (1, 2, 3):
            rows.append(
                {
                    "model": "m",
                    "fold": "calibration",
                    "sku": f"s{series}",
                    "location_id": "L",
                    "horizon": horizon,
                    "actual": sold[horizon - 1],
                    "censored": False,
                    "prediction": 1.0,
                }
            )
    quantiles = fit_protection_quantiles(pl.DataFrame(rows), assumptions)
    # Ten series are too few for size buckets: one quantile, the 90th percentile ("higher": the
    # outlier).
    assert quantiles == {"m": {"edges": [], "quantiles": [pytest.approx(4.0)]}}

    day = {
        "model": "m",
        "fold": "holdout",
        "sku": "a",
        "location_id": "L",
        "category": "c",
        "censored": False,
        "prediction": 1.0,
        "high": 1.5,
        "unit_price": 10.0,
        "unit_cost": 6.0,
    }
    frame = pl.DataFrame([{**day, "horizon": h, "actual": 1.0} for h in (1, 2, 3)])
    simulated = simulate_series(frame, assumptions, 0.8, quantiles).row(0, named=True)
    # Level = forecast over days 1-3 (3) + 4 * sqrt(3 + 1) = 11, less the 1 unit on the shelf.
    assert simulated["order"] == pytest.approx(10.0)
    assert simulated["opening"] == pytest.approx(1.0)
    # Without calibration the order falls back to the daily interval read as normal days.
    fallback = simulate_series(frame, assumptions, 0.8).row(0, named=True)
    assert fallback["order"] < 4.0


def test_the_cost_optimal_service_level_is_the_critical_ratio_of_the_median_series():
    # Stated defaults: price 10, cost 6.5 -> a unit short loses 3.5; a unit left over is held a
    # review period (7 days) at 25 % a year of 6.5.
    assumed = one_series([0] * 14)
    held = 6.5 * 0.25 * 7 / 365
    assert cost_optimal_service_level(assumed, BusinessAssumptions()) == pytest.approx(
        3.5 / (3.5 + held)
    )
    # Three series: the median one's ratio, whatever the others' (a thin-margin one, a rich one).
    thin = one_series([0] * 14, unit_price=10.0, unit_cost=9.99, sku="b")
    rich = one_series([0] * 14, unit_price=20.0, unit_cost=12.0, sku="c")
    level = cost_optimal_service_level(pl.concat([assumed, thin, rich]), BusinessAssumptions())
    assert level == pytest.approx(3.5 / (3.5 + held))
    # Holding dear enough that a leftover week costs a quarter of its cost: 3.5 / (3.5 + 1.625).
    yearly = BusinessAssumptions(holding_cost_rate_per_year=0.25 * 365 / 7)
    assert cost_optimal_service_level(assumed, yearly) == pytest.approx(3.5 / (3.5 + 6.5 * 0.25))


def test_no_series_or_no_money_at_stake_has_no_cost_optimal_service_level():
    assert cost_optimal_service_level(one_series([0] * 14).head(0), BusinessAssumptions()) is None
    free = one_series([0] * 14, unit_price=5.0, unit_cost=5.0)
    no_holding = BusinessAssumptions(holding_cost_rate_per_year=0.0)
    assert cost_optimal_service_level(free, no_holding) is None


def calibration_window(series: int, forecast_per_day: float, sold_per_day, sku_prefix: str):
    """Calibration rows of `series` series over a 3-day protection interval, each forecast
    `forecast_per_day`; series i sells sold_per_day(i) a day."""
    return [
        {
            "model": "m",
            "fold": "calibration",
            "sku": f"{sku_prefix}{index}",
            "location_id": "L",
            "horizon": horizon,
            "actual": float(sold_per_day(index)),
            "censored": False,
            "prediction": forecast_per_day,
        }
        for index in range(series)
        for horizon in (1, 2, 3)
    ]


def test_the_protection_quantile_is_calibrated_per_forecast_size():
    assumptions = BusinessAssumptions(lead_time_days=1, review_period_days=2, service_level=0.9)
    # 400 slow series forecast 3 over the interval: every tenth sells 6 (miss 3 / sqrt(4) = 1.5).
    # 400 fast series forecast 30: every tenth sells 90 (miss 60 / sqrt(31) = 10.78). One
    # quantile for both would give the slow ones the fast ones' safety stock.
    rows = calibration_window(400, 1.0, lambda i: 2 if i % 10 == 0 else 1, "slow")
    rows += calibration_window(400, 10.0, lambda i: 30 if i % 10 == 0 else 10, "fast")
    fitted = fit_protection_quantiles(pl.DataFrame(rows), assumptions)["m"]
    # 200 rows a bucket at least (20 misses beyond the 90th percentile): the two sizes part.
    assert fitted["edges"] == [30.0]
    assert fitted["quantiles"] == [pytest.approx(1.5), pytest.approx(60 / 31**0.5)]

    def order(forecast_per_day: float, quantile) -> float:
        frame = pl.DataFrame(
            [
                {
                    "model": "m",
                    "fold": "holdout",
                    "sku": "a",
                    "location_id": "L",
                    "category": "c",
                    "horizon": horizon,
                    "actual": 0.0,
                    "censored": False,
                    "prediction": forecast_per_day,
                    "high": forecast_per_day,
                    "unit_price": 10.0,
                    "unit_cost": 6.0,
                }
                for horizon in (1, 2, 3)
            ]
        )
        return simulate_series(frame, assumptions, 0.8, {"m": quantile}).row(0, named=True)["order"]

    # Level = forecast over days 1-3 + the bucket's quantile x sqrt(forecast + 1); nothing on
    # the shelf (no demand on day 1).
    assert order(1.0, fitted) == pytest.approx(3 + 1.5 * 2)
    assert order(10.0, fitted) == pytest.approx(30 + 60 / 31**0.5 * 31**0.5)
    # A version registered before the buckets kept one number: used for every size.
    assert order(10.0, 1.5) == pytest.approx(order(10.0, {"edges": [], "quantiles": [1.5]}))
    assert order(10.0, 1.5) == pytest.approx(30 + 1.5 * 31**0.5)


def test_too_few_misses_beyond_the_service_level_keep_one_bucket():
    # The same 800 series at 0.99: 2,000 rows a bucket would be needed for 20 misses beyond.
    assumptions = BusinessAssumptions(lead_time_days=1, review_period_days=2, service_level=0.99)
    rows = calibration_window(400, 1.0, lambda i: 2 if i % 10 == 0 else 1, "slow")
    rows += calibration_window(400, 10.0, lambda i: 30 if i % 10 == 0 else 10, "fast")
    fitted = fit_protection_quantiles(pl.DataFrame(rows), assumptions)["m"]
    assert fitted == {"edges": [], "quantiles": [pytest.approx(60 / 31**0.5)]}
