"""Which series get feature rows, at which origins: the row budget lives here.

An origin is the first day a forecast covers; its features use only what was known before it.
Origins per purpose:
- scoring: the day after the newest data, for every active series (sold in the last
  `active_days` days before it): the forecast that is published;
- backtest: the calibration, fold_1..fold_N and holdout origins, `horizon_days` apart and ending
  `horizon_days` before the newest data, for the series active at each (at most
  `evaluation_series_budget`, sampled by series); and the warm-up origin `horizon_days` before
  the calibration fold, which only the demand model forecasts: its units sold over forecast give
  the calibration fold's level correction, as each fold's comes from the folds before it
  (lib/training/backtest.py). No method is judged on it (JUDGED_FOLDS);
- training: a grid of origins every `origin_stride_days` days going back over the training
  window (plus the backtest's span, so the oldest fold's model has a full window too); per
  series at most `training_origins_per_series` of its active ones (more when the budget allows
  more for every series), drawn at random, and series
  drawn until their rows (origins x horizons) fill `training_row_budget`. Many series with a few
  origins each, rather than few series with every origin: a model that learned from 200 series
  forecast the other series 24 % too low (it had learned those 200 series, not demand).
Sampling is by series, deterministic (md5 of the seed, SKU and location), so the same data and
settings give the same rows. Nothing here grows with SKUs x locations x days: only series that
sold recently are forecast, and training rows are bounded by the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from sme_platform.lib.features.events import EVENTS_TABLE
from sme_platform.lib.features.settings import ForecastSettings

ORIGINS_TABLE = "_feature_origins"
HOLDOUT = "holdout"
CALIBRATION = "calibration"
WARMUP = "warmup"
# The feature rows of the folds every method is judged on: the warm-up's are the model's alone.
JUDGED_FOLDS = f"fold is not null and fold <> '{WARMUP}'"


@dataclass(frozen=True)
class ForecastCalendar:
    """The dates every stage agrees on, derived from the newest day of data."""

    newest_day: date
    horizon_days: int
    folds: int

    @property
    def scoring_origin(self) -> date:
        return self.newest_day + timedelta(days=1)

    @property
    def holiday_years(self) -> list[int]:
        """The years whose public holidays a model needs: the feature lookback and training
        window (three years back) to the scoring horizon (the next year)."""
        return list(range(self.newest_day.year - 3, self.newest_day.year + 2))

    def fold_origins(self) -> dict[str, date]:
        """calibration, fold_1 .. fold_N (oldest first), holdout: each `horizon_days` long."""
        holdout = self.scoring_origin - timedelta(days=self.horizon_days)
        names = [CALIBRATION, *[f"fold_{k}" for k in range(1, self.folds + 1)], HOLDOUT]
        steps = range(len(names) - 1, -1, -1)
        return {
            name: holdout - timedelta(days=self.horizon_days * step)
            for name, step in zip(names, steps, strict=True)
        }

    @property
    def warmup_origin(self) -> date:
        """The origin of the warm-up fold: `horizon_days` before the calibration fold's."""
        return self.fold_origins()[CALIBRATION] - timedelta(days=self.horizon_days)

    def model_fold_origins(self) -> dict[str, date]:
        """The folds the demand model forecasts in its backtest: the warm-up, then every
        judged fold (`fold_origins`)."""
        return {WARMUP: self.warmup_origin, **self.fold_origins()}


class NoDemandData(ValueError):
    """There are no sales to forecast from (the asset says so and is skipped, not failed)."""


def forecast_calendar(
    con: duckdb.DuckDBPyConnection, settings: ForecastSettings
) -> ForecastCalendar:
    newest = con.execute(f"select max(date) from {EVENTS_TABLE} where units > 0").fetchone()[0]
    if newest is None:
        raise NoDemandData("no sales lines in staging.sales_lines: nothing to forecast")
    return ForecastCalendar(newest, settings.horizon_days, settings.backtest_folds)


def oldest_training_origin(calendar: ForecastCalendar, settings: ForecastSettings) -> date:
    """The oldest origin a version trains on: `training_window_days` before the calibration
    fold's forecasts begin."""
    fold_origins = calendar.fold_origins()
    return fold_origins[CALIBRATION] - timedelta(
        days=settings.horizon_days + settings.training_window_days
    )


def plan_origins(
    con: duckdb.DuckDBPyConnection,
    settings: ForecastSettings,
    calendar: ForecastCalendar,
    scoring_only: bool = False,
) -> dict[str, int]:
    """Create the temp table `_feature_origins` (sku, location_id, origin_date, for_training,
    fold, for_scoring): one row per series and origin whose features are needed; with
    `scoring_only`, the scoring origin's alone (a night that trains no model). Returns counts
    for metadata (series sampled for training, rows per purpose)."""
    folds = calendar.model_fold_origins()
    horizon = settings.horizon_days
    last_training_origin = calendar.scoring_origin - timedelta(days=horizon)
    oldest = oldest_training_origin(calendar, settings)
    grid = []
    origin = last_training_origin
    while origin >= oldest:
        grid.append(origin)
        origin -= timedelta(days=settings.origin_stride_days)
    if scoring_only:
        grid, folds = [], {}
    con.execute(
        "create or replace temp table _grid_origins as select unnest($grid::date[]) as origin_date",
        {"grid": grid},
    )
    con.execute(
        "create or replace temp table _fold_origins as "
        "select unnest($names::varchar[]) as fold, unnest($dates::date[]) as origin_date",
        {"names": list(folds), "dates": list(folds.values())},
    )
    seed = str(settings.sample_seed)
    active_days = settings.active_days
    con.execute(ACTIVE_SQL, {"scoring": calendar.scoring_origin, "active_days": active_days})
    # Few series (a small company): every origin fits the budget, so all are used; many: at
    # most `training_origins_per_series` each, so the budget spreads over more series.
    con.execute(
        """create or replace temp table _grid_counts as
           select sku, location_id, count(*) as active_origins
           from _active join _grid_origins using (origin_date) group by all"""
    )
    candidates = con.execute("select count(*) from _grid_counts").fetchone()[0]
    per_series = max(
        settings.training_origins_per_series,
        settings.training_row_budget // max(candidates * horizon, 1),
    )
    # Series are drawn on their row counts alone (a series gives min(active origins,
    # per_series) origins); only the drawn series' origins are drawn after: hashing every
    # active series x origin took 2.2 s at medium scale for the 2% of series kept.
    con.execute(
        f"""
        create or replace temp table _training_series as
        with per_series as (
            select sku, location_id, least(active_origins, $per_series) * {horizon} as rows,
                   md5($seed || '|' || sku || '|' || location_id) as draw
            from _grid_counts
        ),
        ranked as (
            select *, sum(rows) over (order by draw rows unbounded preceding) as running_rows
            from per_series
        )
        select sku, location_id from ranked where running_rows <= $budget
        """,
        {"seed": seed, "per_series": per_series, "budget": settings.training_row_budget},
    )
    con.execute(
        """
        create or replace temp table _training_origins as
        select sku, location_id, origin_date from (
            select _active.*, row_number() over (
                partition by sku, location_id
                order by md5($seed || '|' || sku || '|' || location_id || '|' || origin_date)
            ) as draw
            from _active
            semi join _training_series using (sku, location_id)
            join _grid_origins using (origin_date)
        ) where draw <= $per_series
        """,
        {"seed": seed, "per_series": per_series},
    )
    con.execute(
        f"""
        create or replace temp table {ORIGINS_TABLE} as
        with training as (
            select sku, location_id, origin_date, true as for_training from _training_origins
        ),
        evaluation as (
            select sku, location_id, origin_date, fold from (
                select _active.*, _fold_origins.fold,
                       row_number() over (
                           partition by _fold_origins.fold
                           order by md5($seed || '|' || sku || '|' || location_id)
                       ) as draw
                from _active join _fold_origins using (origin_date)
            ) where draw <= $evaluation_budget
        ),
        scoring as (
            select sku, location_id, origin_date, true as for_scoring
            from _active where origin_date = $scoring::date
        ),
        keys as (
            select sku, location_id, origin_date from training
            union select sku, location_id, origin_date from evaluation
            union select sku, location_id, origin_date from scoring
        )
        select
            keys.sku, keys.location_id, keys.origin_date,
            coalesce(training.for_training, false) as for_training,
            evaluation.fold,
            coalesce(scoring.for_scoring, false) as for_scoring
        from keys
        left join training using (sku, location_id, origin_date)
        left join evaluation using (sku, location_id, origin_date)
        left join scoring using (sku, location_id, origin_date)
        """,
        {
            "seed": seed,
            "evaluation_budget": settings.evaluation_series_budget,
            "scoring": calendar.scoring_origin,
        },
    )
    return dict(
        zip(
            [
                "training_series",
                "training_origins",
                "evaluation_origins",
                "scoring_series",
                "candidate_series",
            ],
            con.execute(
                f"""select (select count(*) from _training_series),
                           count(*) filter (where for_training),
                           count(*) filter (where fold is not null),
                           count(*) filter (where for_scoring),
                           (select count(distinct (sku, location_id)) from _active)
                    from {ORIGINS_TABLE}"""
            ).fetchone(),
            strict=True,
        )
    )


# `_active` (sku, location_id, origin_date): the candidate origins (training grid, folds,
# scoring) at which a series is active: it sold on a day D known by the origin, with
# D < origin <= D + active_days. Joining every sale to every candidate in its window made ~60M
# rows to keep 3.5M at medium scale (6.8 s); here each sale becomes the span of candidate
# numbers it activates (a lookup per day), the spans of a series merge into islands, and
# only the islands are expanded (2.9 s, the same rows).
ACTIVE_SQL = f"""
create or replace temp table _active as
with candidates as (
    select origin_date, row_number() over (order by origin_date) as n from (
        select origin_date from _grid_origins
        union select origin_date from _fold_origins
        union select $scoring::date
    )
),
sold as (
    select sku, location_id, greatest(date + 1, known_on) as first_day,
           date + $active_days as last_day
    from {EVENTS_TABLE}
    -- A sale activates origins up to active_days after it: older ones activate no candidate.
    where units > 0 and date + $active_days >= (select min(origin_date) from candidates)
),
days as (
    select unnest(range(min(first_day), max(last_day) + 1, interval 1 day))::date as day
    from sold
),
numbered_days as (
    select days.day,
           (select min(n) from candidates where origin_date >= days.day) as first_n,
           (select max(n) from candidates where origin_date <= days.day) as last_n
    from days
),
spans as (
    select distinct sold.sku, sold.location_id, f.first_n, l.last_n
    from sold
    join numbered_days as f on f.day = sold.first_day
    join numbered_days as l on l.day = sold.last_day
    where f.first_n <= l.last_n
),
flagged as (
    select *, coalesce(first_n > 1 + max(last_n) over (
        partition by sku, location_id order by first_n, last_n
        rows between unbounded preceding and 1 preceding
    ), true)::int as starts_island
    from spans
),
islands as (
    select sku, location_id, first_n, last_n, sum(starts_island) over (
        partition by sku, location_id order by first_n, last_n rows unbounded preceding
    ) as island
    from flagged
),
active as (
    select sku, location_id, unnest(range(min(first_n), max(last_n) + 1)) as n
    from islands group by sku, location_id, island
)
select active.sku, active.location_id, candidates.origin_date
from active join candidates using (n)
"""
