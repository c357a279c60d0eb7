"""Versioned feature sets in the warehouse's `features` schema, with their provenance.

A version is the hash of the feature set's definition (its code), its settings and the data
versions of its inputs (the files loaded into each raw table, by sha256, and the code versions of
the staging models between them). The same inputs and code give the same version, and it is
not recomputed; anything new gives a new version, stored beside the older ones, so a model can
always be traced to, and its training frame rebuilt from, the exact rows it learned from.

Tables:
- features.demand_features: one row per version, series and origin (the features);
- features.demand_targets: one row per version, series and day sold or censored, for the series
  and days the version's training and backtest need, including the history before each backtest
  origin that the baselines and statistical peers forecast from (days missing sold nothing);
- features.price_plan: one row per version, SKU and price change (list or promotion) from the
  prices source: the prices in force on a forecast day, decided ahead by the company;
- features.feature_set_versions: one row per version: provenance (inputs, settings, counts,
  the calendar of folds), row count, the run that built it.
The newest `KEEP_VERSIONS` versions are kept, and every version a registered champion or
challenger model names; older ones are pruned.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from sme_platform.lib.features.demand import (
    FEATURE_SET,
    LOOKBACK_DAYS,
    ORIGIN_FEATURE_COLUMNS,
    ORIGIN_FEATURES_TABLE,
    build_origin_features,
    definition_hash,
)
from sme_platform.lib.features.events import EVENTS_TABLE
from sme_platform.lib.features.events_refresh import refresh_demand_events
from sme_platform.lib.features.learned_history import history_counts
from sme_platform.lib.features.origins import ForecastCalendar, forecast_calendar, plan_origins
from sme_platform.lib.features.settings import ForecastSettings
from sme_platform.lib.warehouse import table_exists

KEEP_VERSIONS = 3
FEATURE_DECIMALS = 10
TABLES_PER_VERSION = (
    "features.demand_features",
    "features.demand_targets",
    "features.price_plan",
)
INPUT_TABLES = ("sales_lines", "inventory_snapshots", "products", "locations", "prices")
STAGING_MODELS = tuple(f"staging.{t}" for t in INPUT_TABLES)


@dataclass(frozen=True)
class FeatureSetVersion:
    version: str
    reused: bool
    row_count: int
    target_rows: int
    calendar: ForecastCalendar
    input_versions: dict
    counts: dict = field(default_factory=dict)
    run_id: str = ""  # the run that computed it
    # Built on a night that trained no model: the scoring origin's rows only (no training or
    # backtest rows, no targets). Completed with every row if a run then trains on it.
    scoring_only: bool = False


def input_versions(con: duckdb.DuckDBPyConnection, model_code_versions: dict[str, str]) -> dict:
    """The data versions the feature set is computed from: per raw table, the sha256 of the
    sorted sha256s of the files currently loaded into it; per staging model, its code version."""
    rows = con.execute(
        """select table_name, sha256(string_agg(sha256, ',' order by sha256)), count(*)
           from raw.file_loads where status = 'loaded' and table_name in $tables
           group by all order by 1""",
        {"tables": list(INPUT_TABLES)},
    ).fetchall()
    return {
        "raw": {table: {"files": files, "sha256": digest[:16]} for table, digest, files in rows},
        "models": {
            m: model_code_versions.get(m) for m in STAGING_MODELS if m in model_code_versions
        },
    }


def feature_set_version(settings: ForecastSettings, inputs: dict) -> str:
    payload = json.dumps(
        {"definition": definition_hash(), "settings": settings.model_dump(), "inputs": inputs},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def materialize_feature_set(
    con: duckdb.DuckDBPyConnection,
    settings: ForecastSettings,
    model_code_versions: dict[str, str],
    run_id: str,
    full_refresh: bool = False,
    trains_on: Callable[[FeatureSetVersion], bool] | None = None,
) -> FeatureSetVersion:
    """Compute and store the feature set for the warehouse's current data, or reuse the stored
    version when its inputs, settings and definition are unchanged. The demand events are
    refreshed over the days that changed (all of them on a full refresh).

    `trains_on(feature_set)` says whether a model will be trained on it tonight (None: assume
    so); when not, only the scoring rows are built: the training and backtest rows, most of
    the work, would serve no one. A stored scoring-only version that a model is then trained on
    is built again with every row (same version: same inputs, definition and settings)."""
    inputs = input_versions(con, model_code_versions)
    version = feature_set_version(settings, inputs)
    con.execute("create schema if not exists features")
    _ensure_versions_table(con)
    stored = stored_version(con, version)
    if stored is not None and (not stored.scoring_only or not _trains(trains_on, stored)):
        return stored
    events = refresh_demand_events(con, run_id, full_refresh=full_refresh)
    calendar = forecast_calendar(con, settings)
    scoring_only = stored is None and not _trains(
        trains_on, FeatureSetVersion(version, False, 0, 0, calendar, inputs, run_id=run_id)
    )
    if stored is not None:  # a scoring-only version, now trained on: built again in full
        delete_versions(con, [version])
        con.execute("delete from features.feature_set_versions where version = ?", [version])
    counts = plan_origins(con, settings, calendar, scoring_only=scoring_only)
    row_count = build_origin_features(con)
    target_rows = _store(con, version)
    counts["events"] = con.execute(f"select count(*) from {EVENTS_TABLE}").fetchone()[0]
    counts.update(history_counts(con, calendar, settings))
    counts["events_refresh"] = events.describe()
    con.execute(
        """insert into features.feature_set_versions (feature_set, version, definition_hash,
               settings, input_versions, row_count, target_rows, counts, newest_day,
               fold_origins, run_id, created_at, scoring_only)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            FEATURE_SET,
            version,
            definition_hash(),
            json.dumps(settings.model_dump(), sort_keys=True),
            json.dumps(inputs, sort_keys=True),
            row_count,
            target_rows,
            json.dumps(counts, sort_keys=True),
            calendar.newest_day,
            json.dumps({k: v.isoformat() for k, v in calendar.model_fold_origins().items()}),
            run_id,
            datetime.now(UTC).replace(tzinfo=None),
            scoring_only,
        ],
    )
    prune_versions(con)
    return FeatureSetVersion(
        version, False, row_count, target_rows, calendar, inputs, counts, run_id, scoring_only
    )


def _trains(trains_on: Callable[[FeatureSetVersion], bool] | None, feature_set) -> bool:
    return trains_on is None or trains_on(feature_set)


def _ensure_versions_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """create table if not exists features.feature_set_versions (
            feature_set varchar, version varchar, definition_hash varchar, settings json,
            input_versions json, row_count bigint, target_rows bigint, counts json,
            newest_day date, fold_origins json, run_id varchar, created_at timestamp)"""
    )
    # Versions stored before scoring-only ones existed hold every row.
    con.execute(
        "alter table features.feature_set_versions "
        "add column if not exists scoring_only boolean default false"
    )


def _store(con: duckdb.DuckDBPyConnection, version: str) -> int:
    """Append the version's feature rows and the targets its origins need. Returns the number
    of target rows."""
    con.execute(
        f"create table if not exists features.demand_features as "
        f"select ''::varchar as feature_set_version, * from {ORIGIN_FEATURES_TABLE} where false"
    )
    # A feature added since the table was created: older versions' rows hold null there (the
    # models trained on them never read it, lib/training/model.py scores by a model's inputs).
    for column in ORIGIN_FEATURE_COLUMNS:
        con.execute(
            f"alter table features.demand_features add column if not exists {column} double"
        )
    # Rounded: DuckDB sums doubles in parallel, in an order that may vary from run to run, and
    # LightGBM bins on the last bits. Ten decimals keep the features exact enough (the leakage
    # check compares to 1e-9) and the same every time. (The different model bytes two fresh
    # clones of the demo once trained came, in the end, from the price plan: see frames.py.)
    rounded = ", ".join(
        f"round({column}, {FEATURE_DECIMALS}) as {column}" for column in ORIGIN_FEATURE_COLUMNS
    )
    con.execute(
        f"insert into features.demand_features by name "
        f"select $version as feature_set_version, * replace ({rounded}) "
        f"from {ORIGIN_FEATURES_TABLE}",
        {"version": version},
    )
    con.execute(
        """create table if not exists features.demand_targets (
            feature_set_version varchar, sku varchar, location_id varchar, date date,
            units double, censored boolean)"""
    )
    con.execute(
        """create table if not exists features.price_plan (
            feature_set_version varchar, sku varchar, valid_from date, price_type varchar,
            unit_price double)"""
    )
    if table_exists(con, "staging", "prices"):
        con.execute(
            f"""insert into features.price_plan
                select $version, sku, valid_from, lower(price_type), unit_price::double
                from staging.prices
                semi join (select distinct sku from {ORIGIN_FEATURES_TABLE}) using (sku)""",
            {"version": version},
        )
    horizon_days = 56  # the longest horizon the settings allow: targets cover any of them
    before = con.execute("select count(*) from features.demand_targets").fetchone()[0]
    con.execute(
        f"""insert into features.demand_targets
            with windows as (
                select sku, location_id,
                       min(case when fold is null then origin_date
                                else origin_date - {LOOKBACK_DAYS} end) as first_day,
                       max(origin_date) + {horizon_days} as last_day
                from {ORIGIN_FEATURES_TABLE}
                where for_training or fold is not null
                group by all
            )
            select $version, events.sku, events.location_id, events.date,
                   sum(events.units), bool_and(events.censored)
            from {EVENTS_TABLE} as events
            join windows
                on events.sku = windows.sku and events.location_id = windows.location_id
                and events.date between windows.first_day and windows.last_day
            group by all""",
        {"version": version},
    )
    return con.execute("select count(*) from features.demand_targets").fetchone()[0] - before


def stored_version(con: duckdb.DuckDBPyConnection, version: str) -> FeatureSetVersion | None:
    row = con.execute(
        f"""select row_count, target_rows, newest_day, input_versions, counts, settings, run_id,
                   {_scoring_only_column(con)}
            from features.feature_set_versions where version = ?""",
        [version],
    ).fetchone()
    if row is None:
        return None
    row_count, target_rows, newest_day, inputs, counts, settings, run_id, scoring_only = row
    settings = json.loads(settings)
    calendar = ForecastCalendar(newest_day, settings["horizon_days"], settings["backtest_folds"])
    return FeatureSetVersion(
        version,
        True,
        row_count,
        target_rows,
        calendar,
        json.loads(inputs),
        json.loads(counts),
        run_id,
        bool(scoring_only),
    )


def planned_folds(con: duckdb.DuckDBPyConnection, version: str) -> set[str]:
    """The folds a stored version planned rows for (its fold_origins): one stored before the
    warm-up fold (lib/features/origins) has none for it."""
    row = con.execute(
        "select fold_origins from features.feature_set_versions where version = ?", [version]
    ).fetchone()
    return set(json.loads(row[0])) if row is not None and row[0] is not None else set()


def _scoring_only_column(con: duckdb.DuckDBPyConnection) -> str:
    # A warehouse of an earlier version has no such column until its features are built again
    # (and may be opened read-only): its versions all hold every row.
    found = con.execute(
        """select count(*) from duckdb_columns()
           where database_name = current_database() and schema_name = 'features'
             and table_name = 'feature_set_versions' and column_name = 'scoring_only'"""
    ).fetchone()[0]
    return "scoring_only" if found else "false"


def newest_full_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """The newest feature set version with its training and backtest rows: what a model can be
    trained and judged on (a night that trained nothing stores a scoring-only version, newer)."""
    if not table_exists(con, "features", "feature_set_versions"):
        return None
    row = con.execute(
        "select max_by(version, created_at) from features.feature_set_versions "
        f"where not coalesce({_scoring_only_column(con)}, false)"
    ).fetchone()
    return row[0]


def prune_versions(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Delete the feature and target rows of versions beyond the newest KEEP_VERSIONS that no
    champion or challenger model names. Their provenance rows stay: what a model was trained on
    is never forgotten, even when its rows are gone."""
    in_use: set[str] = set()
    if table_exists(con, "ml", "model_registry"):
        in_use = {
            r[0]
            for r in con.execute(
                """select distinct feature_set_version from ml.model_registry
                   where status in ('champion', 'challenger')"""
            ).fetchall()
        }
    versions = [
        r[0]
        for r in con.execute(
            "select version from features.feature_set_versions order by created_at desc"
        ).fetchall()
    ]
    doomed = [v for v in versions[KEEP_VERSIONS:] if v not in in_use]
    delete_versions(con, doomed)
    return doomed


def delete_versions(con: duckdb.DuckDBPyConnection, versions: list[str]) -> None:
    """The feature, target and price-plan rows of `versions` (not their provenance)."""
    if versions:
        for table in TABLES_PER_VERSION:
            if table_exists(con, *table.split(".")):
                con.execute(f"delete from {table} where feature_set_version in $v", {"v": versions})
