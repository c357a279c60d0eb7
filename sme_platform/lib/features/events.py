"""Demand events: what sold (or could not sell) per series and day, and when it was known.

A series is one SKU at one location. The warehouse keeps sales sparse (a day without a row sold
nothing), so features are computed from these events, never from a zero-filled grid.

`known_on` makes the features point-in-time correct. A day's sales are normally known the next
morning (`date + 1`), when the daily export arrives. A file that arrived late (its path first
loaded in a run after other runs had already loaded later business days) is known only from the
day after the newest business day loaded before it: the forecasts made before then could not
have used it, so neither may the features of those origins. The comparison is by run, not by
the moment within a run, so a backfill of two years in one run is not "late". A replaced file
(same path, new content: a month-to-date export) keeps its path's arrival, because a
replacement corrects rows that were already known rather than adding news.

Censoring: a day on which an inventory snapshot shows the series stocked out and nothing sold
is `censored` (demand unknown, not zero): features leave such days out of their averages and
training leaves them out of its targets.

The events are kept in `features.demand_events`, refreshed each night over the days whose
inputs changed (events_refresh.py), not rebuilt from every sales line.
"""

from __future__ import annotations

import duckdb

from sme_platform.lib.features.optional_inputs import optional_relation
from sme_platform.lib.sql_models.incremental import range_predicate

EVENTS_TABLE = "features.demand_events"


def stocked_out_days(con: duckdb.DuckDBPyConnection) -> str:
    """The relation (sku, location_id, date) of the days a location had none of a SKU, from the
    inventory snapshots (no rows without them): a day without a sale there is censored, not zero
    demand. The backtest's censoring and the canary's judgement both read this one definition."""
    return optional_relation(
        con,
        "inventory_snapshots",
        "select distinct sku, location_id, snapshot_date as date "
        "from staging.inventory_snapshots where is_stocked_out",
        {"sku": "varchar", "location_id": "varchar", "date": "date"},
    )


def actuals_ctes(con: duckdb.DuckDBPyConnection) -> str:
    """The common table expressions logged forecasts are judged with: `actuals` (sku,
    location_id, date, units sold), `newest` (the newest day sold: later days have no actuals
    yet) and `stock_outs` (the censored days). The canary's judgement and the live accuracy of
    monitoring both read this one definition."""
    return f"""
        actuals as (
            select sku, location_id, order_date as date, sum(quantity)::double as units
            from staging.sales_lines group by all
        ),
        newest as (select max(order_date) as day from staging.sales_lines),
        stock_outs as ({stocked_out_days(con)})"""


def build_demand_events(con: duckdb.DuckDBPyConnection, ranges: list | None = None) -> int:
    """Write `features.demand_events` (sku, location_id, date, known_on, units, revenue,
    promo_units, censored) from staging.sales_lines, raw.file_loads and, where present,
    staging.inventory_snapshots: whole, or with `ranges` ((first, last) days) only those days,
    replaced (an event of a day depends only on that day's lines and snapshot and on when their
    files arrived: events_refresh.py). Returns the number of rows written."""
    con.execute("create schema if not exists features")
    compute_file_arrival(con)
    lines, stock_outs = "staging.sales_lines", f"({stocked_out_days(con)})"
    if ranges is not None:
        lines = f"(select * from {lines} where {range_predicate('order_date', ranges)})"
        stock_outs = f"(select * from {stock_outs} where {range_predicate('date', ranges)})"
    query = f"""
        with sales as (
            select
                lines.sku,
                lines.location_id,
                lines.order_date as date,
                greatest(lines.order_date + 1, coalesce(arrival.known_from, lines.order_date + 1))
                    as known_on,
                sum(lines.quantity)::double as units,
                sum(lines.net_amount)::double as revenue,
                coalesce(sum(lines.quantity) filter (where lines.on_promotion), 0)::double
                    as promo_units
            from {lines} as lines
            left join _file_arrival as arrival on arrival.source_file = lines._source_file
            group by all
        ),
        sale_days as (select distinct sku, location_id, date from sales),
        censored as (
            select stock.sku, stock.location_id, stock.date, stock.date + 1 as known_on,
                   0.0 as units, 0.0 as revenue, 0.0 as promo_units
            from {stock_outs} as stock
            anti join sale_days using (sku, location_id, date)
        )
        select *, false as censored from sales
        union all
        select *, true as censored from censored
        """
    if ranges is None:
        con.execute(f"create or replace table {EVENTS_TABLE} as {query}")
        return con.execute(f"select count(*) from {EVENTS_TABLE}").fetchone()[0]
    con.execute(f"delete from {EVENTS_TABLE} where {range_predicate('date', ranges)}")
    return con.execute(f"insert into {EVENTS_TABLE} {query}").fetchone()[0]


def compute_file_arrival(con: duckdb.DuckDBPyConnection) -> None:
    """The temp table `_file_arrival` (source_file, known_from): per sales file (path), the
    first day its rows could have been known, when it arrived late (else null)."""
    con.execute(_FILE_ARRIVAL_SQL)


_FILE_ARRIVAL_SQL = """
create or replace temp table _file_arrival as
with versions as (
    select source_file, run_id
    from raw.file_loads
    where table_name = 'sales_lines' and status in ('loaded', 'superseded')
),
runs as (
    select run_id, min(loaded_at) as run_started
    from raw.file_loads
    group by all
),
paths as (
    select versions.source_file, min(runs.run_started) as first_run
    from versions join runs using (run_id)
    group by all
),
path_days as (
    select _source_file as source_file, max(order_date) as newest_day
    from staging.sales_lines
    group by all
),
per_run as (
    select paths.first_run, max(path_days.newest_day) as newest_day
    from paths join path_days using (source_file)
    group by all
),
known_before_run as (
    select
        first_run,
        max(newest_day) over (
            order by first_run rows between unbounded preceding and 1 preceding
        ) as newest_day_before
    from per_run
)
select paths.source_file, known_before_run.newest_day_before + 1 as known_from
from paths join known_before_run using (first_run)
"""
