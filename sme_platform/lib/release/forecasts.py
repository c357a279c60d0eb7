"""The published batch forecasts, ml.demand_forecast: the champion's for every active series,
the canary challenger's for its share of them, replaced atomically after each scoring (a view
of the newest scoring in the log).

Every forecast published is also appended to ml.forecast_log, with the champion's forecast of
each canary series beside the challenger's, so the canary can be compared with the champion on
the same days and series once their actuals arrive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from sme_platform.lib.audit.log import record_event, run_actor
from sme_platform.lib.release.canary import canary_series
from sme_platform.lib.release.flow import FORECAST_LOG, canary_challenger
from sme_platform.lib.release.registry import ModelVersion, champion
from sme_platform.lib.training.scoring import load_registered, score
from sme_platform.lib.warehouse import quote_literal, table_exists, transaction

FORECAST_TABLE = "ml.demand_forecast"
SERIES = ["sku", "location_id"]
PUBLISHED_COLUMNS = [
    "sku",
    "location_id",
    "origin_date",
    "date",
    "horizon",
    "prediction",
    "interval_low",
    "interval_high",
    "model_name",
    "model_version",
    "role",
    "feature_set_version",
    "run_id",
    "scored_at",
]


class NoChampion(RuntimeError):
    pass


@dataclass
class Publication:
    rows: int
    series: int
    champion_version: str
    canary_version: str | None
    canary_series: int
    rows_per_second: float
    batch_seconds: dict = field(default_factory=dict)


def publish_forecasts(
    con: duckdb.DuckDBPyConnection,
    models_dir: Path,
    model_name: str,
    feature_set_version: str,
    years: list[int],
    run_id: str,
) -> Publication:
    current = champion(con, model_name)
    if current is None:
        raise NoChampion(
            f"{model_name} has no champion: no version has passed the gate yet, so there is "
            "nothing to publish (see the promotion_gate check of release/demand_forecast_release)"
        )
    batches = {current.version: _score(con, models_dir, current, feature_set_version, years)}
    published = published_rows(batches[current.version].forecast, current.version, "champion")
    logged = published
    challenger = canary_challenger(con, model_name)
    canary = published.head(0).select("sku", "location_id")
    if challenger is not None:
        canary = (
            canary_series(
                published.select("sku", "location_id").unique(),
                challenger.canary_share,
                f"{model_name}:{challenger.version}",
            )
            .filter(pl.col("canary"))
            .select("sku", "location_id")
        )
        batches[challenger.version] = _score(
            con, models_dir, challenger, feature_set_version, years
        )
        canary_rows = published_rows(
            batches[challenger.version].forecast, challenger.version, "canary"
        ).join(canary, on=SERIES, how="semi")
        # The champion's forecast of a canary series is logged beside the challenger's, so the
        # two can be compared on the same days once the actuals arrive.
        shadow = published.join(canary, on=SERIES, how="semi").with_columns(
            pl.lit("champion_shadow").alias("role")
        )
        published = pl.concat([published.join(canary, on=SERIES, how="anti"), canary_rows])
        logged = pl.concat([published, shadow])
    scored_at = datetime.now(UTC).replace(tzinfo=None)
    identity = [
        pl.lit(model_name).alias("model_name"),
        pl.lit(feature_set_version).alias("feature_set_version"),
        pl.lit(run_id).alias("run_id"),
        pl.lit(scored_at).alias("scored_at"),
    ]
    published = published.with_columns(identity).select(PUBLISHED_COLUMNS)
    logged = logged.with_columns(identity).select(PUBLISHED_COLUMNS)
    published_event = {
        "model_name": model_name,
        "model_version": current.version,
        "reason": f"{published.height:,} forecast rows published for "
        f"{published.select(SERIES).n_unique():,} series",
        "details": {
            "feature_set_version": feature_set_version,
            "canary_version": challenger.version if challenger else None,
            "canary_series": canary.height,
        },
    }
    _replace_and_log(con, logged, canary, run_id, scored_at, published_event)
    rows = sum(batch.rows for batch in batches.values())
    seconds = sum(batch.seconds for batch in batches.values())
    return Publication(
        published.height,
        published.select(SERIES).n_unique(),
        current.version,
        challenger.version if challenger else None,
        canary.height,
        rows / seconds if seconds else 0.0,
        {version: round(batch.seconds, 3) for version, batch in batches.items()},
    )


def _score(con, models_dir: Path, version: ModelVersion, feature_set_version: str, years):
    loaded = load_registered(con, models_dir, version.model_name, version.version)
    return score(con, loaded, feature_set_version, "for_scoring", years)


def audit_publication(con: duckdb.DuckDBPyConnection, run_id: str, event: dict) -> None:
    """The audit entry of a publication of ml.demand_forecast: `event` holds model_name,
    model_version, reason and details."""
    record_event(
        con,
        event="published",
        subject="asset:ml/demand_forecast",
        actor=run_actor(run_id),
        run_id=run_id,
        **event,
    )


def published_rows(forecast: pl.DataFrame, version: str, role: str) -> pl.DataFrame:
    """A scoring's forecast frame (target_date, low, high) in the published columns, without the
    run's identity."""
    return forecast.select(
        "sku",
        "location_id",
        "origin_date",
        pl.col("target_date").alias("date"),
        "horizon",
        "prediction",
        pl.col("low").alias("interval_low"),
        pl.col("high").alias("interval_high"),
        pl.lit(version).alias("model_version"),
        pl.lit(role).alias("role"),
    )


def _replace_and_log(
    con: duckdb.DuckDBPyConnection,
    log: pl.DataFrame,
    canary: pl.DataFrame,
    run_id: str,
    scored_at: datetime,
    published_event: dict,
) -> None:
    """Append the scoring to the log and point ml.demand_forecast at it: a view of the log's
    rows of this scoring (the shadow rows aside), so the forecasts are written once, not twice
    (1 s of a night at medium scale); the log's newest row groups hold them, which DuckDB
    finds by their run id and time without reading the older ones."""
    con.execute("create schema if not exists ml")
    con.register("_logged", log.to_arrow())
    con.register("_canary", canary.to_arrow())
    canary_series = "_canary.sku is not null" if canary.height else "false"
    try:
        con.execute(
            f"create table if not exists {FORECAST_LOG} as select *, false as canary_series "
            "from _logged where false"
        )
        with transaction(con):
            con.execute(
                f"""insert into {FORECAST_LOG} by name
                    select _logged.*, {canary_series} as canary_series
                    from _logged left join _canary using (sku, location_id)"""
            )
            # A warehouse from before the view holds the forecasts as a table.
            if table_exists(con, "ml", "demand_forecast", base_table_only=True):
                con.execute(f"drop table {FORECAST_TABLE}")
            con.execute(
                f"""create or replace view {FORECAST_TABLE} as
                    select {", ".join(PUBLISHED_COLUMNS)} from {FORECAST_LOG}
                    where run_id = {quote_literal(run_id)}
                    and scored_at = timestamp '{scored_at:%Y-%m-%d %H:%M:%S.%f}'
                    and role <> 'champion_shadow'"""
            )
            audit_publication(con, run_id, published_event)
    finally:
        for name in ("_logged", "_canary"):
            con.unregister(name)
