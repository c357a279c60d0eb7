"""The canary: who is in it (locations, or series for one location) and its decision."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from sme_platform.lib.release.canary import canary_series, compare
from sme_platform.lib.release.canary_cost import CanaryCost
from sme_platform.lib.release.gate import GateConfig


def series(skus, locations):
    return pl.DataFrame([{"sku": s, "location_id": loc} for s in skus for loc in locations])


def test_several_locations_are_split_by_location_deterministically():
    frame = series([f"S{i}" for i in range(5)], [f"L{i}" for i in range(10)])
    first = canary_series(frame, 0.2, "demand_forecast:v2")
    assert first.height == 50
    canary_locations = first.filter("canary")["location_id"].unique().to_list()
    assert len(canary_locations) == 2  # 20 % of 10 locations, every SKU of each
    assert first.filter("canary").height == 10
    assert canary_series(frame.reverse(), 0.2, "demand_forecast:v2").equals(first)
    other = canary_series(frame, 0.2, "demand_forecast:v3")
    assert other.filter("canary")["location_id"].unique().sort().to_list() != sorted(
        canary_locations
    )


def test_one_location_is_split_by_series():
    frame = series([f"S{i}" for i in range(20)], ["shop"])
    chosen = canary_series(frame, 0.25, "demand_forecast:v2")
    assert chosen.filter("canary").height == 5
    assert canary_series(series(["A"], ["shop"]), 0.2, "x")["canary"].to_list() == [True]
    with pytest.raises(ValueError, match=r"canary share 0: expected a share in \(0, 1\]"):
        canary_series(frame, 0, "x")


def forecasts(days, prediction, actual=10.0, censored_day=None):
    start = date(2026, 3, 1)
    rows = []
    for day in range(days):
        for sku in ("A", "B"):
            rows.append(
                {
                    "model": "lightgbm",
                    "sku": sku,
                    "location_id": "L1",
                    "origin_date": start + timedelta(days=day),
                    "target_date": start + timedelta(days=day),
                    "horizon": 1,
                    "actual": actual,
                    "censored": day == censored_day,
                    "prediction": prediction,
                }
            )
    return pl.DataFrame(rows)


def test_a_canary_within_the_threshold_is_promoted_on_wape():
    decision = compare(forecasts(7, 11.0), forecasts(7, 10.96), GateConfig())
    assert decision.outcome == "promote" and decision.metric == "WAPE"
    assert decision.reason == (
        "canary WAPE 0.100 against the champion's 0.096 on the same 7 days and 2 series: "
        "4.17 % worse, within the 5 % threshold: promote"
    )


def test_a_worse_canary_is_rolled_back():
    decision = compare(forecasts(8, 12.0), forecasts(8, 11.0), GateConfig())
    assert decision.outcome == "roll_back"
    assert decision.reason == (
        "canary WAPE 0.200 against the champion's 0.100 on the same 8 days and 2 series: "
        "100 % worse, beyond the 5 % threshold: roll back"
    )
    assert decision.figures["change"] == pytest.approx(1.0)


def test_too_few_days_of_actuals_wait_and_censored_or_missing_actuals_do_not_count():
    canary = forecasts(7, 12.0, censored_day=6)
    decision = compare(canary, forecasts(7, 11.0), GateConfig())
    assert decision.outcome == "wait"
    assert decision.reason == (
        "6 day(s) of actuals on the canary's 2 series so far; the comparison waits for 7"
    )
    arriving = forecasts(7, 12.0).with_columns(
        actual=pl.when(pl.col("target_date") == date(2026, 3, 7)).then(None).otherwise(10.0)
    )
    assert compare(arriving, forecasts(7, 11.0), GateConfig()).figures["days_with_actuals"] == 6
    # a day the champion has no forecast for is not compared either
    assert compare(forecasts(7, 12.0), forecasts(5, 11.0), GateConfig()).outcome == "wait"


def money(canary, champion, waiting=None, interval=None):
    return CanaryCost(
        canary,
        champion,
        interval,
        (date(2026, 3, 1),),
        9,
        2,
        waiting,
    )


def test_the_business_cost_decides_when_the_simulation_is_given():
    # WAPE says the canary is 100 % worse; the money says it is cheaper: the money decides,
    # and the WAPE and bias are said beside it
    decision = compare(
        forecasts(9, 12.0),
        forecasts(9, 11.0),
        GateConfig(),
        money(80.0, 100.0, interval={"ratio": -0.2, "low": -0.31, "high": -0.05}),
    )
    assert decision.metric == "business cost" and decision.outcome == "promote"
    assert decision.reason == (
        "canary business cost 80.0 against the champion's 100.0 on the same 1 order cycle(s) "
        "of 9 days (from 2026-03-01) and 2 series: 20 % better (90 % interval over series "
        "-31.0 % to -5.0 %), within the 5 % threshold: promote; WAPE 0.200 against 0.100, "
        "bias +20.0 % against +10.0 % over the 9 days with actuals"
    )
    assert decision.figures["cost_interval"]["low"] == -0.31
    rolled = compare(forecasts(9, 11.0), forecasts(9, 12.0), GateConfig(), money(106.0, 100.0))
    assert rolled.outcome == "roll_back" and "6 % worse, beyond the 5 %" in rolled.reason
    within = compare(
        forecasts(9, 11.0),
        forecasts(9, 11.0),
        GateConfig(canary_rollback_threshold=0.0),
        money(42.0, 42.0),
    )
    assert within.outcome == "promote" and "no different, within the 0 % threshold" in within.reason


def test_without_a_whole_order_cycle_the_canary_waits_even_with_enough_days():
    waiting = "no order cycle of the canary has been sold yet: ..."
    decision = compare(
        forecasts(8, 12.0), forecasts(8, 11.0), GateConfig(), money(None, None, waiting)
    )
    assert decision.outcome == "wait" and decision.reason == waiting
    assert decision.metric == "business cost"
