"""The canary judged from ml.forecast_log against the actuals, stock-outs left out."""

from __future__ import annotations

from datetime import date, timedelta

from sme_platform.lib.release.flow import judge_canary
from sme_platform.lib.release.gate import GateConfig
from sme_platform.lib.release.registry import get_version
from sme_platform.lib.release.status import set_fields, transition
from sme_platform_tests.lib.release.conftest import register

START = date(2025, 3, 1)


def _company(con, models_dir, stocked_out_days: set[int]):
    for _ in range(2):
        register(con, models_dir)
    transition(con, "demand_forecast", "v1", "challenger", actor="t", reason="r")
    transition(con, "demand_forecast", "v1", "champion", actor="t", reason="r")
    transition(con, "demand_forecast", "v2", "challenger", actor="t", reason="r")
    set_fields(con, "demand_forecast", "v2", canary_share=0.5)
    con.execute("create schema if not exists staging")
    con.execute(
        "create table staging.sales_lines (sku varchar, location_id varchar, order_date date, "
        "quantity double)"
    )
    con.execute(
        "create table staging.inventory_snapshots (sku varchar, location_id varchar, "
        "snapshot_date date, is_stocked_out boolean)"
    )
    con.execute(
        """create table ml.forecast_log (model_name varchar, model_version varchar,
           sku varchar, location_id varchar, origin_date date, date date, horizon int,
           prediction double, canary_series boolean)"""
    )
    for day in range(10):
        today = START + timedelta(days=day)
        if day in stocked_out_days:
            # Nothing could be sold: the challenger forecast 10, the champion 0.
            con.execute(
                "insert into staging.inventory_snapshots values ('A', 'S1', ?, true)", [today]
            )
            forecasts = {"v2": 10.0, "v1": 0.0}
        else:
            con.execute("insert into staging.sales_lines values ('A', 'S1', ?, 4.0)", [today])
            forecasts = {"v2": 4.0, "v1": 6.0}
        for version, prediction in forecasts.items():
            con.execute(
                "insert into ml.forecast_log values ('demand_forecast', ?, 'A', 'S1', ?, ?, ?, "
                "?, true)",
                [version, START, today, day + 1, prediction],
            )


def test_a_stocked_out_day_does_not_count_against_the_canary(con, models_dir):
    _company(con, models_dir, stocked_out_days={2, 5, 8})
    decision = judge_canary(con, "demand_forecast", GateConfig(), "run-9")
    # On the 7 days with sales the canary was exact and the champion 50 % over: promoted. Had
    # the 3 stocked-out days counted as zero demand, the canary's 30 units "too many" there
    # would have made it the worse of the two.
    assert decision.outcome == "promote", decision.reason
    assert decision.figures["days_with_actuals"] == 7
    assert get_version(con, "demand_forecast", "v2").status == "champion"
