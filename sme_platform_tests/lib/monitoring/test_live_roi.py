"""The current period's money: the published forecasts that drove orders, simulated against the
naive baselines at the same origins, once their lead time and review period have been sold."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from sme_platform.lib.monitoring.live_roi import live_roi
from sme_platform.lib.release.registry import register_version
from sme_platform.lib.training.business import BusinessAssumptions
from sme_platform.lib.warehouse import connect

START = date(2025, 1, 1)
STEP_DAY = 47  # demand steps from 2 to 6 units a day
SERIES = [("A", "L1"), ("B", "L1"), ("C", "L2")]
ASSUMPTIONS = BusinessAssumptions()  # lead time 2 + review period 7: 9 simulated days
QUANTILES = {"seasonal_naive": 0.5, "moving_average_28": 0.5}


def units(day: int) -> int:
    return 6 if day >= STEP_DAY else 2


@pytest.fixture
def con(tmp_path):
    with connect(tmp_path / "warehouse.duckdb") as connection:
        connection.execute("create schema staging; create schema ml; create schema features")
        sales = pl.DataFrame(
            [
                (sku, location, START + timedelta(days=d), units(d))
                for sku, location in SERIES
                for d in range(70)
            ],
            schema=["sku", "location_id", "order_date", "quantity"],
            orient="row",
        )
        connection.register("_sales", sales.to_arrow())
        connection.execute("create table staging.sales_lines as select * from _sales")
        connection.execute(
            """create table features.demand_features as
               select 'fs-1' as feature_set_version, true as for_scoring, sku, location_id,
                      'Bakery' as category, 4.0 as list_price, 4.0 as realized_price_91,
                      1.0 as unit_cost
               from _sales group by sku, location_id"""
        )
        yield connection


def register(con, tmp_path, version_number: int, method_quantiles=QUANTILES):
    metadata = {
        "feature_set_version": "fs-1",
        "training_data_versions": {},
        "code_version": "code-1",
        "parameters": {
            "protection_quantile": 0.5,
            **({"method_protection_quantiles": method_quantiles} if method_quantiles else {}),
        },
        "metrics": {},
        "backtest": {},
        "business": {},
    }
    return register_version(
        con,
        tmp_path / "models",
        "demand_forecast",
        f"tree {version_number}\n",
        metadata,
        run_id="r",
    )


def publish(
    con, origin_day: int, version="v1", role="champion", series=SERIES, level=6.0, horizon=14
):
    """A night's forecast of 14 days from START + origin_day, as ml.forecast_log keeps it."""
    origin = START + timedelta(days=origin_day)
    scored_at = datetime(2025, 3, 1) + timedelta(days=origin_day)
    identity = ("demand_forecast", version, role, "fs-1", "run", scored_at)
    rows = [
        (
            sku,
            location,
            origin,
            origin + timedelta(days=h - 1),
            h,
            level,
            level / 2,
            level * 1.5,
            *identity,
        )
        for sku, location in series
        for h in range(1, horizon + 1)
    ]
    frame = pl.DataFrame(
        rows,
        schema=[
            "sku", "location_id", "origin_date", "date", "horizon", "prediction",
            "interval_low", "interval_high", "model_name", "model_version", "role",
            "feature_set_version", "run_id", "scored_at",
        ],
        orient="row",
    )  # fmt: skip
    con.register("_log", frame.to_arrow())
    con.execute("create table if not exists ml.forecast_log as select * from _log where false")
    con.execute("insert into ml.forecast_log select * from _log")
    con.unregister("_log")


def test_no_current_period_before_a_forecast_has_been_sold(con, tmp_path):
    assert live_roi(con, "demand_forecast", ASSUMPTIONS).missing == "no forecast published yet"
    register(con, tmp_path, 1)
    publish(con, origin_day=65)  # days 65..73: the sales end on day 69
    missing = live_roi(con, "demand_forecast", ASSUMPTIONS).missing
    assert missing == (
        "no published forecast has 9 days of sales after it yet (lead time 2 + review period 7)"
    )


def test_forecasts_that_saw_the_step_save_against_the_baselines(con, tmp_path):
    register(con, tmp_path, 1)
    # Nightly publications; one order per review period: origins 49 and 56 (50, 52 and 53 fall
    # inside the first review period; 62's days are not all sold yet).
    for day in (49, 50, 52, 53, 56, 62):
        publish(con, origin_day=day)
    roi = live_roi(con, "demand_forecast", ASSUMPTIONS)
    assert roi.missing is None
    assert (roi.first_origin, roi.last_day, roi.origins, roi.series, roi.versions) == (
        START + timedelta(days=49),
        START + timedelta(days=56 + 8),
        2,
        3,
        ("v1",),
    )
    # The 28-day mean saw mostly the old level of 2 and orders far too little; the seasonal
    # naive saw the step two days in on the first origin. The served forecast (6) was right.
    assert roi.baseline == "seasonal_naive"
    assert roi.served_cost < roi.baseline_cost
    assert roi.saving == pytest.approx(roi.baseline_cost - roi.served_cost)
    assert roi.saving > 0


def test_a_canary_serves_its_series_and_both_versions_count(con, tmp_path):
    register(con, tmp_path, 1)
    register(con, tmp_path, 2)
    publish(con, origin_day=49, series=SERIES[:2])
    publish(con, origin_day=49, version="v2", role="canary", series=SERIES[2:], level=5.0)
    publish(con, origin_day=49, role="champion_shadow", series=SERIES[2:], level=100.0)
    roi = live_roi(con, "demand_forecast", ASSUMPTIONS)
    assert (roi.versions, roi.series, roi.origins) == (("v1", "v2"), 3, 1)
    # The shadow forecast (100 a day) drove no order: without it, the same money.
    con.execute("delete from ml.forecast_log where role = 'champion_shadow'")
    assert live_roi(con, "demand_forecast", ASSUMPTIONS).served_cost == roi.served_cost
    # Without the canary's series, less is simulated: both versions counted.
    con.execute("delete from ml.forecast_log where model_version = 'v2'")
    assert live_roi(con, "demand_forecast", ASSUMPTIONS).served_cost < roi.served_cost


def test_a_version_without_the_baselines_safety_stock_says_so(con, tmp_path):
    register(con, tmp_path, 1, method_quantiles=None)
    publish(con, origin_day=49)
    assert live_roi(con, "demand_forecast", ASSUMPTIONS).missing == (
        "the served version v1 was trained before the baselines' safety stock was recorded: the "
        "current period starts with the next version"
    )


def test_forecasts_shorter_than_an_order_cannot_be_priced(con, tmp_path):
    register(con, tmp_path, 1)
    publish(con, origin_day=49, horizon=7)  # a 7-day horizon; lead time + review: 9 days
    assert live_roi(con, "demand_forecast", ASSUMPTIONS).missing == (
        "the published forecasts cover 7 days, fewer than the lead time and review period (9) "
        "an order is simulated over"
    )


def test_the_peers_the_backtest_priced_are_alternatives_too(con, tmp_path, monkeypatch):
    # Six a day, except nothing in the week before the origin (day 49): the seasonal naive
    # copies that week, the 28-day mean counts it; Croston, which updates only on days with a
    # sale, still expects six.
    con.execute("delete from staging.sales_lines where order_date between ? and ?", [
        START + timedelta(days=42), START + timedelta(days=48)])  # fmt: skip
    con.execute("update staging.sales_lines set quantity = 6")
    peers = {"statsforecast.ADIDA": 0.5, "statsforecast.CrostonOptimized": 0.5}
    register(con, tmp_path, 1)
    publish(con, origin_day=49)
    naive_only = live_roi(con, "demand_forecast", ASSUMPTIONS)
    register(con, tmp_path, 2, method_quantiles={**QUANTILES, **peers})
    publish(con, origin_day=49, version="v2", level=6.0)
    con.execute("delete from ml.forecast_log where model_version = 'v1'")
    roi = live_roi(con, "demand_forecast", ASSUMPTIONS)
    assert naive_only.baseline in ("seasonal_naive", "moving_average_28")
    assert roi.baseline == "statsforecast.CrostonOptimized"
    assert roi.baseline_cost < naive_only.baseline_cost
    assert roi.served_cost == pytest.approx(naive_only.served_cost)
    # Fitted in chunks of series: one series per chunk, the same money (priced again: the
    # origins' kept money would answer otherwise).
    monkeypatch.setattr("sme_platform.lib.monitoring.live_roi.PEER_CHUNK_SERIES", 1)
    con.execute("drop table monitoring.live_roi_origins")
    assert live_roi(con, "demand_forecast", ASSUMPTIONS) == roi


def test_an_origin_is_priced_again_only_when_what_it_read_changed(con, tmp_path, monkeypatch):
    from sme_platform.lib.monitoring import live_roi as module

    priced = []
    original = module._origin_costs

    def counting(con, rows, origin, *args):
        priced.append(origin)
        return original(con, rows, origin, *args)

    monkeypatch.setattr(module, "_origin_costs", counting)
    register(con, tmp_path, 1)
    for day in (49, 56):
        publish(con, origin_day=day)
    first = live_roi(con, "demand_forecast", ASSUMPTIONS)
    assert sorted(priced) == [START + timedelta(days=49), START + timedelta(days=56)]
    # The next night, nothing changed: the kept money, nothing priced.
    priced.clear()
    assert live_roi(con, "demand_forecast", ASSUMPTIONS) == first and priced == []
    # A replaced file changes day 60: inside the order from day 56 (56..64), after the one
    # from day 49 (49..57, its peers' history before it): only day 56 is priced again.
    con.execute(
        "update staging.sales_lines set quantity = quantity + 5 where order_date = ?",
        [START + timedelta(days=60)],
    )
    again = live_roi(con, "demand_forecast", ASSUMPTIONS)
    assert priced == [START + timedelta(days=56)]
    assert again.served_cost != first.served_cost
    # Another service level changes every order's money.
    priced.clear()
    live_roi(con, "demand_forecast", ASSUMPTIONS.model_copy(update={"service_level": 0.95}))
    assert sorted(priced) == [START + timedelta(days=49), START + timedelta(days=56)]
