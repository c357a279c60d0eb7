"""Forecasts while no version has passed the gate: the cheapest baseline or peer of the backtest.

A company whose model is refused (on the long-tail demo the gate finds the trees no cheaper
than a naive method) still needs a forecast every night to reorder from. Until a version is
champion, `ml.demand_forecast` serves the method that cost least in the newest version's
backtest (four folds and the holdout, the gate's own money) among the platform's baselines and
the peers it can fit on every series (pipeline.FALLBACK_METHODS), with its conformal interval
from that backtest: the method the gate said the model could not beat. Each row says so (role
`fallback`, model_version `fallback:<method>`), and the publication is audited with the reason.
The first champion's forecasts replace it.

At the scoring origin of the feature set, as the backtest defined them:
- seasonal_naive: target day D = origin + h - 1 gets the units recorded on D - 7k, k the
  smallest with D - 7k before the origin (a censored day's units as recorded);
- moving_average_28: the mean units of the uncensored days among the 28 before the origin (a
  day without an event sold nothing), flat; 0 when none of them is known;
- statsforecast ADIDA and CrostonOptimized (lib/training/peers.peer_forecast): fitted on the
  PEER_HISTORY_DAYS days before the origin, zero-filled, censored days imputed as in the
  backtest (whose calibration fold saw as many days; its later folds saw more). Only a
  version registered since 2026-12-04 keeps the peers' intervals; an older one chooses among
  the two baselines. A version registered before the baselines' intervals has no fallback.
The rows are kept in `ml.fallback_forecast` (replaced at each publication; not logged in
`ml.forecast_log`, whose rows are the registered versions' and drive the canary, the live
accuracy and the current period's money).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl

from sme_platform.lib.features.events import EVENTS_TABLE
from sme_platform.lib.release.forecasts import (
    FORECAST_TABLE,
    PUBLISHED_COLUMNS,
    audit_publication,
    published_rows,
)
from sme_platform.lib.release.registry import ModelVersion, list_versions
from sme_platform.lib.training.baselines import MOVING_AVERAGE, SEASONAL_NAIVE
from sme_platform.lib.training.conformal import apply_intervals
from sme_platform.lib.training.forecast_summary import FALLBACK_ROLE
from sme_platform.lib.training.peers import PEER_CHUNK_SERIES, PEER_HISTORY_DAYS, peer_forecast
from sme_platform.lib.training.pipeline import FALLBACK_METHODS
from sme_platform.lib.training.registration import FALLBACK_INTERVALS_KEY
from sme_platform.lib.warehouse import table_exists, transaction

FALLBACK_TABLE = "ml.fallback_forecast"
WINDOW_DAYS = 28
# The columns fallback_forecast returns.
FALLBACK_FORECAST_SCHEMA = {
    "sku": pl.Utf8,
    "location_id": pl.Utf8,
    "origin_date": pl.Date,
    "target_date": pl.Date,
    "horizon": pl.Int64,
    "prediction": pl.Float64,
    "low": pl.Float64,
    "high": pl.Float64,
}


@dataclass(frozen=True)
class FallbackChoice:
    method: str
    version: ModelVersion  # the newest version, whose backtest chose the method
    cost: float  # the method's business cost over the folds and the holdout
    model_cost: float | None  # the version's own, for the reason
    # The newest version that passed the gate and waits (for an approval, or for the release
    # step), if any: a version refused since does not make it the reason no champion serves.
    waiting: ModelVersion | None = None

    @property
    def model_version(self) -> str:
        return f"{FALLBACK_ROLE}:{self.method}"

    @property
    def reason(self) -> str:
        model = f"{self.model_cost:,.0f}" if self.model_cost is not None else "unknown"
        newest = self.version
        return (
            f"{self._why_no_champion()}; serving {self.method}, the cheapest baseline or peer in "
            f"{newest.version}'s backtest (business cost {self.cost:,.0f} over the folds and "
            f"the holdout; {newest.version}: {model})"
        )

    def _why_no_champion(self) -> str:
        waiting = self.waiting
        if waiting is not None:
            if waiting.approved_by is None:
                return (
                    f"{waiting.model_name} {waiting.version} passed the gate and waits for a "
                    f"named approval (sme-platform approve {waiting.model_name} "
                    f"{waiting.version} --by NAME --note TEXT)"
                )
            return (
                f"{waiting.model_name} {waiting.version} is approved and waits for the release step"
            )
        return f"no version of {self.version.model_name} has passed the gate"


def choose_fallback(con: duckdb.DuckDBPyConnection, model_name: str) -> FallbackChoice | None:
    """The baseline to serve from the newest registered version's backtest, or None when there
    is no version, or it predates the stored baseline intervals."""
    versions = list_versions(con, model_name)
    if not versions:
        return None
    newest = max(versions, key=lambda v: v.number)
    intervals = newest.parameters.get(FALLBACK_INTERVALS_KEY) or {}
    costs = dict(
        con.execute(
            """select model, sum(business_cost) from ml.backtest_results
               where model_name = ? and model_version = ? and segment_type = 'overall'
                 and fold <> 'calibration'
               group by model""",
            [model_name, newest.version],
        ).fetchall()
    )
    candidates = [m for m in FALLBACK_METHODS if m in intervals and costs.get(m) is not None]
    if not candidates:
        return None
    method = min(candidates, key=lambda m: (costs[m], m))
    # The gate leaves a high-impact version that passed it a challenger without a canary.
    waiting = [v for v in versions if v.status == "challenger" and v.canary_share is None]
    return FallbackChoice(
        method,
        newest,
        float(costs[method]),
        costs.get("lightgbm"),
        max(waiting, key=lambda v: v.number) if waiting else None,
    )


def fallback_forecast(
    con: duckdb.DuckDBPyConnection,
    choice: FallbackChoice,
    feature_set_version: str,
    horizon_days: int,
) -> pl.DataFrame:
    """The chosen baseline's forecast of every series the feature set scores, with its interval:
    sku, location_id, origin_date, target_date, horizon, prediction, low, high."""
    series = con.execute(
        """select distinct sku, location_id, origin_date from features.demand_features
           where feature_set_version = ? and for_scoring""",
        [feature_set_version],
    ).pl()
    if series.is_empty():
        return pl.DataFrame(schema=FALLBACK_FORECAST_SCHEMA)
    origin: date = series["origin_date"].max()
    con.register("_fallback_series", series.select("sku", "location_id").to_arrow())
    try:
        events = con.execute(
            # One row per series and day, as features.demand_targets sums them.
            f"""select e.sku, e.location_id, (? - e.date)::bigint as age,
                       sum(e.units)::double as units, bool_and(e.censored) as censored
                from {EVENTS_TABLE} e
                semi join _fallback_series s using (sku, location_id)
                where e.date >= ? and e.date < ?
                group by all""",
            [origin, origin - timedelta(days=WINDOW_DAYS), origin],
        ).pl()
    finally:
        con.unregister("_fallback_series")
    horizons = pl.DataFrame(
        {"horizon": list(range(1, horizon_days + 1))}, schema={"horizon": pl.Int64}
    )
    frame = series.join(horizons, how="cross").with_columns(
        target_date=pl.col("origin_date") + pl.duration(days=pl.col("horizon") - 1)
    )
    if choice.method not in (SEASONAL_NAIVE, MOVING_AVERAGE):
        # In chunks of series, to bound memory (lib/training/peers, PEER_CHUNK_SERIES).
        keys = series.select("sku", "location_id").unique().sort("sku", "location_id")
        peers = pl.concat(
            [
                peer_forecast(
                    _dense_history(con, chunk, origin), origin, choice.method, horizon_days
                )
                for chunk in keys.iter_slices(PEER_CHUNK_SERIES)
            ]
        )
        frame = frame.join(peers, on=["sku", "location_id", "horizon"], how="left").with_columns(
            # A series with no day in the window: 0, as the backtest gives it.
            pl.col("prediction").fill_null(0.0)
        )
    elif choice.method == SEASONAL_NAIVE:
        # Source day D - 7k, k = 1 for horizons 1-7, 2 for 8-14: its age before the origin.
        frame = frame.with_columns(
            age=(((pl.col("horizon") - 1) // 7 + 1) * 7 - pl.col("horizon") + 1).cast(pl.Int64)
        ).join(
            events.select("sku", "location_id", pl.col("age").cast(pl.Int64), "units"),
            on=["sku", "location_id", "age"],
            how="left",
        )
        frame = frame.with_columns(prediction=pl.col("units").fill_null(0.0))
    else:
        window = events.group_by("sku", "location_id").agg(
            sold=pl.col("units").filter(~pl.col("censored")).sum(),
            censored_days=pl.col("censored").sum(),
        )
        frame = frame.join(window, on=["sku", "location_id"], how="left").with_columns(
            known=WINDOW_DAYS - pl.col("censored_days").fill_null(0)
        )
        frame = frame.with_columns(
            prediction=pl.when(pl.col("known") > 0)
            .then(pl.col("sold").fill_null(0.0) / pl.col("known"))
            .otherwise(0.0)
        )
    quantiles = pl.DataFrame(choice.version.parameters[FALLBACK_INTERVALS_KEY][choice.method])
    judged = apply_intervals(
        frame.with_columns(pl.lit(choice.method).alias("model")), quantiles, scaled=True
    )
    return judged.select(list(FALLBACK_FORECAST_SCHEMA)).sort("sku", "location_id", "horizon")


def _dense_history(
    con: duckdb.DuckDBPyConnection, series: pl.DataFrame, origin: date
) -> pl.DataFrame:
    """The series' daily units over the PEER_HISTORY_DAYS days before the origin, a day without
    an event sold nothing: sku, location_id, date, units, censored (the peers' history)."""
    con.register("_peer_series", series.select("sku", "location_id").unique().to_arrow())
    try:
        return con.execute(
            f"""with days as (
                    select unnest(generate_series($first, $last, interval 1 day))::date as date
                ),
                daily as (
                    select e.sku, e.location_id, e.date, sum(e.units)::double as units,
                           bool_and(e.censored) as censored
                    from {EVENTS_TABLE} e semi join _peer_series s using (sku, location_id)
                    where e.date between $first and $last
                    group by all
                )
                select s.sku, s.location_id, days.date, coalesce(d.units, 0)::double as units,
                       coalesce(d.censored, false) as censored
                from _peer_series s cross join days
                left join daily d
                    on d.sku = s.sku and d.location_id = s.location_id and d.date = days.date
                order by 1, 2, 3""",
            {
                "first": origin - timedelta(days=PEER_HISTORY_DAYS),
                "last": origin - timedelta(days=1),
            },
        ).pl()
    finally:
        con.unregister("_peer_series")


def publish_fallback(
    con: duckdb.DuckDBPyConnection,
    choice: FallbackChoice,
    feature_set_version: str,
    horizon_days: int,
    run_id: str,
) -> pl.DataFrame:
    """The fallback forecast written to ml.fallback_forecast, ml.demand_forecast (a view)
    pointed at it, the publication audited; returns the published rows."""
    forecast = fallback_forecast(con, choice, feature_set_version, horizon_days)
    scored_at = datetime.now(UTC).replace(tzinfo=None)
    rows = (
        published_rows(forecast, choice.model_version, FALLBACK_ROLE)
        .with_columns(
            pl.lit(choice.version.model_name).alias("model_name"),
            pl.lit(feature_set_version).alias("feature_set_version"),
            pl.lit(run_id).alias("run_id"),
            pl.lit(scored_at).alias("scored_at"),
        )
        .select(PUBLISHED_COLUMNS)
    )
    schema, table = FORECAST_TABLE.split(".")
    con.execute(f"create schema if not exists {schema}")
    con.register("_fallback_rows", rows.to_arrow())
    try:
        with transaction(con):
            con.execute(f"create or replace table {FALLBACK_TABLE} as select * from _fallback_rows")
            if table_exists(con, schema, table, base_table_only=True):
                con.execute(f"drop table {FORECAST_TABLE}")
            con.execute(
                f"create or replace view {FORECAST_TABLE} as select * from {FALLBACK_TABLE}"
            )
            audit_publication(
                con,
                run_id,
                {
                    "model_name": choice.version.model_name,
                    "model_version": choice.model_version,
                    "reason": f"{rows.height:,} fallback forecast rows for "
                    f"{rows.select('sku', 'location_id').n_unique():,} series: {choice.reason}",
                    "details": {
                        "feature_set_version": feature_set_version,
                        "method": choice.method,
                    },
                },
            )
    finally:
        con.unregister("_fallback_rows")
    return rows
