"""The canary's money: the challenger's and the champion's forecasts of the canary series, each
ordered from with the reorder policy of the backtest (lib/training/business: the version's own
calibrated safety stock), over the order cycles whose sales have all arrived.

An order cycle is an origin and the lead time and review period after it (the days an order
placed at the origin must cover); one origin per review period from the canary's first, as
orders are placed, and only origins where both versions forecast the same series. Until one
cycle has been sold there is no money to compare, and the canary waits: a canary judged on
seven days of WAPE could be promoted for forecasting fewer units, the trap the gate ranks by
money to avoid. Prices and costs are those of the feature rows the forecasts were made from
(a series without them takes the assumed defaults, as in the backtest). Each version's cost is
summed per series, so the comparison carries a bootstrap interval over the series as the
gate's does (lib/training/cost_uncertainty).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import polars as pl

from sme_platform.lib.release.logged_forecasts import (
    FORECAST_LOG,
    one_per_review_period,
    simulation_frame,
)
from sme_platform.lib.release.registry import ModelVersion
from sme_platform.lib.training.business import BusinessAssumptions, simulate_series
from sme_platform.lib.training.conformal import NOMINAL_COVERAGE
from sme_platform.lib.training.cost_uncertainty import ratio_interval
from sme_platform.lib.training.history import SERIES_KEYS


@dataclass(frozen=True)
class CanaryCost:
    canary: float | None
    champion: float | None
    interval: dict | None  # cost_uncertainty.ratio_interval of the canary against the champion
    origins: tuple[date, ...]
    cycle_days: int
    series: int
    waiting: str | None  # why no cycle can be compared yet


def canary_cost(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    challenger: ModelVersion,
    current: ModelVersion,
    assumptions: BusinessAssumptions,
) -> CanaryCost:
    days = assumptions.order_cycle_days
    newest = con.execute("select max(order_date) from staging.sales_lines").fetchone()[0]
    versions = (challenger.version, current.version)
    origins = _cycle_origins(con, model_name, versions, newest, days, assumptions)
    if not origins:
        return CanaryCost(
            None,
            None,
            None,
            (),
            days,
            0,
            f"no order cycle of the canary has been sold yet: an order covers {days} days "
            f"(lead time {assumptions.lead_time_days} + review period "
            f"{assumptions.review_period_days}) after its origin, and the newest sale is of "
            f"{newest}",
        )
    frame = _paired_cycles(_logged(con, model_name, versions, origins, days), versions, days)
    if frame.is_empty():
        return CanaryCost(
            None,
            None,
            None,
            (),
            days,
            0,
            f"the canary's and the champion's forecasts of the canary series cover no whole "
            f"order cycle of {days} days at the same origins ({', '.join(map(str, origins))})",
        )
    protection = {
        v.version: v.parameters.get("protection_quantile")
        for v in (challenger, current)
        if v.parameters.get("protection_quantile") is not None
    }
    simulated = simulate_series(frame, assumptions, NOMINAL_COVERAGE, protection)
    per_series = (
        simulated.with_columns(cost=pl.col("lost_margin") + pl.col("holding_cost"))
        .pivot(on="model", index=SERIES_KEYS, values="cost", aggregate_function="sum")
        .fill_null(0.0)
        .sort(SERIES_KEYS)
    )
    ours = per_series[challenger.version].to_numpy()
    theirs = per_series[current.version].to_numpy()
    return CanaryCost(
        float(np.sum(ours)),
        float(np.sum(theirs)),
        ratio_interval(ours, theirs),
        tuple(sorted(frame["origin_date"].unique())),
        days,
        per_series.height,
        None,
    )


def _cycle_origins(
    con, model_name: str, versions: tuple[str, str], newest: date, days: int, assumptions
) -> list[date]:
    """The canary's origins whose order cycle has been sold, one per review period from its
    first (as orders are placed), both versions logged there."""
    logged = [
        row[0]
        for row in con.execute(
            f"""select origin_date from {FORECAST_LOG}
                where model_name = ? and canary_series and model_version in (?, ?)
                  and origin_date + {days - 1} <= ?
                group by origin_date having count(distinct model_version) = 2
                order by 1""",
            [model_name, *versions, newest],
        ).fetchall()
    ]
    return one_per_review_period(logged, assumptions.review_period_days)


def _logged(con, model_name: str, versions, origins: list[date], days: int) -> pl.DataFrame:
    """Both versions' forecasts of the canary series at `origins` (the last scoring of an origin,
    when a night was run twice), with their actuals, censoring and the series' price and cost."""
    return simulation_frame(
        con,
        f"""select * from {FORECAST_LOG}
            where model_name = $model and canary_series and model_version in $versions
              and origin_date in $origins and horizon <= {days}
            qualify scored_at = max(scored_at)
                over (partition by model_version, origin_date, sku, location_id)""",
        "canary",
        {"model": model_name, "versions": list(versions), "origins": origins},
    )


def _paired_cycles(frame: pl.DataFrame, versions, days: int) -> pl.DataFrame:
    """The series and origins both versions forecast over the whole cycle."""
    complete = (
        frame.group_by("model", *SERIES_KEYS, "origin_date")
        .agg(pl.col("horizon").n_unique().alias("horizons"))
        .filter(pl.col("horizons") == days)
        .group_by(*SERIES_KEYS, "origin_date")
        .agg(pl.col("model").n_unique().alias("versions"))
        .filter(pl.col("versions") == len(versions))
        .select(*SERIES_KEYS, "origin_date")
    )
    return frame.join(complete, on=[*SERIES_KEYS, "origin_date"], how="semi")
