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

import json
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb

from sme_platform.lib.code_version import modules_hash
from sme_platform.lib.features import events
from sme_platform.lib.features.events import build_demand_events
from sme_platform.lib.sql_models.incremental import DayRange, describe_ranges, merge_ranges
from sme_platform.lib.sql_models.up_to_date import builds_since, last_build
from sme_platform.lib.warehouse import table_exists, transaction

READS = ("staging.sales_lines", "staging.inventory_snapshots")
REFRESHES_TABLE = "features.demand_events_refreshes"
ARRIVALS_TABLE = "features.demand_events_arrivals"


@dataclass(frozen=True)
class EventsRefresh:
    mode: str  # full, incremental or unchanged
    ranges: tuple[DayRange, ...]
    reason: str
    rows_written: int

    def describe(self) -> str:
        if self.mode == "full":
            return f"full: {self.reason}; {self.rows_written} event(s)"
        if self.mode == "unchanged":
            return "unchanged: no day changed since the last refresh"
        return f"incremental: {describe_ranges(list(self.ranges))}; {self.rows_written} event(s)"


def events_code_version() -> str:
    return modules_hash(events, sys.modules[__name__])


def refresh_demand_events(
    con: duckdb.DuckDBPyConnection, run_id: str, *, full_refresh: bool = False
) -> EventsRefresh:
    """Bring features.demand_events up to the warehouse's staging tables (see the module)."""
    con.execute("create schema if not exists features")
    _ensure_tables(con)
    code_version = events_code_version()
    consumed = {model: _last_built_at(con, model) for model in READS}
    with transaction(con):
        ranges, reason = _changed_days(con, code_version, full_refresh)
        if ranges is None:
            refresh = EventsRefresh("full", (), reason, build_demand_events(con))
        elif ranges:
            refresh = EventsRefresh(
                "incremental", tuple(ranges), reason, build_demand_events(con, ranges)
            )
        else:
            refresh = EventsRefresh("unchanged", (), reason, 0)
        con.execute(f"delete from {ARRIVALS_TABLE}")
        con.execute(f"insert into {ARRIVALS_TABLE} select * from _file_arrival")
        con.execute(
            f"insert into {REFRESHES_TABLE} values (?, ?, ?, ?, ?, ?, ?)",
            [
                datetime.now(UTC).replace(tzinfo=None),
                run_id,
                code_version,
                refresh.mode,
                json.dumps([[a.isoformat(), b.isoformat()] for a, b in refresh.ranges]),
                json.dumps({m: t.isoformat() if t else None for m, t in consumed.items()}),
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
    consumed = json.loads(last[1])
    changed: list[DayRange] = []
    for model in READS:
        since = consumed.get(model)
        for build in builds_since(con, model, datetime.fromisoformat(since) if since else _EPOCH):
            if build.mode != "incremental":
                return None, f"{model} was rebuilt in full in run {build.run_id[:8]}"
            changed += build.ranges
    changed += _days_of_files_whose_arrival_changed(con)
    ranges = merge_ranges(changed)
    return ranges, describe_ranges(ranges)


_EPOCH = datetime(1970, 1, 1)


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


def _last_built_at(con: duckdb.DuckDBPyConnection, model: str) -> datetime | None:
    build = last_build(con, model)
    return build.built_at if build else None


def _ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"""create table if not exists {REFRESHES_TABLE} (
            refreshed_at timestamp, run_id varchar, code_version varchar, mode varchar,
            ranges json, consumed json, rows_written bigint)"""
    )
    con.execute(
        f"create table if not exists {ARRIVALS_TABLE} (source_file varchar, known_from date)"
    )
