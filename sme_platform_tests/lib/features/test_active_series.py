"""Which series are active at which candidate origin: the islands query against the plain
definition (a sale on day D, known by the origin, with D < origin <= D + active_days)."""

import random
from datetime import date, timedelta

import pytest

from sme_platform.lib.features.events import EVENTS_TABLE
from sme_platform.lib.features.origins import ACTIVE_SQL
from sme_platform_tests.lib.features.conftest import events_only

PLAIN_DEFINITION = f"""
    select distinct e.sku, e.location_id, c.origin_date
    from {EVENTS_TABLE} as e
    join (select origin_date from _grid_origins union select origin_date from _fold_origins
          union select $scoring::date) as c
        on c.origin_date > e.date and c.origin_date <= e.date + $active_days
        and c.origin_date >= e.known_on
    where e.units > 0
"""


@pytest.mark.parametrize("seed", range(6))
def test_the_islands_give_the_plain_definitions_rows(seed):
    rng = random.Random(seed)
    start = date(2024, 1, 1)
    rows = []
    for series in range(12):
        busy = rng.random()  # from a sale a year to most days
        for offset in range(200):
            if rng.random() < busy * 0.3:
                day = start + timedelta(offset)
                late = rng.choice([1, 1, 1, 2, 30, 90])  # known the next day, or late
                units = rng.choice([0.0, 1.0, 3.0])  # zero: a censored day, not a sale
                rows.append(
                    (f"S{series % 4}", f"L{series // 4}", day, day + timedelta(late), units)
                )
    con = events_only(rows)
    grid = [start + timedelta(days) for days in range(rng.randint(0, 6), 230, 7)]
    folds = [start + timedelta(days) for days in (150, 164, 178)]
    con.execute(
        "create temp table _grid_origins as select unnest($g::date[]) as origin_date", {"g": grid}
    )
    con.execute(
        "create temp table _fold_origins as select 'f' as fold, unnest($f::date[]) as origin_date",
        {"f": folds},
    )
    params = {"scoring": start + timedelta(201), "active_days": rng.choice([7, 28, 56])}
    expected = set(con.execute(PLAIN_DEFINITION, params).fetchall())
    con.execute(ACTIVE_SQL, params)
    assert set(con.execute("select * from _active").fetchall()) == expected
    assert con.execute("select count(*) from _active").fetchone()[0] == len(expected)
    assert len(expected) > 20
