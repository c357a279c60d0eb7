"""The fallback forecast served while no version has passed the gate: each baseline exactly as the
backtest defines it, at the scoring origin, with its stored interval; the cheaper one chosen."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace

import duckdb
import polars as pl
import pytest

from sme_platform.lib.release.fallback import FallbackChoice, choose_fallback, fallback_forecast
from sme_platform.lib.training.registration import FALLBACK_INTERVALS_KEY

ORIGIN = date(2024, 3, 1)


def quantiles(method: str) -> list[dict]:
    """One size bucket per horizon half: low = prediction - 1 x sqrt(p + 1), high = + 2 x."""
    return [
        {
            "model": method,
            "horizon_from": start,
            "horizon_to": end,
            "size_from": float("-inf"),
            "residual_low": -1.0,
            "residual_high": 2.0,
            "calibration_rows": 500,
            "nominal": 0.8,
        }
        for start, end in ((1, 7), (8, 14))
    ]


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute("create schema features")
    connection.execute(
        """create table features.demand_features as
           select * from (values ('A', 'L1', ?::date, 'fs1', true), ('B', 'L1', ?, 'fs1', true),
                                 ('C', 'L1', ?, 'fs1', true), ('D', 'L1', ?, 'fs1', false))
           t(sku, location_id, origin_date, feature_set_version, for_scoring)""",
        [ORIGIN] * 4,
    )
    events = []
    for age in range(1, 29):  # A sells `age` units a day, day `age` before the origin...
        events.append(("A", "L1", ORIGIN - timedelta(days=age), float(age), False))
    # ...except 3 days before it, stocked out (nothing recorded, censored)...
    events[2] = ("A", "L1", ORIGIN - timedelta(days=3), 0.0, True)
    # ...and 5 days before it, where a second file added 10 units to the day.
    events.append(("A", "L1", ORIGIN - timedelta(days=5), 10.0, False))
    events.append(("A", "L1", ORIGIN, 99.0, False))  # the origin itself: not yet known
    events.append(("A", "L1", ORIGIN - timedelta(days=29), 99.0, False))  # outside the window
    # C: stocked out on every day of the window, one unit recorded on one of them.
    for age in range(1, 29):
        events.append(("C", "L1", ORIGIN - timedelta(days=age), float(age == 7), True))
    connection.execute(
        "create table features.demand_events (sku varchar, location_id varchar, date date, "
        "units double, censored boolean)"
    )
    connection.executemany("insert into features.demand_events values (?, ?, ?, ?, ?)", events)
    yield connection
    connection.close()


def choice(method: str) -> FallbackChoice:
    version = SimpleNamespace(
        model_name="demand_forecast",
        version="v3",
        parameters={FALLBACK_INTERVALS_KEY: {method: quantiles(method)}},
        status="archived",  # refused by the gate
        canary_share=None,
        approved_by=None,
    )
    return FallbackChoice(method, version, 100.0, 120.0)


def by_series(frame: pl.DataFrame, sku: str) -> list[float]:
    return frame.filter(pl.col("sku") == sku).sort("horizon")["prediction"].to_list()


def test_seasonal_naive_repeats_last_weeks_same_weekday_as_recorded(con):
    frame = fallback_forecast(con, choice("seasonal_naive"), "fs1", 14)
    assert frame.height == 3 * 14  # the scoring series only, every horizon
    assert frame["origin_date"].unique().to_list() == [ORIGIN]
    assert frame.filter(pl.col("horizon") == 1)["target_date"].to_list() == [ORIGIN] * 3
    # Horizon h reads the day 8 - h before the origin (15 - h for the second week): its units
    # as recorded, censored or not (a naive method knows nothing of stock-outs).
    week = [7.0, 6.0, 15.0, 4.0, 0.0, 2.0, 1.0]  # 5 days before: 5 + 10; 3 days before: 0
    assert by_series(frame, "A") == week + week
    assert by_series(frame, "B") == [0.0] * 14
    # C: the unit recorded on a stocked-out day 7 days before the origin, read by 1 and 8.
    assert by_series(frame, "C") == ([1.0] + [0.0] * 6) * 2


def test_the_28_day_mean_leaves_censored_days_out_and_counts_unsold_days_as_zero(con):
    frame = fallback_forecast(con, choice("moving_average_28"), "fs1", 14)
    sold = sum(range(1, 29)) - 3 + 10  # every day's units, the censored day's out, 10 added
    assert by_series(frame, "A") == pytest.approx([sold / 27] * 14)  # 27 known days
    assert by_series(frame, "B") == [0.0] * 14  # nothing sold on 28 known days
    assert by_series(frame, "C") == [0.0] * 14  # no day known: 0, as the backtest's baseline
    a = frame.filter(pl.col("sku") == "A").row(0, named=True)
    scale = (a["prediction"] + 1) ** 0.5
    assert a["low"] == pytest.approx(a["prediction"] - scale)
    assert a["high"] == pytest.approx(a["prediction"] + 2 * scale)
    assert frame.filter(pl.col("sku") == "B")["low"].to_list() == [0.0] * 14  # never below 0


def test_the_cheapest_baseline_or_peer_of_the_newest_version_is_chosen(con, monkeypatch):
    con.execute("create schema ml")
    con.execute(
        """create table ml.backtest_results as select * from (values
           ('demand_forecast', 'v2', 'seasonal_naive', 'fold_1', 'overall', 50.0),
           ('demand_forecast', 'v2', 'seasonal_naive', 'holdout', 'overall', 40.0),
           ('demand_forecast', 'v2', 'seasonal_naive', 'calibration', 'overall', 1.0),
           ('demand_forecast', 'v2', 'moving_average_28', 'fold_1', 'overall', 60.0),
           ('demand_forecast', 'v2', 'moving_average_28', 'holdout', 'overall', 25.0),
           ('demand_forecast', 'v2', 'moving_average_28', 'holdout', 'category', 99.0),
           ('demand_forecast', 'v2', 'lightgbm', 'holdout', 'overall', 95.0),
           ('demand_forecast', 'v2', 'statsforecast.ADIDA', 'fold_1', 'overall', 30.0),
           ('demand_forecast', 'v2', 'statsforecast.ADIDA', 'holdout', 'overall', 40.0),
           ('demand_forecast', 'v2', 'statsforecast.AutoETS', 'holdout', 'overall', 5.0),
           ('demand_forecast', 'v1', 'seasonal_naive', 'holdout', 'overall', 1.0))
           t(model_name, model_version, model, fold, segment_type, business_cost)"""
    )

    def version(name: str, intervals: dict | None, **status) -> SimpleNamespace:
        parameters = {} if intervals is None else {FALLBACK_INTERVALS_KEY: intervals}
        return SimpleNamespace(
            model_name="demand_forecast",
            version=name,
            number=int(name[1:]),
            parameters=parameters,
            **{"status": "archived", "canary_share": None, "approved_by": None, **status},
        )

    both = {m: quantiles(m) for m in ("seasonal_naive", "moving_average_28")}
    with_peers = {**both, **{m: quantiles(m) for m in ("statsforecast.ADIDA",)}}
    versions = [version("v1", both), version("v2", with_peers)]
    monkeypatch.setattr("sme_platform.lib.release.fallback.list_versions", lambda *_: versions)
    chosen = choose_fallback(con, "demand_forecast")
    # ADIDA 70 against 85 and 90 over the folds and the holdout (the calibration fold and
    # segments aside); AutoETS, cheaper still, runs on the top series only: never a fallback.
    assert (chosen.method, chosen.cost) == ("statsforecast.ADIDA", 70)
    assert chosen.reason == (
        "no version of demand_forecast has passed the gate; serving statsforecast.ADIDA, the "
        "cheapest baseline or peer in v2's backtest (business cost 70 over the folds and the "
        "holdout; v2: 95)"
    )
    # A version registered before the peers' intervals were kept: the cheaper baseline.
    versions[1] = version("v2", both)
    chosen = choose_fallback(con, "demand_forecast")
    assert (chosen.method, chosen.version.version, chosen.cost) == ("moving_average_28", "v2", 85)
    assert chosen.model_version == "fallback:moving_average_28"
    # A high-impact version that passed the gate: the reason is the missing approval.
    versions[1] = version("v2", both, status="challenger")
    assert choose_fallback(con, "demand_forecast").reason.startswith(
        "demand_forecast v2 passed the gate and waits for a named approval (sme-platform "
        "approve demand_forecast v2 --by NAME --note TEXT); serving moving_average_28"
    )
    versions[1] = version("v2", both, status="challenger", approved_by="Ana Ruiz")
    assert choose_fallback(con, "demand_forecast").reason.startswith(
        "demand_forecast v2 is approved and waits for the release step; serving"
    )
    # It still waits when a newer version is refused: it is the reason, not the refusal.
    con.execute(
        """insert into ml.backtest_results values
           ('demand_forecast', 'v3', 'seasonal_naive', 'holdout', 'overall', 30.0),
           ('demand_forecast', 'v3', 'moving_average_28', 'holdout', 'overall', 20.0)"""
    )
    versions.append(version("v3", both))
    assert choose_fallback(con, "demand_forecast").reason.startswith(
        "demand_forecast v2 is approved and waits for the release step; serving"
    )
    versions.pop()
    # A version registered before the baselines' intervals were kept: nothing to serve.
    versions[1] = version("v2", None)
    assert choose_fallback(con, "demand_forecast") is None
    monkeypatch.setattr("sme_platform.lib.release.fallback.list_versions", lambda *_: [])
    assert choose_fallback(con, "demand_forecast") is None


@pytest.mark.parametrize("peer", ["statsforecast.ADIDA", "statsforecast.CrostonOptimized"])
def test_a_peer_is_fitted_on_the_days_before_the_origin_zero_filled(con, monkeypatch, peer):
    from sme_platform.lib.release.fallback import PEER_HISTORY_DAYS
    from sme_platform.lib.training.peers import peer_forecast

    frame = fallback_forecast(con, choice(peer), "fs1", 14)
    # Fitted in chunks of series to bound memory: one series per chunk, the same forecasts.
    monkeypatch.setattr("sme_platform.lib.release.fallback.PEER_CHUNK_SERIES", 1)
    assert fallback_forecast(con, choice(peer), "fs1", 14).equals(frame)
    assert frame.height == 3 * 14 and frame["origin_date"].unique().to_list() == [ORIGIN]
    # The same fit on the history built by hand: every day of the window, a day without an
    # event a zero, a day's events summed (5 days before: 5 + 10), the origin's own left out.
    recorded = con.execute(
        "select sku, location_id, date, sum(units) as units, bool_and(censored) as censored "
        "from features.demand_events where date < ? group by all",
        [ORIGIN],
    ).pl()
    days = pl.DataFrame(
        {"date": [ORIGIN - timedelta(days=age) for age in range(PEER_HISTORY_DAYS, 0, -1)]}
    )
    grid = pl.DataFrame({"sku": ["A", "B", "C"], "location_id": "L1"}).join(days, how="cross")
    history = grid.join(recorded, on=["sku", "location_id", "date"], how="left").with_columns(
        pl.col("units").fill_null(0.0), pl.col("censored").fill_null(False)
    )
    expected = peer_forecast(history, ORIGIN, peer, 14)
    for sku in ("A", "B", "C"):
        by_hand = expected.filter(pl.col("sku") == sku).sort("horizon")["prediction"].to_list()
        assert by_series(frame, sku) == pytest.approx(by_hand), sku
    assert by_series(frame, "B") == [0.0] * 14  # never sold
    assert 0 < by_series(frame, "A")[0] < 28  # a level of A's sales, flat as the peers are
    assert len(set(by_series(frame, "A"))) == 1
    assert (frame["low"] <= frame["prediction"]).all() and (
        frame["prediction"] <= frame["high"]
    ).all()


def test_the_fallback_is_published_audited_and_replaced_by_the_first_champions_forecast(con):
    from sme_platform.lib.release import forecasts
    from sme_platform.lib.release.fallback import FALLBACK_TABLE, publish_fallback

    rows = publish_fallback(con, choice("seasonal_naive"), "fs1", 14, "run-1")
    published = con.execute(
        "select model_version, role, count(*), min(run_id) from ml.demand_forecast group by all"
    ).fetchall()
    assert published == [("fallback:seasonal_naive", "fallback", 42, "run-1")] and rows.height == 42
    assert con.execute(f"select count(*) from {FALLBACK_TABLE}").fetchone()[0] == 42
    (reason,) = con.execute(
        "select reason from governance.audit_log where event = 'published' "
        "and model_version = 'fallback:seasonal_naive'"
    ).fetchone()
    assert reason.startswith("42 fallback forecast rows for 3 series: no version of")
    # Published again (the next night): replaced, not added to.
    publish_fallback(con, choice("moving_average_28"), "fs1", 14, "run-2")
    assert con.execute(
        "select model_version, count(*) from ml.demand_forecast group by all"
    ).fetchall() == [("fallback:moving_average_28", 42)]
    # The first champion's publication points ml.demand_forecast at the log instead.
    champions = rows.with_columns(
        pl.lit("v4").alias("model_version"), pl.lit("champion").alias("role")
    ).head(14)
    scored_at = datetime(2024, 3, 1, 6, 0)
    logged = champions.with_columns(
        pl.lit("run-3").alias("run_id"), pl.lit(scored_at).alias("scored_at")
    )
    forecasts._replace_and_log(
        con,
        logged,
        champions.head(0).select("sku", "location_id"),
        "run-3",
        scored_at,
        {"model_name": "demand_forecast", "model_version": "v4", "reason": "14 rows"},
    )
    assert con.execute(
        "select model_version, role, count(*) from ml.demand_forecast group by all"
    ).fetchall() == [("v4", "champion", 14)]
