"""The money of the current period: ordering from the forecasts the platform published, against
ordering from the cheapest baseline or peer, on the days that have since been sold.

The baseline period is the backtest a champion was released on (lib/dashboard/data.py). The
current period is live: every published forecast (ml.forecast_log, the roles that drove orders:
the champion's, and the canary's on its series) whose lead time and review period have passed,
one origin per review period (an order is placed once per review period), the newest
`MAX_ORIGINS` of them. Each is simulated with the same reorder policy as the backtest
(lib/training/business.py): the served version's calibrated safety stock, and for each
alternative, computed at the same origins from the sales known before them, the safety stock the
serving version's backtest calibrated for it. The alternatives are the seasonal naive and the
28-day mean, and statsforecast ADIDA and CrostonOptimized where the version's backtest recorded
their safety stock (fitted on the PEER_HISTORY_DAYS before each origin, censored days imputed
as in the backtest, in chunks of series); the saving is against the cheapest of them. Each
origin's money is kept between nights and priced again only when what it read changed
(lib/monitoring/live_roi_cache).
Until 2026-12-04 the peers were not run here, and the saving was against the cheaper naive
baseline, which overstates it where a peer is cheaper. Prices and costs are those of the
feature rows the forecast was made from (a series without them takes the assumed defaults, as in
the backtest).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl

from sme_platform.lib.features.events import actuals_ctes
from sme_platform.lib.monitoring.live_roi_cache import (
    cached_costs,
    code_version,
    origin_stamp,
    stamp_window,
    store_costs,
)
from sme_platform.lib.monitoring.tables import append_rows
from sme_platform.lib.release.logged_forecasts import (
    FORECAST_LOG,
    one_per_review_period,
    simulation_frame,
)
from sme_platform.lib.release.registry import list_versions
from sme_platform.lib.training.baselines import (
    MOVING_AVERAGE,
    SEASONAL_NAIVE,
    moving_average,
    seasonal_naive,
)
from sme_platform.lib.training.business import BusinessAssumptions
from sme_platform.lib.training.evaluate import evaluate
from sme_platform.lib.training.peers import (
    ADIDA_MODEL,
    CROSTON,
    PEER_CHUNK_SERIES,
    PEER_HISTORY_DAYS,
    statsforecast_peers,
)
from sme_platform.lib.training.pipeline import NOMINAL_COVERAGE
from sme_platform.lib.warehouse import table_exists

IMPACT_TABLE = "monitoring.business_impact"
MAX_ORIGINS = 8
SERVED_ROLES = ("champion", "canary")
BASELINES = (SEASONAL_NAIVE, MOVING_AVERAGE)
PEERS = (ADIDA_MODEL, CROSTON)
# The baselines look back 28 days (the mean) and a week (the seasonal naive) from an origin.
LOOKBACK_DAYS = 35


@dataclass(frozen=True)
class LiveRoi:
    first_origin: date | None
    last_day: date | None  # the newest day simulated
    origins: int
    series: int
    served_cost: float | None
    baseline: str | None  # the cheapest alternative (baseline or peer) over the period
    baseline_cost: float | None
    versions: tuple[str, ...]  # the versions whose forecasts were served
    missing: str | None  # why there is no current period yet

    @property
    def saving(self) -> float | None:
        if self.served_cost is None or self.baseline_cost is None:
            return None
        return self.baseline_cost - self.served_cost


def live_roi(
    con: duckdb.DuckDBPyConnection, model_name: str, assumptions: BusinessAssumptions
) -> LiveRoi:
    days = assumptions.order_cycle_days
    if not table_exists(con, "ml", "forecast_log"):
        return _none("no forecast published yet")
    newest = con.execute("select max(order_date) from staging.sales_lines").fetchone()[0]
    origins = _origins(con, model_name, newest, days, assumptions.review_period_days)
    if not origins:
        return _none(
            f"no published forecast has {days} days of sales after it yet (lead time "
            f"{assumptions.lead_time_days} + review period {assumptions.review_period_days})"
        )
    served = _served(con, model_name, origins, days)
    covered = served.group_by("sku", "location_id", "origin_date").agg(pl.len())["len"].min()
    if covered < days:
        return _none(
            f"the published forecasts cover {covered} days, fewer than the lead time and review "
            f"period ({days}) an order is simulated over"
        )
    order = [v.version for v in list_versions(con, model_name)]
    versions = tuple(sorted(served.get_column("model").unique(), key=order.index))
    quantiles = _protection_quantiles(con, model_name, versions)
    if any(quantiles.get(b) is None for b in BASELINES):
        return _none(
            f"the served version {versions[-1]} was trained before the baselines' safety stock "
            "was recorded: the current period starts with the next version"
        )
    peers = tuple(p for p in PEERS if quantiles.get(p) is not None)
    history: pl.DataFrame | None = None  # read once, when an origin has to be priced
    settings = {"assumptions": assumptions.model_dump(), "code": code_version()}
    cost: dict[str, float] = {}
    # One simulation per served version and origin (a canary serves some series): every method
    # on the same series as that version's forecasts there; kept between nights by its stamp.
    by_order = served.partition_by("model", "origin_date", as_dict=True)
    for (version, origin), rows in by_order.items():
        protection = {
            version: quantiles[version],
            **{m: quantiles[m] for m in (*BASELINES, *peers)},
        }
        if protection[version] is None:
            del protection[version]  # a version without one orders from its interval
        first_day, last_day = stamp_window(origin, PEER_HISTORY_DAYS, days)
        stamp = origin_stamp(
            con, rows, origin, first_day, last_day, {**settings, "protection": protection}
        )
        methods = (version, *BASELINES, *peers)
        costs = cached_costs(con, model_name, version, origin, stamp, methods)
        if costs is None:
            if history is None:
                history = _history(con, served, origins[0] - timedelta(days=LOOKBACK_DAYS), newest)
            costs = _origin_costs(
                con, rows, origin, history, peers, protection, assumptions, newest
            )
            store_costs(con, model_name, version, origin, stamp, costs)
        for model, value in costs.items():
            cost[model] = cost.get(model, 0.0) + value
    baseline = min((*BASELINES, *peers), key=lambda b: (cost[b], b))
    return LiveRoi(
        origins[0],
        origins[-1] + timedelta(days=days - 1),
        len(origins),
        served.select("sku", "location_id").n_unique(),
        sum(cost[v] for v in versions),
        baseline,
        cost[baseline],
        versions,
        None,
    )


def _origin_costs(
    con,
    rows: pl.DataFrame,
    origin: date,
    history: pl.DataFrame,
    peers: tuple[str, ...],
    protection: dict,
    assumptions: BusinessAssumptions,
    newest: date,
) -> dict[str, float]:
    """The money of the served version's order at `origin` and of every alternative's, on its
    series: the baselines from `history`, the peers fitted on the PEER_HISTORY_DAYS before it."""
    days = assumptions.order_cycle_days
    keys = rows.select("sku", "location_id").unique()
    attributes = rows.select("sku", "location_id", "category", "unit_price", "unit_cost").unique(
        ["sku", "location_id"]
    )
    fold = [(_fold(origin), origin)]
    frames = [rows]
    for method in (seasonal_naive, moving_average):
        frames.append(method(history, fold, keys, days, attributes=attributes))
    if peers:
        frames += _peer_frames(con, rows, peers, days, origin, newest)
    results = evaluate(frames, assumptions, NOMINAL_COVERAGE, protection)
    overall = results.filter(pl.col("segment_type") == "overall")
    return dict(overall.group_by("model").agg(pl.col("business_cost").sum()).rows())


def _none(reason: str) -> LiveRoi:
    return LiveRoi(None, None, 0, 0, None, None, None, (), reason)


def _fold(origin: date) -> str:
    return f"live {origin}"


def _origins(con, model_name: str, newest: date, days: int, review_days: int) -> list[date]:
    """Published origins whose simulated days have all been sold, one per review period from the
    first, the newest MAX_ORIGINS."""
    published = [
        row[0]
        for row in con.execute(
            f"""select distinct origin_date from {FORECAST_LOG}
                where model_name = ? and role in {SERVED_ROLES}
                  and origin_date + {days - 1} <= ?
                order by 1""",
            [model_name, newest],
        ).fetchall()
    ]
    return one_per_review_period(published, review_days)[-MAX_ORIGINS:]


def _served(con, model_name: str, origins: list[date], days: int) -> pl.DataFrame:
    """The forecasts that drove orders at each origin (the last publication of it, when a night
    was run twice), with their actuals and the series' price and cost at the origin."""
    return simulation_frame(
        con,
        f"""select * from {FORECAST_LOG}
            where model_name = $model and role in {SERVED_ROLES} and origin_date in $origins
              and horizon <= {days}
            qualify scored_at = max(scored_at) over (partition by origin_date, sku, location_id)""",
        "live",
        {"model": model_name, "origins": origins},
    )


def _history(con, served: pl.DataFrame, first_day: date, last_day: date) -> pl.DataFrame:
    """The served series' daily units and censoring over the baselines' lookback and the
    simulated days, every day present (a day without a sale is 0, or censored when stocked
    out)."""
    con.register("_live_series", served.select("sku", "location_id").unique().to_arrow())
    try:
        return con.execute(
            f"""
            with {actuals_ctes(con)},
            days as (
                select unnest(generate_series($first::date, $last::date, interval 1 day))::date
                    as date
            )
            select series.sku, series.location_id, days.date,
                   coalesce(a.units, 0)::double as units,
                   s.sku is not null and a.units is null as censored
            from _live_series as series cross join days
            left join actuals as a using (sku, location_id, date)
            left join stock_outs as s using (sku, location_id, date)
            order by 1, 2, 3
            """,
            {"first": first_day, "last": last_day},
        ).pl()
    finally:
        con.unregister("_live_series")


def _protection_quantiles(con, model_name: str, versions: tuple[str, ...]) -> dict:
    """Each served version's own safety-stock quantile, and the alternatives' from the newest
    served version's backtest (a peer's None where it recorded none)."""
    by_version = {v.version: v for v in list_versions(con, model_name) if v.version in versions}
    quantiles = {v: by_version[v].parameters.get("protection_quantile") for v in versions}
    methods = by_version[versions[-1]].parameters.get("method_protection_quantiles") or {}
    return {**quantiles, **{m: methods.get(m) for m in (*BASELINES, *PEERS)}}


def _peer_frames(
    con,
    rows: pl.DataFrame,
    peers: tuple[str, ...],
    days: int,
    first_origin: date,
    newest: date,
) -> list[pl.DataFrame]:
    """The peers' forecast frames at every origin of `rows` (one served version's), on its
    series, in chunks of PEER_CHUNK_SERIES series (lib/training/peers: memory)."""
    first_day = first_origin - timedelta(days=PEER_HISTORY_DAYS)
    keys = rows.select("sku", "location_id").unique().sort("sku", "location_id")
    frames = []
    for chunk in keys.iter_slices(PEER_CHUNK_SERIES):
        chunk_rows = rows.join(chunk, on=["sku", "location_id"], how="semi")
        history = _history(con, chunk_rows, first_day, newest)
        for (origin,), at_origin in chunk_rows.partition_by("origin_date", as_dict=True).items():
            series = at_origin.select(
                "sku", "location_id", "category", "unit_price", "unit_cost"
            ).unique(["sku", "location_id"])
            fitted = statsforecast_peers(
                history.filter(pl.col("date") < origin + timedelta(days=days)),
                [(_fold(origin), origin)],
                series.select("sku", "location_id"),
                days,
                attributes=series,
                autoets_series=0,
            )
            frames.append(fitted.forecasts.filter(pl.col("model").is_in(peers)))
    return frames


def record_impact(
    con: duckdb.DuckDBPyConnection, model_name: str, roi: LiveRoi, run_id: str
) -> None:
    """One row per monitoring run in monitoring.business_impact (the dashboard shows the newest;
    the history shows how the saving moved)."""
    row = {
        **asdict(roi),
        "versions": ", ".join(roi.versions),
        "saving": roi.saving,
        "model_name": model_name,
        "run_id": run_id,
        "created_at": datetime.now(UTC).replace(tzinfo=None),
    }
    schema = {
        "first_origin": pl.Date(),
        "last_day": pl.Date(),
        "origins": pl.Int64(),
        "series": pl.Int64(),
        "served_cost": pl.Float64(),
        "baseline": pl.String(),
        "baseline_cost": pl.Float64(),
        "versions": pl.String(),
        "missing": pl.String(),
        "saving": pl.Float64(),
        "model_name": pl.String(),
        "run_id": pl.String(),
        "created_at": pl.Datetime("us"),
    }
    append_rows(con, IMPACT_TABLE, pl.DataFrame([row], schema=schema))


def latest_impact(con: duckdb.DuckDBPyConnection, model_name: str) -> dict | None:
    if not table_exists(con, "monitoring", "business_impact"):
        return None
    frame = con.execute(
        f"select * from {IMPACT_TABLE} where model_name = ? order by created_at desc limit 1",
        [model_name],
    ).pl()
    return frame.row(0, named=True) if frame.height else None
