"""The platform's own health over time: how fast the forecasts are scored, and how much of each
source's data is quarantined or rejected and which checks fail, per day.

- monitoring.scoring_latency: one row per publication of the forecasts (rows, seconds, rows per
  second, per version scored), appended once per publishing run;
- monitoring.data_quality_daily: per day a load ran and per source, rows read, quarantined (and
  the share), files loaded and rejected (rebuilt from raw.loads each night);
- monitoring.check_failures_daily: per day and stage, checks run and failed, and which
  (rebuilt from governance.check_results each night).
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import polars as pl

from sme_platform.lib.monitoring.tables import append_rows
from sme_platform.lib.warehouse import table_exists

LATENCY_TABLE = "monitoring.scoring_latency"
DATA_QUALITY_TABLE = "monitoring.data_quality_daily"
CHECK_FAILURES_TABLE = "monitoring.check_failures_daily"


def record_scoring_latency(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    publishing_run: str,
    rows: int,
    seconds_per_version: dict[str, float],
) -> bool:
    """Append the publication's latency unless that run's is recorded already (the monitoring
    also runs after a retraining run that published nothing new). True when appended."""
    if table_exists(con, "monitoring", "scoring_latency"):
        known = con.execute(
            f"select count(*) from {LATENCY_TABLE} where run_id = ?", [publishing_run]
        ).fetchone()[0]
        if known:
            return False
    seconds = sum(seconds_per_version.values())
    append_rows(
        con,
        LATENCY_TABLE,
        pl.DataFrame(
            [
                {
                    "run_id": publishing_run,
                    "model_name": model_name,
                    "versions": ", ".join(sorted(seconds_per_version)),
                    "rows": rows,
                    "seconds": round(seconds, 3),
                    "rows_per_second": rows / seconds if seconds else None,
                    "recorded_at": datetime.now(UTC).replace(tzinfo=None),
                }
            ],
            schema={
                "run_id": pl.String(),
                "model_name": pl.String(),
                "versions": pl.String(),
                "rows": pl.Int64(),
                "seconds": pl.Float64(),
                "rows_per_second": pl.Float64(),
                "recorded_at": pl.Datetime("us"),
            },
        ),
    )
    return True


def refresh_quality_trends(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rebuild the two daily trend tables from the load and check history; rows per table."""
    con.execute("create schema if not exists monitoring")
    counts = {}
    if table_exists(con, "raw", "loads"):
        con.execute(
            f"""create or replace table {DATA_QUALITY_TABLE} as
                select started_at::date as day, table_name as source,
                       sum(rows_read)::bigint as rows_read,
                       sum(rows_quarantined)::bigint as rows_quarantined,
                       sum(rows_quarantined) / nullif(sum(rows_read), 0)::double
                           as quarantine_share,
                       sum(files_new)::bigint as files_loaded,
                       sum(files_rejected)::bigint as files_rejected
                from raw.loads group by all order by day, source"""
        )
        counts[DATA_QUALITY_TABLE] = _rows(con, DATA_QUALITY_TABLE)
    if table_exists(con, "governance", "check_results"):
        con.execute(
            f"""create or replace table {CHECK_FAILURES_TABLE} as
                select checked_at::date as day, split_part(asset, '/', 1) as stage,
                       count(*)::bigint as checks_run,
                       count(*) filter (where not passed)::bigint as failed,
                       coalesce(string_agg(distinct asset || ':' || check_name, ', '
                                           order by asset || ':' || check_name)
                                filter (where not passed), '') as failing
                from governance.check_results group by all order by day, stage"""
        )
        counts[CHECK_FAILURES_TABLE] = _rows(con, CHECK_FAILURES_TABLE)
    return counts


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"select count(*) from {table}").fetchone()[0]
