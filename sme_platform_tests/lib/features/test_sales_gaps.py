"""Days with no sale anywhere inside the history the features see: warned, not silently read
as a company that sold nothing."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from sme_platform.lib.features.gaps import SalesGap, filled_gaps, history_outcome, sales_gaps

NEWEST = date(2026, 11, 30)
FIRST = NEWEST - timedelta(days=545)  # a history of 546 days


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute("create schema features")
    connection.execute(
        "create table features.demand_events "
        "(sku varchar, location_id varchar, date date, units double, censored boolean)"
    )
    yield connection
    connection.close()


def sell(con, first: date, last: date, units: float = 1.0, skip=()):
    day = first
    while day <= last:
        if day.weekday() not in skip:
            con.execute(
                "insert into features.demand_events values ('A', 'S1', ?, ?, false)", [day, units]
            )
        day += timedelta(days=1)


def test_a_missing_month_is_found_and_weekends_and_the_start_are_not(con):
    # A shop closed on Saturdays and Sundays, trading since June; September's file is missing.
    sell(con, date(2026, 6, 1), date(2026, 8, 31), skip=(5, 6))
    sell(con, date(2026, 10, 1), NEWEST, skip=(5, 6))
    # A censored day (stocked out, nothing sold) is not a sale.
    con.execute("insert into features.demand_events values ('A', 'S1', '2026-09-15', 0, true)")
    gaps = sales_gaps(con, FIRST, NEWEST)
    # Monday 31 August is the last sale before the hole, Thursday 1 October the first after.
    assert [(g.first_day, g.last_day, g.days) for g in gaps] == [
        (date(2026, 9, 1), date(2026, 9, 30), 30)
    ]
    outcome = history_outcome(gaps, FIRST, NEWEST, {"feature_set_version": "fs1"})
    assert not outcome.passed and outcome.severity == "warn"
    assert outcome.description.startswith(
        "no sale anywhere on 1 run(s) of days: 2026-09-01..2026-09-30 (30 days). A missing or "
        "late file?"
    )
    assert outcome.metadata["gaps"] == [
        {"first_day": "2026-09-01", "last_day": "2026-09-30", "days": 30}
    ]


def test_a_hole_older_than_the_history_or_shorter_than_three_days_is_not_reported(con):
    sell(con, date(2024, 1, 1), date(2024, 1, 31))
    sell(con, date(2024, 6, 1), NEWEST)  # a hole in 2024, beyond 546 days of history
    con.execute("delete from features.demand_events where date in ('2026-12-24', '2026-11-24')")
    con.execute(
        "delete from features.demand_events where date between '2026-10-10' and '2026-10-11'"
    )
    assert sales_gaps(con, FIRST, NEWEST) == []
    assert len(sales_gaps(con, NEWEST - timedelta(days=1099), NEWEST)) == 1  # in a longer one
    outcome = history_outcome([], FIRST, NEWEST, {})
    assert outcome.passed and "every day from 2025-06-03 to 2026-11-30" in outcome.description


def test_a_hole_that_began_before_the_history_counts_its_days_inside(con):
    # No sale from 10 days before the history's first day to 20 days after it: the features
    # see 20 empty days, and the run's start outside the window does not hide them.
    sell(con, FIRST - timedelta(days=100), FIRST - timedelta(days=11))
    sell(con, FIRST + timedelta(days=20), NEWEST)
    assert sales_gaps(con, FIRST, NEWEST) == [SalesGap(FIRST, FIRST + timedelta(days=19))]
    # Only 2 days of it inside: under the 3 days reported.
    assert sales_gaps(con, FIRST + timedelta(days=18), NEWEST) == []
    # A company whose sales begin inside the history has no gap before them.
    con.execute("delete from features.demand_events where date < ?", [FIRST])
    assert sales_gaps(con, FIRST, NEWEST) == []


def test_a_gap_filled_by_a_late_file_is_found_with_its_units(con):
    sell(con, FIRST, NEWEST)
    con.execute(
        "delete from features.demand_events where date between '2026-09-01' and '2026-09-30'"
    )
    recorded = [
        [g.first_day.isoformat(), g.last_day.isoformat()] for g in sales_gaps(con, FIRST, NEWEST)
    ]
    assert recorded == [["2026-09-01", "2026-09-30"]]
    assert filled_gaps(con, recorded) == []
    sell(con, date(2026, 9, 10), date(2026, 9, 11), units=4.0)  # two days of the late file
    assert filled_gaps(con, recorded) == [(SalesGap(date(2026, 9, 1), date(2026, 9, 30)), 8.0)]
