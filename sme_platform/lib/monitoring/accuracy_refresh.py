"""The live accuracy table refreshed over the days that changed, not rebuilt every night.

`monitoring.forecast_accuracy` was rebuilt from the whole forecast log each night, so monitoring
cost grew with the days a model had served: at medium scale 6 s with 3 nights of forecasts
logged (3.1M rows), 94 s with 63 nights (49M rows). A day's accuracy depends only on the
forecasts logged for that day, that day's sales and stock-outs, the products' categories, and
whether the day is judged yet (not after the newest day sold). A night recomputes the days
- the staging tables it reads (sales lines, inventory snapshots) were rebuilt over since the
  last refresh: their ranges in governance.model_builds (new, late, replaced, withdrawn files);
- between the last refresh's newest day sold and tonight's (newly judged, or no longer);
- of forecasts logged since the last refresh that are already judged.
Everything is recomputed when there is no record, this code changed, the products (categories)
were rebuilt, a staging table was rebuilt in full, logged forecasts disappeared, or the run is a
full refresh. Rows and record change in one transaction. A test of random nights (new, late and
replaced files, forecasts logged every night) holds the refreshed table equal to a rebuild.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl

from sme_platform.lib.code_version import closure_hash
from sme_platform.lib.day_refresh import DayRefresh, builds_consumed, days_rebuilt_since
from sme_platform.lib.features import events
from sme_platform.lib.monitoring import forecast_monitoring
from sme_platform.lib.monitoring.forecast_monitoring import ACCURACY_TABLE, accuracy_rows
from sme_platform.lib.monitoring.tables import append_rows
from sme_platform.lib.sql_models.incremental import (
    DayRange,
    describe_ranges,
    merge_ranges,
    range_predicate,
)
from sme_platform.lib.warehouse import table_exists, transaction

REFRESHES_TABLE = "monitoring.forecast_accuracy_refreshes"
# Read day by day: their incremental builds say which days changed.
READS = ("staging.sales_lines", "staging.inventory_snapshots")
# Read whole (a product's category is every day's segment): any build recomputes everything.
READS_WHOLE = ("staging.products",)
_BEFORE_ANY_FORECAST = datetime(1970, 1, 1)


def accuracy_code_version() -> str:
    """This refresh, the accuracy rows and the events' actuals, with what they import."""
    packages = ("sme_platform.lib.monitoring", "sme_platform.lib.features")
    return closure_hash(forecast_monitoring, events, sys.modules[__name__], within=packages)


def refresh_forecast_accuracy(
    con: duckdb.DuckDBPyConnection, model_name: str, run_id: str, *, full_refresh: bool = False
) -> DayRefresh:
    """Bring the model's rows of monitoring.forecast_accuracy up to the forecast log and the
    staging tables (see the module)."""
    if not table_exists(con, "ml", "forecast_log"):
        return DayRefresh("unchanged", (), "no forecast logged yet", 0)
    con.execute("create schema if not exists monitoring")
    _ensure_refreshes_table(con)
    code_version = accuracy_code_version()
    consumed = builds_consumed(con, (*READS, *READS_WHOLE))
    newest = con.execute("select max(order_date) from staging.sales_lines").fetchone()[0]
    log_scored_at, log_rows = con.execute(
        "select max(scored_at), count(*) from ml.forecast_log where model_name = ?", [model_name]
    ).fetchone()
    with transaction(con):
        ranges, reason = _changed_days(con, model_name, code_version, newest, full_refresh)
        if ranges is None:
            rows = accuracy_rows(con, model_name)
            _replace(con, model_name, "true", rows)
            refresh = DayRefresh("full", (), reason, rows.height)
        elif ranges:
            rows = accuracy_rows(con, model_name, ranges)
            _replace(con, model_name, range_predicate("date", ranges), rows)
            refresh = DayRefresh("incremental", tuple(ranges), reason, rows.height)
        else:
            refresh = DayRefresh("unchanged", (), reason, 0)
        con.execute(
            f"insert into {REFRESHES_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                datetime.now(UTC).replace(tzinfo=None),
                run_id,
                model_name,
                code_version,
                refresh.mode,
                refresh.ranges_json(),
                consumed,
                newest,
                log_scored_at,
                log_rows,
                refresh.rows_written,
            ],
        )
    return refresh


def record_log_purge(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    purged: list[tuple[datetime, int]],
    run_id: str,
) -> None:
    """After the retention purge removed `purged` (scoring time, rows) of the model's logged
    forecasts: a refresh record whose row count leaves them out, so the next refresh counts them
    as purged, not as "gone", which would recompute the whole table from the shorter log. The
    accuracy rows computed from them stay: the history of how the model did outlives its raw
    forecasts (a day recomputed later, for a file replaced after the purge, counts only the
    forecasts still logged for it)."""
    if not table_exists(con, "monitoring", "forecast_accuracy_refreshes"):
        return
    last = con.execute(
        f"""select code_version, consumed, newest_day, log_scored_at, log_rows
            from {REFRESHES_TABLE} where model_name = ? order by refreshed_at desc limit 1""",
        [model_name],
    ).fetchone()
    if last is None or last[3] is None:
        return
    code_version, consumed, newest_day, log_scored_at, log_rows = last
    counted = sum(rows for scored_at, rows in purged if scored_at <= log_scored_at)
    con.execute(
        f"insert into {REFRESHES_TABLE} values (?, ?, ?, ?, 'purged', '[]', ?, ?, ?, ?, 0)",
        [
            datetime.now(UTC).replace(tzinfo=None),
            run_id,
            model_name,
            code_version,
            consumed,
            newest_day,
            log_scored_at,
            log_rows - counted,
        ],
    )


def read_forecast_accuracy(con: duckdb.DuckDBPyConnection, model_name: str) -> pl.DataFrame:
    """The model's rows of monitoring.forecast_accuracy, by version, role, day and segment."""
    if not table_exists(con, "monitoring", "forecast_accuracy"):
        return pl.DataFrame()
    return con.execute(
        f"""select * from {ACCURACY_TABLE} where model_name = ?
            order by model_version, role, date, segment_type, segment""",
        [model_name],
    ).pl()


def _changed_days(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    code_version: str,
    newest: date | None,
    full_refresh: bool,
) -> tuple[list[DayRange] | None, str]:
    """The day ranges to recompute, or None and why everything is."""
    if full_refresh:
        return None, "full refresh"
    last = con.execute(
        f"""select code_version, consumed, newest_day, log_scored_at, log_rows
            from {REFRESHES_TABLE} where model_name = ? order by refreshed_at desc limit 1""",
        [model_name],
    ).fetchone()
    if last is None or not table_exists(con, "monitoring", "forecast_accuracy"):
        return None, "first build"
    last_code, last_consumed, last_newest, last_scored_at, last_log_rows = last
    if last_code != code_version:
        return None, "the accuracy's code changed"
    changed, reason = days_rebuilt_since(con, last_consumed, READS, READS_WHOLE)
    if changed is None:
        return None, reason
    # No forecast logged at the last refresh: every logged one is new (and a log whose rows had
    # no scoring time is recomputed whole: none of them counts as kept).
    since = last_scored_at or _BEFORE_ANY_FORECAST
    kept = con.execute(
        "select count(*) from ml.forecast_log where model_name = ? and scored_at <= ?",
        [model_name, since],
    ).fetchone()[0]
    if kept != last_log_rows:
        return None, f"{last_log_rows - kept} logged forecast(s) gone or without a scoring time"
    if newest != last_newest:
        if newest is None or last_newest is None:
            return None, "the newest day sold appeared or disappeared"
        first, end = sorted((newest, last_newest))
        changed.append((first + timedelta(days=1), end))
    logged = con.execute(
        """select distinct date from ml.forecast_log
           where model_name = ? and date <= ? and scored_at > ?""",
        [model_name, newest, since],
    ).fetchall()
    changed += [(day, day) for (day,) in logged]
    ranges = merge_ranges(changed)
    return ranges, describe_ranges(ranges)


def _replace(con, model_name: str, days: str, rows: pl.DataFrame) -> None:
    if table_exists(con, "monitoring", "forecast_accuracy"):
        con.execute(f"delete from {ACCURACY_TABLE} where model_name = ? and {days}", [model_name])
    if rows.width:  # created even empty: a table with no row yet is a refreshed one
        append_rows(con, ACCURACY_TABLE, rows)


def _ensure_refreshes_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"""create table if not exists {REFRESHES_TABLE} (
            refreshed_at timestamp, run_id varchar, model_name varchar, code_version varchar,
            mode varchar, ranges json, consumed json, newest_day date,
            log_scored_at timestamp, log_rows bigint, rows_written bigint)"""
    )
