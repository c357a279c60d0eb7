"""The training sample: series drawn on their row counts, then only the drawn series' origins
drawn, gives the rows of the plain definition (every series' origins drawn first, then series
until their rows fill the budget)."""

import random
from datetime import date, timedelta

import pytest

from sme_platform.lib.features.origins import ORIGINS_TABLE, ForecastCalendar, plan_origins
from sme_platform.lib.features.settings import ForecastSettings
from sme_platform_tests.lib.features.conftest import events_only

# The definition as first written: origins drawn for every active series, series drawn after.
PLAIN_DEFINITION = """
    with origins as (
        select sku, location_id, origin_date from (
            select _active.*, row_number() over (
                partition by sku, location_id
                order by md5($seed || '|' || sku || '|' || location_id || '|' || origin_date)
            ) as draw
            from _active join _grid_origins using (origin_date)
        ) where draw <= $per_series
    ),
    per_series as (
        select sku, location_id, count(*) * $horizon as rows,
               md5($seed || '|' || sku || '|' || location_id) as draw
        from origins group by all
    ),
    ranked as (
        select *, sum(rows) over (order by draw rows unbounded preceding) as running_rows
        from per_series
    )
    select sku, location_id, origin_date from origins
    semi join (select * from ranked where running_rows <= $budget) using (sku, location_id)
"""


@pytest.mark.parametrize(("seed", "budget"), [(0, 1_000), (1, 3_000), (2, 10_000), (3, 1_000_000)])
def test_the_drawn_training_rows_are_the_plain_definitions(seed, budget):
    rng = random.Random(seed)
    start = date(2024, 1, 1)
    rows = []
    for series in range(120):
        busy = rng.random()
        for offset in range(500):
            if rng.random() < busy * 0.2:
                day = start + timedelta(offset)
                rows.append((f"S{series % 30}", f"L{series // 30}", day, day + timedelta(1), 1.0))
    con = events_only(rows)
    settings = ForecastSettings(
        horizon_days=7, training_window_days=182, training_row_budget=budget, sample_seed=seed
    )
    calendar = ForecastCalendar(start + timedelta(499), settings.horizon_days, 4)
    counts = plan_origins(con, settings, calendar)
    candidates = counts["candidate_series"]
    per_series = max(
        settings.training_origins_per_series,
        budget
        // max(
            con.execute(
                "select count(distinct (sku, location_id)) from _active join _grid_origins "
                "using (origin_date)"
            ).fetchone()[0]
            * settings.horizon_days,
            1,
        ),
    )
    expected = set(
        con.execute(
            PLAIN_DEFINITION,
            {"seed": str(seed), "per_series": per_series, "horizon": 7, "budget": budget},
        ).fetchall()
    )
    drawn = set(
        con.execute(
            f"select sku, location_id, origin_date from {ORIGINS_TABLE} where for_training"
        ).fetchall()
    )
    assert drawn == expected
    assert counts["training_origins"] == len(expected) > 0
    assert candidates > 60
