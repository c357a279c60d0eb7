"""What the KPI dashboard shows, read from the warehouse: each section a frame (empty when the
company has no source for it, with the reason), so the page says what it cannot show."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from sme_platform.lib.monitoring.live_roi import latest_impact
from sme_platform.lib.training.forecast_summary import DEMAND_MODEL_NAME, served_fallback
from sme_platform.lib.warehouse import table_exists

HISTORY_DAYS = 90  # days of sales drawn before the forecast
SECTION_NAMES = (
    "sales_and_forecast",
    "sales_kpis",
    "support_kpis",
    "drift",
    "checks",
    "quarantine",
    "roi",
)


@dataclass
class Section:
    frame: pl.DataFrame
    missing: str | None = None  # why there is nothing to show
    note: str | None = None  # what part of it is not shown yet, and why


@dataclass
class DashboardData:
    sales_and_forecast: Section  # date, units_sold, forecast, interval_low, interval_high
    sales_kpis: Section  # month, revenue, margin_rate, stock_out_rate, days_of_inventory
    support_kpis: Section  # month, tickets_opened, median_first_response_hours, ...
    drift: Section  # model_version, measured_on, features, drifted, drifted_features
    checks: Section  # stage, passed, failed, failing
    quarantine: Section  # source, rows_read, rows_quarantined, share
    roi: Section  # period, window, version, model_cost, baseline, baseline_cost, saving


def _frame(con, sql: str, params=None) -> pl.DataFrame:
    return con.execute(sql, params or []).pl()


def _section(con, tables: list[str], sql: str, missing: str) -> Section:
    absent = [t for t in tables if not table_exists(con, *t.split("."))]
    if absent:
        return Section(pl.DataFrame(), f"{missing} (no {', '.join(absent)})")
    frame = _frame(con, sql)
    return Section(frame, None if frame.height else missing)


def collect(con: duckdb.DuckDBPyConnection, model_name: str = DEMAND_MODEL_NAME) -> DashboardData:
    sales = _section(
        con,
        ["marts.sales_daily"],
        f"""select sales_date as date, sum(units_sold)::double as units_sold
            from marts.sales_daily
            where sales_date > (select max(sales_date) from marts.sales_daily) - {HISTORY_DAYS}
            group by all order by 1""",
        "no sales",
    )
    if sales.missing is None and table_exists(con, "ml", "demand_forecast"):
        forecast = _frame(
            con,
            """select date, sum(prediction) as forecast, sum(interval_low) as interval_low,
                      sum(interval_high) as interval_high
               from ml.demand_forecast group by all order by 1""",
        )
        fallback = served_fallback(con)
        sales = Section(
            sales.frame.join(forecast, on="date", how="full", coalesce=True).sort("date"),
            None,
            # Say what the line is when it is not the model's (lib/release/fallback.py).
            f"The forecast is the fallback {fallback}, the cheapest baseline or peer of the "
            "model's backtest, until a version of the model is champion."
            if fallback
            else None,
        )
    return DashboardData(
        sales_and_forecast=sales,
        sales_kpis=_section(
            con,
            ["reports.sales_kpis_monthly"],
            """select month, revenue, margin_rate, stock_out_rate, days_of_inventory
               from reports.sales_kpis_monthly order by month""",
            "no monthly sales KPIs",
        ),
        support_kpis=_section(
            con,
            ["reports.support_kpis_monthly"],
            """select month, tickets_opened, median_first_response_hours,
                      median_resolution_hours, sla_met_rate
               from reports.support_kpis_monthly order by month""",
            "no support tickets",
        ),
        drift=_section(
            con,
            ["monitoring.feature_drift"],
            """select model_name, model_version, measured_on, count(*) as features,
                      count(*) filter (where drifted) as drifted,
                      coalesce(string_agg(feature, ', ') filter (where drifted), '')
                          as drifted_features,
                      any_value(report_path) as report
               from monitoring.feature_drift
               where (model_name, run_id) in (
                   select model_name, max_by(run_id, created_at)
                   from monitoring.feature_drift group by model_name)
               group by all order by model_name""",
            "no drift measured yet",
        ),
        checks=_section(
            con,
            ["governance.check_results"],
            """with latest as (
                   select asset, check_name, max_by(passed, checked_at) as passed,
                          max_by(severity, checked_at) as severity
                   from governance.check_results group by all)
               select split_part(asset, '/', 1) as stage,
                      count(*) filter (where passed) as passed,
                      count(*) filter (where not passed) as failed,
                      coalesce(string_agg(asset || ':' || check_name, ', ')
                               filter (where not passed), '') as failing
               from latest group by all order by stage""",
            "no check results yet",
        ),
        quarantine=_section(
            con,
            ["raw.loads"],
            """select table_name as source, sum(rows_read)::bigint as rows_read,
                      sum(rows_quarantined)::bigint as rows_quarantined,
                      sum(rows_quarantined) / nullif(sum(rows_read), 0)::double as share,
                      sum(files_rejected)::bigint as files_rejected
               from raw.loads group by all order by source""",
            "nothing loaded yet",
        ),
        roi=_roi(con, model_name),
    )


def _roi(con: duckdb.DuckDBPyConnection, model_name: str) -> Section:
    """The baseline period: the champion's simulated business cost against the cheapest baseline
    or peer, on the holdout and over every backtest window it was released on. The current
    period: the forecasts served since, against the cheapest baseline or peer at the same origins,
    on the days sold (monitoring.business_impact, lib/monitoring/live_roi.py)."""
    missing = "no champion yet: nothing to compare"
    if not (
        table_exists(con, "ml", "model_registry") and table_exists(con, "ml", "backtest_results")
    ):
        return Section(pl.DataFrame(), missing)
    row = con.execute(
        "select version from ml.model_registry where model_name = ? and status = 'champion'",
        [model_name],
    ).fetchone()
    if row is None:
        return Section(pl.DataFrame(), missing)
    costs = _frame(
        con,
        """select fold, model, sum(business_cost) as cost
           from ml.backtest_results
           where model_name = ? and model_version = ? and segment_type = 'overall'
             and model <> 'champion'
           group by all""",
        [model_name, row[0]],
    )
    windows = {
        "holdout": costs.filter(pl.col("fold") == "holdout"),
        f"all {costs['fold'].n_unique()} backtest windows": costs,
    }
    rows = []
    for window, frame in windows.items():
        by_model = dict(frame.group_by("model").agg(pl.col("cost").sum()).iter_rows())
        if "lightgbm" not in by_model or len(by_model) < 2:
            continue
        ours = by_model.pop("lightgbm")
        best = min(by_model, key=lambda m: (by_model[m], m))
        rows.append(("baseline", window, row[0], ours, best, by_model[best]))
    impact = latest_impact(con, model_name)
    note = None
    if impact is None:
        note = "Current period: not measured yet (the monitoring measures it every night)."
    elif impact["missing"]:
        note = f"Current period: {impact['missing']}."
    else:
        window = (
            f"{impact['origins']} order{'s' if impact['origins'] != 1 else ''} from "
            f"{impact['first_origin']} to {impact['last_day']} "
            "(live)"
        )
        rows.append(
            (
                "current",
                window,
                impact["versions"],
                impact["served_cost"],
                impact["baseline"],
                impact["baseline_cost"],
            )
        )
    frame = pl.DataFrame(
        rows,
        schema=["period", "window", "version", "model_cost", "baseline", "baseline_cost"],
        orient="row",
    ).with_columns(
        saving=pl.col("baseline_cost") - pl.col("model_cost"),
    )
    frame = frame.with_columns(saving_share=pl.col("saving") / pl.col("baseline_cost"))
    return Section(frame, None if frame.height else missing, note)
