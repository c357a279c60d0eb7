"""The canary judged from ml.forecast_log against the actuals: on the money of the order cycles
sold since it started, stock-outs left out of the accuracy beside it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from sme_platform.lib.release.flow import judge_canary
from sme_platform.lib.release.gate import GateConfig
from sme_platform.lib.release.registry import get_version
from sme_platform.lib.release.status import set_fields, transition
from sme_platform.lib.training.business import BusinessAssumptions
from sme_platform_tests.lib.release.conftest import register

START = date(2025, 3, 1)
ASSUMPTIONS = BusinessAssumptions()  # lead time 2 + review period 7: an order covers 9 days


def _judged(
    con, models_dir, days: int, sold, forecasts, stocked_out_days=frozenset(), horizon_days=14
):
    """The canary's decision on one series A at S1, in the canary, after `days` days of actuals:
    `sold(day)` units sold, `forecasts[version](day)` the forecast of that day made at START
    (every day of the horizon logged, actuals or not)."""
    for _ in range(2):
        register(con, models_dir)
    transition(con, "demand_forecast", "v1", "challenger", actor="t", reason="r")
    transition(con, "demand_forecast", "v1", "champion", actor="t", reason="r")
    transition(con, "demand_forecast", "v2", "challenger", actor="t", reason="r")
    set_fields(con, "demand_forecast", "v2", canary_share=0.5)
    con.execute("create schema if not exists staging; create schema if not exists features")
    con.execute(
        "create table staging.sales_lines (sku varchar, location_id varchar, order_date date, "
        "quantity double)"
    )
    con.execute(
        "create table staging.inventory_snapshots (sku varchar, location_id varchar, "
        "snapshot_date date, is_stocked_out boolean)"
    )
    con.execute(
        """create table features.demand_features as
           select 'fs-1' as feature_set_version, true as for_scoring, 'A' as sku,
                  'S1' as location_id, 'Bakery' as category, 10.0 as list_price,
                  10.0 as realized_price_91, 6.0 as unit_cost"""
    )
    con.execute(
        """create table ml.forecast_log (sku varchar, location_id varchar, origin_date date,
           date date, horizon int, prediction double, interval_low double,
           interval_high double, model_name varchar, model_version varchar, role varchar,
           feature_set_version varchar, run_id varchar, scored_at timestamp,
           canary_series boolean)"""
    )
    for day in range(14):
        today = START + timedelta(days=day)
        for version, role in (("v2", "canary"), ("v1", "champion_shadow")):
            if day >= horizon_days:
                break
            prediction = forecasts[version](day)
            con.execute(
                "insert into ml.forecast_log values ('A', 'S1', ?, ?, ?, ?, ?, ?, "
                "'demand_forecast', ?, ?, 'fs-1', 'run-1', timestamp '2025-03-01 02:00', true)",
                [START, today, day + 1, prediction, prediction, prediction, version, role],
            )
        if day >= days:
            continue
        if day in stocked_out_days:
            con.execute(
                "insert into staging.inventory_snapshots values ('A', 'S1', ?, true)", [today]
            )
        elif sold(day):
            con.execute(
                "insert into staging.sales_lines values ('A', 'S1', ?, ?)", [today, sold(day)]
            )
    return judge_canary(con, "demand_forecast", GateConfig(), ASSUMPTIONS, "run-9")


def _judged_on_intermittent_demand(con, models_dir, canary: float, champion: float):
    """10 days of actuals, 12 units sold every fourth day (days 1, 5, 9); each version forecast
    one flat number a day."""
    return _judged(
        con,
        models_dir,
        days=10,
        sold=lambda day: 12.0 if day % 4 == 1 else 0.0,
        forecasts={"v2": lambda day: canary, "v1": lambda day: champion},
    )


def test_a_stocked_out_day_is_left_out_of_the_accuracy(con, models_dir):
    # The challenger forecast 10 on the stocked-out days, the champion 0; 4 were sold on every
    # other day, where the challenger was exact and the champion 50 % over.
    decision = _judged(
        con,
        models_dir,
        days=10,
        sold=lambda day: 4.0,
        forecasts={
            "v2": lambda day: 10.0 if day in {2, 5, 8} else 4.0,
            "v1": lambda day: 0.0 if day in {2, 5, 8} else 6.0,
        },
        stocked_out_days={2, 5, 8},
    )
    assert decision.figures["days_with_actuals"] == 7
    # Had the 3 stocked-out days counted as zero demand, the challenger's 30 units "too many"
    # there would have given it the worse WAPE.
    assert decision.figures["canary_wape"] == 0.0
    assert decision.figures["champion_wape"] == pytest.approx(0.5)
    assert decision.metric == "business cost"
    assert "WAPE 0.000 against 0.500, bias +0.0 % against +50.0 %" in decision.reason


def test_the_canary_waits_for_a_whole_order_cycle(con, models_dir):
    # Eight days of actuals: enough days for WAPE (7), one short of an order's 9 days.
    decision = _judged(
        con,
        models_dir,
        days=8,
        sold=lambda day: 4.0,
        forecasts={"v2": lambda day: 4.0, "v1": lambda day: 6.0},
    )
    assert decision.outcome == "wait"
    assert decision.reason == (
        "no order cycle of the canary has been sold yet: an order covers 9 days (lead time 2 + "
        "review period 7) after its origin, and the newest sale is of 2025-03-08"
    )
    assert get_version(con, "demand_forecast", "v2").status == "challenger"


def test_a_canary_with_the_better_wape_that_orders_too_few_units_is_rolled_back(con, models_dir):
    # Intermittent demand: 12 units every fourth day. Forecasting nothing has the better WAPE
    # (1.0 against the champion's 1.333), the trap WAPE sets on such series, and empties the shelf.
    decision = _judged_on_intermittent_demand(con, models_dir, canary=0.0, champion=3.0)
    assert decision.figures["canary_wape"] < decision.figures["champion_wape"]
    assert decision.metric == "business cost"
    assert decision.outcome == "roll_back", decision.reason
    assert decision.figures["canary"] > decision.figures["champion"]
    assert decision.figures["order_cycles"] == ["2025-03-01"]
    assert decision.reason.startswith(
        f"canary business cost {decision.figures['canary']:,.1f} against the champion's "
        f"{decision.figures['champion']:,.1f} on the same 1 order cycle(s) of 9 days (from "
        "2025-03-01) and 1 series: "
    )
    assert "beyond the 5 % threshold: roll back; WAPE 1.000 against 1.333" in decision.reason
    assert get_version(con, "demand_forecast", "v2").status == "rolled_back"


def test_a_cheaper_canary_is_promoted_and_says_how_sure(con, models_dir):
    decision = _judged_on_intermittent_demand(con, models_dir, canary=3.0, champion=1.0)
    assert decision.outcome == "promote", decision.reason
    assert decision.figures["canary"] < decision.figures["champion"]
    interval = decision.figures["cost_interval"]
    # One series: every resample is that series or nothing, so the interval is the ratio itself.
    assert interval["low"] == pytest.approx(interval["ratio"], abs=1e-4)
    assert "90 % interval over series" in decision.reason
    assert get_version(con, "demand_forecast", "v2").status == "champion"


def test_forecasts_that_stop_short_of_an_order_cycle_wait_and_say_so(con, models_dir):
    # Ten days sold, but the versions forecast only 8 days ahead (enough days for the WAPE's
    # 7): no order of 9 days to price.
    decision = _judged(
        con,
        models_dir,
        days=10,
        sold=lambda day: 4.0,
        forecasts={"v2": lambda day: 4.0, "v1": lambda day: 6.0},
        horizon_days=8,
    )
    assert decision.outcome == "wait"
    assert decision.reason == (
        "the canary's and the champion's forecasts of the canary series cover no whole order "
        "cycle of 9 days at the same origins (2025-03-01)"
    )
