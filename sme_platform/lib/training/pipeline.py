"""The training stage end to end: the model's backtest, the baselines and statistical peers on
the same folds and series, conformal intervals for all of them, and their judgement.

Every method forecasts the same rows (per fold, the series active at its origin) and gets its
prediction interval the same way (residual quantiles on the calibration fold), so the reorder
simulation, which orders from the interval, compares like with like. The final model's interval
comes from its residuals on every fold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

import duckdb
import polars as pl

from sme_platform.lib.features.demand import LOOKBACK_DAYS
from sme_platform.lib.features.origins import CALIBRATION, JUDGED_FOLDS, ForecastCalendar
from sme_platform.lib.features.settings import ForecastSettings
from sme_platform.lib.training.backtest import LIGHTGBM, ModelBacktest, backtest_model
from sme_platform.lib.training.baselines import (
    MOVING_AVERAGE,
    SEASONAL_NAIVE,
    moving_average,
    seasonal_naive,
)
from sme_platform.lib.training.business import BusinessAssumptions
from sme_platform.lib.training.conformal import (
    NOMINAL_COVERAGE,
    apply_intervals,
    fit_residual_quantiles,
)
from sme_platform.lib.training.cost_uncertainty import (
    cost_ratio_intervals,
    segment_cost_intervals,
    series_costs,
)
from sme_platform.lib.training.expanding_calibration import judge_with_expanding_calibration
from sme_platform.lib.training.peers import ADIDA_MODEL, CROSTON, statsforecast_peers
from sme_platform.lib.training.safety_stock import ProtectionQuantile, fit_protection_quantiles
from sme_platform.lib.training.training_checks import zero_day_share

# What may serve while no version has passed the gate (lib/release/fallback.py): the platform's
# baselines and the peers it can fit on every series at scoring time (AutoETS runs on the top
# series only).
FALLBACK_METHODS = (SEASONAL_NAIVE, MOVING_AVERAGE, ADIDA_MODEL, CROSTON)


@dataclass
class TrainingOutcome:
    backtest: ModelBacktest
    forecasts: pl.DataFrame  # every method, every fold, with intervals
    results: pl.DataFrame  # ml.backtest_results rows without run and model identity
    final_quantiles: pl.DataFrame  # residual quantiles of the final model's intervals
    scoring_forecast: pl.DataFrame  # the final model on the scoring origin, with intervals
    notes: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    # Per method, the service-level quantile of its residuals over the protection interval on
    # every window, which the reorder simulation orders safety stock from (each backtest window
    # was judged with the windows before it: lib/training/expanding_calibration); the final
    # model's the same.
    protection_quantiles: dict = field(default_factory=dict)
    final_protection_quantile: ProtectionQuantile | None = None
    # The baselines' interval quantiles from the calibration fold, per method (QUANTILE_COLUMNS
    # rows): what a fallback forecast is served with while no version passes the gate
    # (lib/release/fallback.py).
    baseline_quantiles: dict = field(default_factory=dict)
    # The model's cost against every other method's, over every window and on the holdout, with
    # a bootstrap interval over series (lib/training/cost_uncertainty).
    cost_intervals: dict = field(default_factory=dict)
    # The share of the model's judged days that sold nothing (lib/training/training_checks).
    zero_day_share: float | None = None


def evaluation_history(con: duckdb.DuckDBPyConnection, version: str) -> pl.DataFrame:
    """The dense daily history of the evaluated series, from the stored feature set version:
    from the lookback before the oldest fold origin to the newest day."""
    return con.execute(
        f"""
        with evaluated as (
            select distinct sku, location_id from features.demand_features
            where feature_set_version = $version and {JUDGED_FOLDS}
        ),
        span as (
            select min(origin_date) - {LOOKBACK_DAYS} as first_day,
                   (select max(date) from features.demand_targets
                    where feature_set_version = $version) as last_day
            from features.demand_features
            where feature_set_version = $version and {JUDGED_FOLDS}
        ),
        days as (
            select unnest(generate_series(first_day, last_day, interval 1 day))::date as date
            from span
        )
        select e.sku, e.location_id, days.date,
               coalesce(t.units, 0)::double as units, coalesce(t.censored, false) as censored
        from evaluated e cross join days
        left join features.demand_targets t
            on t.feature_set_version = $version and t.sku = e.sku
            and t.location_id = e.location_id and t.date = days.date
        order by 1, 2, 3
        """,
        {"version": version},
    ).pl()


def fold_series(con: duckdb.DuckDBPyConnection, version: str) -> dict[str, pl.DataFrame]:
    """Per fold, its series with their attributes (category, unit price and cost at the origin)."""
    frame = con.execute(
        f"""select fold, sku, location_id, category,
                  coalesce(list_price, realized_price_91) as unit_price, unit_cost
           from features.demand_features
           where feature_set_version = $version and {JUDGED_FOLDS}""",
        {"version": version},
    ).pl()
    return {fold[0]: rows.drop("fold") for fold, rows in frame.group_by(["fold"])}


def history_shortfall(
    con: duckdb.DuckDBPyConnection, version: str, calendar: ForecastCalendar
) -> str | None:
    """Why this feature set cannot be backtested (a fold without a series to judge: the sales
    history is too short), or None."""
    folds = calendar.fold_origins()
    judged = dict(
        con.execute(
            f"""select fold, count(*) from features.demand_features
               where feature_set_version = $version and {JUDGED_FOLDS} group by all""",
            {"version": version},
        ).fetchall()
    )
    empty = [fold for fold in folds if not judged.get(fold)]
    if not empty:
        return None
    first_sale = con.execute(
        "select min(date) from features.demand_targets where feature_set_version = $version",
        {"version": version},
    ).fetchone()[0]
    days = (calendar.newest_day - first_sale).days + 1 if first_sale else 0
    needed = (calendar.newest_day - folds[min(folds, key=folds.get)]).days + 1
    return (
        f"not enough sales history to backtest: no series sold before the origin of "
        f"{', '.join(empty)}; the folds need about {needed} days plus the weeks before them, "
        f"the data has {days}"
    )


def judge_methods(
    everything: pl.DataFrame, assumptions: BusinessAssumptions
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, float], pl.DataFrame]:
    """How every method is judged, the same for all: its interval from its residuals on the
    calibration fold, and each later window's safety stock from its misses on the windows
    before it (lib/training/expanding_calibration: as production orders from every window);
    then its results (ml.backtest_results rows) on those windows. Returns the judged forecasts,
    the results, the protection quantiles of every window (what production orders with; the
    live ROI judges the baselines with them) and the interval quantiles (the forecasting
    benchmark judges its extra methods with this too)."""
    calibration = everything.filter(pl.col("fold") == CALIBRATION)
    quantiles = fit_residual_quantiles(calibration, NOMINAL_COVERAGE)
    protection_quantiles = fit_protection_quantiles(everything, assumptions)
    judged = apply_intervals(everything.filter(pl.col("fold") != CALIBRATION), quantiles)
    results = judge_with_expanding_calibration(everything, judged, assumptions, NOMINAL_COVERAGE)
    return judged, results, protection_quantiles, quantiles


def fallback_interval_quantiles(everything: pl.DataFrame) -> dict[str, list[dict]]:
    """The baselines' interval quantiles for the fallback forecast, per method: from every
    fold, as the final model's are. The calibration fold alone can fall in a closure or a
    missing file, where every actual is 0 and the fallback's intervals shrink to its forecast
    (a seasonal naive forecast of 0 got [0, 0] on every series)."""
    baselines = everything.filter(pl.col("model").is_in(FALLBACK_METHODS))
    quantiles = fit_residual_quantiles(baselines, NOMINAL_COVERAGE)
    return {method: rows.to_dicts() for (method,), rows in quantiles.group_by(["model"])}


def run_training(
    con: duckdb.DuckDBPyConnection,
    version: str,
    settings: ForecastSettings,
    calendar: ForecastCalendar,
    holidays_on: list,
    assumptions: BusinessAssumptions,
    autoets_series: int = 30,
) -> TrainingOutcome:
    seconds: dict[str, float] = {}
    backtest = backtest_model(con, version, settings, calendar, holidays_on)
    seconds.update({f"lightgbm_{k}": round(v, 2) for k, v in backtest.seconds.items()})

    started = time.perf_counter()
    history = evaluation_history(con, version)
    series_by_fold = fold_series(con, version)
    origins = calendar.fold_origins()
    other_methods: list[pl.DataFrame] = []
    notes: dict[str, str] = {}
    peer_seconds: dict[str, float] = {}
    for fold, origin in origins.items():
        series = series_by_fold.get(fold)
        if series is None or series.is_empty():
            continue
        keys = series.select("sku", "location_id")
        fold_history = history.join(keys, on=["sku", "location_id"], how="semi")
        one_fold = [(fold, origin)]
        horizon = settings.horizon_days
        other_methods.append(
            seasonal_naive(fold_history, one_fold, keys, horizon, attributes=series)
        )
        other_methods.append(
            moving_average(fold_history, one_fold, keys, horizon, attributes=series)
        )
        peers = statsforecast_peers(
            fold_history.filter(pl.col("date") < origin + timedelta(days=horizon)),
            one_fold,
            keys,
            horizon,
            attributes=series,
            autoets_series=autoets_series,
        )
        other_methods.append(peers.forecasts)
        notes.update(peers.notes)
        for name, value in peers.seconds.items():
            peer_seconds[name] = peer_seconds.get(name, 0.0) + value
    seconds["baselines_and_peers"] = round(time.perf_counter() - started, 2)
    seconds.update({f"peer_{k}": round(v, 2) for k, v in peer_seconds.items()})

    started = time.perf_counter()
    everything = pl.concat([backtest.forecasts, *other_methods], how="diagonal_relaxed")
    judged, results, protection_quantiles, _ = judge_methods(everything, assumptions)
    lightgbm_rows = everything.filter(pl.col("model") == LIGHTGBM)
    final_quantiles = fit_residual_quantiles(lightgbm_rows, NOMINAL_COVERAGE)
    # judge_methods fitted every method's on every window, the final model's own included.
    final_protection_quantile = protection_quantiles[LIGHTGBM]
    scoring = apply_intervals(
        backtest.scoring_frame.with_columns(pl.lit(LIGHTGBM).alias("model")), final_quantiles
    )
    baseline_quantiles = fallback_interval_quantiles(everything)
    costs = series_costs(everything, judged, assumptions, NOMINAL_COVERAGE)
    cost_intervals = {
        **cost_ratio_intervals(costs, LIGHTGBM),
        "segments": segment_cost_intervals(costs, LIGHTGBM),
    }
    seconds["intervals_and_evaluation"] = round(time.perf_counter() - started, 2)
    return TrainingOutcome(
        backtest,
        judged,
        results,
        final_quantiles,
        scoring,
        notes,
        seconds,
        protection_quantiles,
        final_protection_quantile,
        baseline_quantiles,
        cost_intervals,
        zero_day_share(judged),
    )
