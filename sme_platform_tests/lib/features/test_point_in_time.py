"""Point-in-time correctness: a feature for origin D sees only rows known before D."""

from __future__ import annotations

from datetime import timedelta

from sme_platform.lib.features.demand import build_origin_features
from sme_platform.lib.features.events import EVENTS_TABLE, build_demand_events
from sme_platform.lib.features.leakage import check_leakage
from sme_platform_tests.lib.features.conftest import DAY0


def _origins(con, *offsets):
    con.execute(
        "create or replace temp table _feature_origins as select 'A' as sku, 'S1' as "
        "location_id, unnest($days::date[]) as origin_date, true as for_training, "
        "null::varchar as fold, false as for_scoring",
        {"days": [DAY0 + timedelta(days=o) for o in offsets]},
    )


def _store_features_as_v1(con, *offsets):
    """The events, the feature rows of these origins, stored as feature set version v1."""
    build_demand_events(con)
    _origins(con, *offsets)
    build_origin_features(con)
    con.execute("create schema if not exists features")
    con.execute(
        "create table features.demand_features as select 'v1' as feature_set_version, * "
        "from _origin_features"
    )


def _features(con):
    return {
        (row["origin_date"] - DAY0).days: row
        for row in con.execute("select * from _origin_features").pl().iter_rows(named=True)
    }


def test_a_late_file_is_not_seen_by_origins_before_it_arrived(tiny_warehouse):
    # Run 1 loads days 0..29, one file per day; run 2 brings a file for day 20 that was missed.
    for day in range(30):
        tiny_warehouse.load_file(1, f"sales_{day:02}.csv", [("A", "S1", day, 1.0)])
    tiny_warehouse.load_file(2, "sales_20_late.csv", [("A", "S1", 20, 5.0)])
    con = tiny_warehouse.con
    build_demand_events(con)
    known_on = dict(
        con.execute(
            f"select units, known_on from {EVENTS_TABLE} where date = $d",
            {"d": DAY0 + timedelta(days=20)},
        ).fetchall()
    )
    # The on-time row is known the next morning; the late one the day after the newest day
    # loaded before it arrived (day 29), not the day after its own date.
    assert known_on == {1.0: DAY0 + timedelta(days=21), 5.0: DAY0 + timedelta(days=30)}

    _origins(con, 25, 30)
    build_origin_features(con)
    features = _features(con)
    # At origin day 25 (lag 5 = day 20) the late 5 units were not known yet...
    assert features[25]["lag_5"] == 1.0
    # ...at day 30 (lag 10 is day 20, inside the 28-day mean) they were.
    assert features[30]["mean_28"] == (28 + 5) / 28
    assert features[25]["mean_28"] == 25 / 28


def test_a_backfill_in_one_run_is_not_late(tiny_warehouse):
    # Files of older days loaded after newer ones, but in the same run: all known on time.
    for day in (5, 3, 1):
        tiny_warehouse.load_file(1, f"sales_{day}.csv", [("A", "S1", day, 2.0)])
    con = tiny_warehouse.con
    build_demand_events(con)
    rows = con.execute(f"select date, known_on from {EVENTS_TABLE} order by date").fetchall()
    assert all(known == day + timedelta(days=1) for day, known in rows)


def test_the_leakage_check_recomputes_and_catches_a_leak(tiny_warehouse):
    for day in range(30):
        tiny_warehouse.load_file(1, f"sales_{day:02}.csv", [("A", "S1", day, float(day % 3))])
    tiny_warehouse.load_file(2, "sales_20_late.csv", [("A", "S1", 20, 5.0)])
    con = tiny_warehouse.con
    _store_features_as_v1(con, 22, 25, 28, 31)
    report = check_leakage(con, "v1", sample_size=10)
    assert report.passed, report.mismatches
    assert report.rows_checked == 4
    assert report.late_rows_in_sample == 3  # origins 22, 25 and 28 had day 20's late rows unseen

    # A feature computed with the late units before they arrived is a leak, and is named.
    con.execute(
        "update features.demand_features set lag_5 = lag_5 + 5 where origin_date = $d",
        {"d": DAY0 + timedelta(days=25)},
    )
    report = check_leakage(con, "v1", sample_size=10)
    assert not report.passed
    assert report.mismatches == [
        {
            "sku": "A",
            "location_id": "S1",
            "origin_date": (DAY0 + timedelta(days=25)).isoformat(),
            "feature": "lag_5",
            "stored": 7.0,
            "recomputed_from_data_known_then": 2.0,
        }
    ]


def test_the_skus_level_across_locations_sees_only_what_was_known(tiny_warehouse):
    # SKU A sells 1 a day at S1 and 3 on every 7th day at S2; S2's file for day 20 arrives late.
    for day in range(30):
        rows = [("A", "S1", day, 1.0), ("B", "S3", day, 9.0)]
        if day % 7 == 0 and day != 21:
            rows.append(("A", "S2", day, 3.0))
        tiny_warehouse.load_file(1, f"sales_{day:02}.csv", rows)
    tiny_warehouse.load_file(2, "sales_21_late.csv", [("A", "S2", 21, 6.0)])
    con = tiny_warehouse.con
    build_demand_events(con)
    _origins(con, 25, 30)
    build_origin_features(con)
    features = _features(con)
    # Day 25: 25 units at S1 and 3 x 3 at S2 (days 0, 7, 14) over two selling locations; the
    # late day 21 unseen, and SKU B's sales at S3 no part of A's level.
    assert features[25]["sku_locations_182"] == 2
    assert features[25]["sku_mean_91"] == (25 + 9) / 2 / 91
    assert features[25]["sku_mean_28"] == (25 + 9) / 2 / 28
    # Day 30: the late 6 units known; day 28's 3 units too; day 0 falls out of the 28 days.
    assert features[30]["sku_mean_28"] == (28 + 3 + 3 + 6 + 3) / 2 / 28
    assert features[30]["sku_mean_91"] == (30 + 3 * 4 + 6) / 2 / 91


def test_the_leakage_check_catches_another_locations_late_file_in_the_skus_level(
    tiny_warehouse,
):
    # A's series at S1 is on time; S2's file for day 20, with 7 units of A, arrives late.
    for day in range(30):
        tiny_warehouse.load_file(1, f"sales_{day:02}.csv", [("A", "S1", day, 1.0)])
    tiny_warehouse.load_file(2, "sales_20_late.csv", [("A", "S2", 20, 7.0)])
    con = tiny_warehouse.con
    _store_features_as_v1(con, 25, 31)
    report = check_leakage(con, "v1", sample_size=10)
    assert report.passed, report.mismatches
    stored = _features(con)
    assert stored[25]["sku_locations_182"] == 1  # S2's units not known at day 25
    assert stored[31]["sku_locations_182"] == 2
    assert stored[31]["sku_mean_28"] == (27 + 7) / 2 / 28  # days 3..30

    # The SKU's level computed with S2's late units before they arrived is a leak, and is named.
    con.execute(
        "update features.demand_features set sku_mean_28 = (25 + 7) / 2 / 28, "
        "sku_locations_182 = 2 where origin_date = $d",
        {"d": DAY0 + timedelta(days=25)},
    )
    report = check_leakage(con, "v1", sample_size=10)
    assert not report.passed
    assert {(m["feature"], m["recomputed_from_data_known_then"]) for m in report.mismatches} == {
        ("sku_mean_28", 25 / 28),
        ("sku_locations_182", 1.0),
    }
