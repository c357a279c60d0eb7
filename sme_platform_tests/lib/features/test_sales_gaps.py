"""Days with no sale anywhere inside the history the features see: warned, not silently read
as a company that sold nothing."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from sme_platform.lib.features.gaps import history_outcome, sales_gaps

NEWEST = date(2026, 11, 30)


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
    gaps = sales_gaps(con, NEWEST, 546)
    # Monday 31 August is the last sale before the hole, Thursday 1 October the first after.
    assert [(g.first_day, g.last_day, g.days) for g in gaps] == [
        (date(2026, 9, 1), date(2026, 9, 30), 30)
    ]
    outcome = history_outcome(gaps, NEWEST, 546, {"feature_set_version": "fs1"})
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
    assert sales_gaps(con, NEWEST, 546) == []
    assert len(sales_gaps(con, NEWEST, 1100)) == 1  # within a longer history it is
    outcome = history_outcome([], NEWEST, 546, {})
    assert outcome.passed and "every day of the 546 days up to 2026-11-30" in outcome.description
