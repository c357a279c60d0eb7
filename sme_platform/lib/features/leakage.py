"""The leakage check: recompute a sample of stored feature rows from the data as it was known
at each row's origin, with a second, deliberately plain implementation, and compare.

The SQL of demand.py filters by `known_on` inside a range join; a mistake there (a `<=` for a
`<`, a window counted from the wrong day, a late file's rows let in early) would leak the future
into training and make every backtest look better than the model is. Here each sampled origin
gets its own cut of the events (only rows known on or before the origin, for days before it)
and the features are recomputed row by row in Python. Half the sample, where there is such data,
is drawn from origins whose series had rows that arrived late, the case most likely to leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import duckdb
import polars as pl

from sme_platform.lib.features.demand import LOOKBACK_DAYS, SKU_LEVEL_COLUMNS, SKU_WINDOWS
from sme_platform.lib.features.events import EVENTS_TABLE

CHECKED_COLUMNS = [
    *[f"lag_{k}" for k in range(1, 8)],
    "mean_28",
    "mean_182",
    "nonzero_share_28",
    "censored_days_28",
    "days_since_last_sale",
    *[f"weekday_mean_28_{d}" for d in range(7)],
    # The SKU's level across locations reads other series' rows: their late files too.
    *SKU_LEVEL_COLUMNS,
]
TOLERANCE = 1e-9


@dataclass(frozen=True)
class LeakageReport:
    rows_checked: int
    late_rows_in_sample: int
    mismatches: list[dict]

    @property
    def passed(self) -> bool:
        return self.rows_checked > 0 and not self.mismatches


def check_leakage(
    con: duckdb.DuckDBPyConnection, version: str, sample_size: int = 200, seed: int = 42
) -> LeakageReport:
    """Reads features.demand_events as refreshed by the run that built `version`."""
    sample = con.execute(
        f"""
        with rows as (
            select f.*, exists (
                select 1 from {EVENTS_TABLE} e
                where e.sku = f.sku and e.location_id = f.location_id
                  and e.date < f.origin_date and e.known_on > f.origin_date
            ) as had_late_rows,
            md5($seed || '|' || f.sku || '|' || f.location_id || '|' || f.origin_date) as draw
            from features.demand_features f
            where f.feature_set_version = $version
        ),
        ranked as (
            select *, row_number() over (partition by had_late_rows order by draw) as n
            from rows
        )
        select * exclude (n, draw) from ranked where n <= $half
        """,
        {"version": version, "seed": str(seed), "half": sample_size // 2},
    ).pl()
    if sample.height == 0:
        return LeakageReport(0, 0, [])
    # Only the sampled SKUs' events (at every location, for the SKU's level): every series of
    # the version was millions of rows at medium scale, 7 s of the check for 100 rows.
    con.register("_leakage_sample_skus", sample.select("sku").unique())
    try:
        events = con.execute(
            f"select e.* from {EVENTS_TABLE} e semi join _leakage_sample_skus s using (sku)"
        ).pl()
    finally:  # the run's other steps share this connection's database
        con.unregister("_leakage_sample_skus")
    by_series = events.partition_by(["sku", "location_id"], as_dict=True)
    by_sku = events.partition_by(["sku"], as_dict=True)
    mismatches = []
    for row in sample.iter_rows(named=True):
        series_events = by_series.get((row["sku"], row["location_id"]))
        expected = reference_features(series_events, row["origin_date"])
        expected |= reference_sku_level(by_sku.get((row["sku"],)), row["origin_date"])
        for column in CHECKED_COLUMNS:
            stored = row[column]
            if stored is None or abs(float(stored) - expected[column]) > TOLERANCE:
                mismatches.append(
                    {
                        "sku": row["sku"],
                        "location_id": row["location_id"],
                        "origin_date": row["origin_date"].isoformat(),
                        "feature": column,
                        "stored": stored,
                        "recomputed_from_data_known_then": expected[column],
                    }
                )
    return LeakageReport(sample.height, int(sample["had_late_rows"].sum()), mismatches)


def reference_features(events: pl.DataFrame | None, origin) -> dict[str, float]:
    """The checked features of one series at `origin`, from its events known by then only."""
    known: dict = {}
    censored_days: set = set()
    if events is not None:
        for event in events.iter_rows(named=True):
            age = (origin - event["date"]).days
            if event["known_on"] > origin or not 1 <= age <= LOOKBACK_DAYS:
                continue
            known[event["date"]] = known.get(event["date"], 0.0) + event["units"]
            if event["censored"]:
                censored_days.add(event["date"])
    day = {k: origin - timedelta(days=k) for k in range(1, LOOKBACK_DAYS + 1)}
    units = {k: known.get(day[k], 0.0) for k in day}
    censored = {k for k in day if day[k] in censored_days}
    last_28 = range(1, 29)
    uncensored_28 = max(28 - len([k for k in last_28 if k in censored]), 1)
    features = {f"lag_{k}": units[k] for k in range(1, 8)}
    features["mean_28"] = sum(units[k] for k in last_28) / uncensored_28
    features["mean_182"] = sum(units.values()) / max(182 - len(censored), 1)
    features["nonzero_share_28"] = len([k for k in last_28 if units[k] > 0]) / uncensored_28
    features["censored_days_28"] = float(len([k for k in last_28 if k in censored]))
    sold = [k for k in day if units[k] > 0]
    features["days_since_last_sale"] = float(min(sold) if sold else LOOKBACK_DAYS + 1)
    for weekday in range(7):
        days = [k for k in last_28 if _weekday(day[k]) == weekday]
        features[f"weekday_mean_28_{weekday}"] = sum(units[k] for k in days) / max(
            len(days) - len([k for k in days if k in censored]), 1
        )
    return features


def reference_sku_level(events: pl.DataFrame | None, origin) -> dict[str, float]:
    """The SKU's level at `origin` from its rows at every location known by then: units sold
    per day and per location that sold it in the lookback."""
    units = dict.fromkeys(SKU_WINDOWS, 0.0)
    locations = set()
    for event in events.iter_rows(named=True) if events is not None else ():
        age = (origin - event["date"]).days
        if event["units"] <= 0 or event["known_on"] > origin or not 1 <= age <= LOOKBACK_DAYS:
            continue
        locations.add(event["location_id"])
        for window in SKU_WINDOWS:
            units[window] += event["units"] if age <= window else 0.0
    selling = max(len(locations), 1)
    level = {f"sku_mean_{w}": units[w] / selling / w for w in SKU_WINDOWS}
    return level | {"sku_locations_182": float(len(locations))}


def _weekday(day) -> int:
    """DuckDB's dayofweek: Sunday 0 .. Saturday 6."""
    return (day.weekday() + 1) % 7
