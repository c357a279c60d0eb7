"""The demand events kept in the warehouse, refreshed over the days that changed.

`features.demand_events` (events.py says what an event is) was rebuilt from every sales line
each night: 4 to 5 s of the feature set's 24 s at medium scale (10M lines) for one new day. An
event of day D depends only on D's sales lines and stock snapshot and on when the files holding
those lines arrived, so a night replaces only the days
- that the staging models read (sales lines, inventory snapshots) rebuilt incrementally since
  the events' last refresh: their ranges in governance.model_builds, which hold the days of new,
  late, replaced and withdrawn file versions (sql_models/incremental.py);
- of the sales files whose arrival (`known_from`, computed for every file each night) is not
  what it was at the last refresh: a file arriving can make another one late.
Everything is rebuilt when there is no record, the events' code changed, a staging model read
was rebuilt in full since, or the run is a full refresh. The rows, the arrivals and the record
of the refresh change in one transaction. A test of random nights (new, late and replaced
files) holds the refreshed events equal to a full rebuild's, row for row.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime

import duckdb

from sme_platform.lib.code_version import closure_hash
from sme_platform.lib.day_refresh import DayRefresh, builds_consumed, days_rebuilt_since
from sme_platform.lib.features import events
from sme_platform.lib.features.events import build_demand_events
from sme_platform.lib.sql_models.incremental import DayRange, describe_ranges, merge_ranges
from sme_platform.lib.warehouse import table_exists, transaction

READS = ("staging.sales_lines", "staging.inventory_snapshots")
REFRESHES_TABLE = "features.demand_events_refreshes"
ARRIVALS_TABLE = "features.demand_events_arrivals"


def events_code_version() -> str:
    return closure_hash(events, sys.modules[__name__], within="sme_platform.lib.features")


def refresh_demand_events(
    con: duckdb.DuckDBPyConnection, run_id: str, *, full_refresh: bool = False
) -> DayRefresh:
    """Bring features.demand_events up to the warehouse's staging tables (see the module)."""
    con.execute("create schema if not exists features")
    _ensure_tables(con)
    code_version = events_code_version()
    consumed = builds_consumed(con, READS)
    with transaction(con):
        ranges, reason = _changed_days(con, code_version, full_refresh)
        if ranges is None:
            refresh = DayRefresh("full", (), reason, build_demand_events(con), "event")
        elif ranges:
            written = build_demand_events(con, ranges)
            refresh = DayRefresh("incremental", tuple(ranges), reason, written, "event")
        else:
            refresh = DayRefresh("unchanged", (), reason, 0, "event")
        con.execute(f"delete from {ARRIVALS_TABLE}")
        con.execute(f"insert into {ARRIVALS_TABLE} select * from _file_arrival")
        con.execute(
            f"insert into {REFRESHES_TABLE} values (?, ?, ?, ?, ?, ?, ?)",
            [
                datetime.now(UTC).replace(tzinfo=None),
                run_id,
                code_version,
                refresh.mode,
                refresh.ranges_json(),
                consumed,
                refresh.rows_written,
            ],
        )
    return refresh


def _changed_days(
    con: duckdb.DuckDBPyConnection, code_version: str, full_refresh: bool
) -> tuple[list[DayRange] | None, str]:
    """The day ranges to replace, or None and why everything is rebuilt."""
    if full_refresh:
        return None, "full refresh"
    last = con.execute(
        f"select code_version, consumed from {REFRESHES_TABLE} order by refreshed_at desc limit 1"
    ).fetchone()
    if last is None or not table_exists(con, *events.EVENTS_TABLE.split(".")):
        return None, "first build"
    if last[0] != code_version:
        return None, "the events' code changed"
    changed, reason = days_rebuilt_since(con, last[1], READS)
    if changed is None:
        return None, reason
    changed += _days_of_files_whose_arrival_changed(con)
    ranges = merge_ranges(changed)
    return ranges, describe_ranges(ranges)


def _days_of_files_whose_arrival_changed(con: duckdb.DuckDBPyConnection) -> list[DayRange]:
    events.compute_file_arrival(con)
    days = con.execute(
        f"""with changed as (
                (select * from _file_arrival except select * from {ARRIVALS_TABLE})
                union
                (select * from {ARRIVALS_TABLE} except select * from _file_arrival)
            )
            select distinct order_date from staging.sales_lines
            where _source_file in (select source_file from changed)"""
    ).fetchall()
    return [(day, day) for (day,) in days if isinstance(day, date)]


def _ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"""create table if not exists {REFRESHES_TABLE} (
            refreshed_at timestamp, run_id varchar, code_version varchar, mode varchar,
            ranges json, consumed json, rows_written bigint)"""
    )
    con.execute(
        f"create table if not exists {ARRIVALS_TABLE} (source_file varchar, known_from date)"
    )
