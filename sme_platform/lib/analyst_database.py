"""The analyst database: a read-only snapshot of the validated tables, with PII masked.

DuckDB lets one process write a file, and a reader in another process fails while it does. So
analysts never open the warehouse: each successful run writes a fresh file next to it and
renames it into place (atomic on one filesystem). A reader that opened the old file keeps
reading it; the next connection sees the new one; no one sees a lock error or a half-written
table.

PII columns are masked as the models' headers say: `hash` keeps joins and counts working (same
input, same 16 hex characters), `redact` removes the value. A header's decision follows the
column lineage downstream: a column computed from a masked column of another model is masked
like it (the strongest mask among its sources) unless its own header declares it otherwise
(`none`: derived from PII, not PII itself). The model that first reads a PII column of a raw
canonical table decides how it is masked: the publisher never guesses. The file is then
verified while it is still the `.building` file (see analyst_verification.py), against masks
derived from the canonical contracts' PII tags, not from what was applied here: a header that
forgets a PII column is refused before analysts can read it, and the previous snapshot stays.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from sme_platform.lib.analyst_refresh import (
    model_source_versions,
    previous_catalog,
    table_source_version,
)
from sme_platform.lib.analyst_verification import REDACTED, verify_snapshot
from sme_platform.lib.governance import CheckOutcome
from sme_platform.lib.sql_models.build import column_lineage
from sme_platform.lib.sql_models.graph import LAYERS, ModelGraph, SqlModel
from sme_platform.lib.warehouse import insert_rows, quote_identifier, quote_literal, table_exists

PUBLISHED_SCHEMAS = LAYERS  # every layer of SQL models, and nothing of raw or quarantine
# The ML stages' tables analysts read, none holding personal data: what each model forecast, how
# it was judged, which version serves and why, and where its features came from.
ML_TABLES = {
    "ml.demand_forecast": (
        "The next 14 days of demand per SKU and location with an 80 % interval, from the "
        "champion (or the canary challenger on its share), with model and feature versions. "
        "Grain: one row per SKU, location and forecast day."
    ),
    "ml.backtest_results": (
        "Backtest of every trained version against baselines and statistical peers: accuracy "
        "and simulated reorder cost. Grain: one row per run, method, fold and segment."
    ),
    "ml.model_registry": (
        "Model versions with status, metrics, provenance and approvals. "
        "Grain: one row per model version."
    ),
    "governance.audit_log": (
        "Every release decision: trained, gate passed or refused and why, approved by whom, "
        "canary, promoted, rolled back. Grain: one row per event, append-only."
    ),
    "features.feature_set_versions": (
        "Provenance of each feature set version: input data versions, settings, row counts. "
        "Grain: one row per feature set version."
    ),
    "monitoring.feature_drift": (
        "The serving model's inputs against its training rows, per night (Evidently): drift "
        "score, method, threshold, drifted, report path. Grain: one row per night, model "
        "version and feature."
    ),
    "monitoring.forecast_accuracy": (
        "Live accuracy of the published forecasts once actuals arrived: WAPE and bias. "
        "Grain: one row per model version, role, day and segment."
    ),
    "monitoring.prediction_drift": (
        "The serving model's forecasts against its first forecasts, per night (Evidently): "
        "score, method, threshold, drifted, mean forecast of each. Grain: one row per night "
        "and model version."
    ),
    "monitoring.scoring_latency": (
        "How fast the forecasts were scored: rows, seconds, rows per second, versions scored. "
        "Grain: one row per publishing run."
    ),
    "monitoring.data_quality_daily": (
        "Per day and source: rows read, quarantined (share), files loaded and rejected. "
        "Grain: one row per load day and source."
    ),
    "monitoring.check_failures_daily": (
        "Per day and stage: checks run and failed, and which. Grain: one row per day and stage."
    ),
    "monitoring.business_impact": (
        "The current period's money: ordering from the served forecasts against the cheaper "
        "naive baseline at the same origins, simulated on the days sold since. "
        "Grain: one row per monitoring run."
    ),
}
HASH_LENGTH = 16
MASK_STRENGTH = {"none": 0, "hash": 1, "redact": 2}


@dataclass
class PublishResult:
    path: Path
    published: bool = False  # renamed into place; False: refused, the previous file stays
    tables: dict[str, int] = field(default_factory=dict)  # schema.table -> rows
    masked_columns: dict[str, dict[str, str]] = field(default_factory=dict)
    checks: list[CheckOutcome] = field(default_factory=list)  # the verification of the file
    bytes: int = 0
    copied: list[str] = field(default_factory=list)  # tables copied again; the rest were kept

    @property
    def refusal(self) -> str:
        """Why the snapshot was not published, one clause per failed check."""
        return "; ".join(f"{c.name}: {c.description}" for c in self.checks if not c.passed)


def declared_masks(con: duckdb.DuckDBPyConnection, graph: ModelGraph) -> dict[str, dict[str, str]]:
    """For each built model, column -> mask: declared in its header, or inherited through the
    column lineage from a masked column of an upstream model (the strongest mask among them)."""
    masks: dict[str, dict[str, str]] = {}
    for name in graph.order:
        model = graph.models[name]
        if not table_exists(con, model.schema, model.name):
            continue
        columns = [row[0] for row in con.execute(f"describe {model.relation}").fetchall()]
        inherited: dict[str, str] = {}
        for column, sources in column_lineage(con, model, columns).items():
            upstream = [masks.get(table, {}).get(source) for table, source in sources]
            upstream = [m for m in upstream if m and m != "none"]
            if upstream:
                inherited[column] = max(upstream, key=MASK_STRENGTH.__getitem__)
        masks[name] = {**inherited, **model.header.pii}
    return masks


def masked_expression(column: str, data_type: str, mask: str | None) -> str:
    name = quote_identifier(column)
    if mask == "hash":
        return f"left(sha256({name}::varchar), {HASH_LENGTH}) as {name}"
    if mask == "redact":
        if data_type.upper() == "VARCHAR":
            return f"case when {name} is null then null else '{REDACTED}' end as {name}"
        return f"null::{data_type} as {name}"
    return name


def publish_analyst_database(
    con: duckdb.DuckDBPyConnection, graph: ModelGraph, target: Path, run_id: str
) -> PublishResult:
    """Copy every built model into a fresh file, masked, verify the file, and rename it over
    `target` only if the verification passed; otherwise delete it and leave `target` as it was.
    The fresh file starts as a copy of `target`, and only the tables whose source changed since
    are copied again (analyst_refresh.py)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.building")
    result = PublishResult(path=target)
    try:
        _write_snapshot(con, graph, building, target, run_id, result)
        result.checks = verify_snapshot(con, graph, building)
    except BaseException:
        building.unlink(missing_ok=True)
        raise
    if not all(check.passed for check in result.checks):
        building.unlink()
        return result
    os.replace(building, target)
    result.published = True
    result.bytes = target.stat().st_size
    return result


def _write_snapshot(
    con, graph: ModelGraph, building: Path, target: Path, run_id: str, result: PublishResult
) -> None:
    alias = "analyst_snapshot"
    masks = declared_masks(con, graph)
    versions = model_source_versions(con, graph, masks)
    previous = previous_catalog(target)
    if previous:
        shutil.copyfile(target, building)
    skipped = (
        dict(con.execute("select model, reason from governance.skipped_models").fetchall())
        if table_exists(con, "governance", "skipped_models")
        else {}
    )
    con.execute(f"attach {quote_literal(str(building))} as {alias}")
    try:
        for schema in (*PUBLISHED_SCHEMAS, "governance"):
            con.execute(f"create schema if not exists {alias}.{schema}")
        catalog_rows = []
        for name in graph.order:
            model = graph.models[name]
            if not table_exists(con, model.schema, model.name):
                continue  # not built yet (a first run that stopped early): nothing to publish
            model_masks = masks.get(name, {})
            kept = _unchanged(con, alias, name, versions[name], previous)
            if kept:
                result.tables[name] = kept["row_count"]
                _note_masks(result, name, model_masks)
                catalog_rows.append(tuple(kept[column] for column in CATALOG_COLUMNS))
                continue
            con.execute(f"drop table if exists {alias}.{model.relation}")
            rows = _copy_model(con, alias, model, model_masks, result)
            catalog_rows.append(
                _catalog_row(model, model_masks, rows, run_id, skipped.get(name), versions[name])
            )
        _write_governance(con, alias, catalog_rows)
        _copy_ml_tables(con, alias, run_id, result, previous)
    finally:
        con.execute(f"detach {alias}")  # checkpoints and closes the file: no WAL left beside it


def _unchanged(con, alias: str, name: str, version: str | None, previous: dict) -> dict | None:
    """The previous catalog row when the table is in the copied file with this source version."""
    kept = previous.get(name)
    if version is None or not kept or kept["source_version"] != version:
        return None
    schema, table = name.split(".")
    found = con.execute(
        "select count(*) from information_schema.tables "
        "where table_catalog = ? and table_schema = ? and table_name = ?",
        [alias, schema, table],
    ).fetchone()[0]
    return kept if found else None


def _note_masks(result: PublishResult, name: str, masks: dict) -> None:
    masked = {column: mask for column, mask in masks.items() if mask != "none"}
    if masked:
        result.masked_columns[name] = masked


def _copy_model(con, alias: str, model: SqlModel, masks: dict, result: PublishResult) -> int:
    source = model.relation
    columns = con.execute(f"describe {source}").fetchall()
    unknown = set(model.header.pii) - {c[0] for c in columns}
    if unknown:
        raise ValueError(
            f"{model.path}: pii names column(s) {sorted(unknown)} that {model.qualified_name} "
            "does not have; they would be published unmasked under another name"
        )
    select = ", ".join(
        masked_expression(name, data_type, masks.get(name)) for name, data_type, *_ in columns
    )
    target = f"{alias}.{model.relation}"
    con.execute(f"create table {target} as select {select} from {source}")
    rows = con.execute(f"select count(*) from {target}").fetchone()[0]
    result.tables[model.qualified_name] = rows
    result.copied.append(model.qualified_name)
    _note_masks(result, model.qualified_name, masks)
    return rows


def _copy_ml_tables(con, alias: str, run_id: str, result: PublishResult, previous: dict) -> None:
    rows = []
    for name, description in ML_TABLES.items():
        schema, table = name.split(".")
        if not table_exists(con, schema, table):
            continue
        version = table_source_version(con, name)
        kept = _unchanged(con, alias, name, version, previous)
        if kept:
            result.tables[name] = kept["row_count"]
            rows.append(tuple(kept[column] for column in CATALOG_COLUMNS))
            continue
        con.execute(f"create schema if not exists {alias}.{schema}")
        con.execute(f"drop table if exists {alias}.{name}")
        con.execute(f"create table {alias}.{name} as select * from {name}")
        count = con.execute(f"select count(*) from {alias}.{name}").fetchone()[0]
        result.tables[name] = count
        result.copied.append(name)
        now = datetime.now(UTC).replace(tzinfo=None)
        rows.append(
            (schema, table, description, "team:data", count, [], None, run_id, now, None, version)
        )
    insert_rows(con, f"{alias}.governance.catalog", CATALOG_COLUMNS, rows)


def _catalog_row(
    model: SqlModel, masks: dict, rows: int, run_id: str, skipped: str | None, version
) -> tuple:
    return (
        model.schema,
        model.name,
        model.header.description,
        model.header.owner,
        rows,
        [f"{column} ({mask})" for column, mask in sorted(masks.items()) if mask != "none"],
        model.code_version,
        run_id,
        datetime.now(UTC).replace(tzinfo=None),
        skipped,
        version,
    )


CATALOG_COLUMNS = [
    "table_schema",
    "table_name",
    "description",
    "owner",
    "row_count",
    "masked_columns",
    "code_version",
    "run_id",
    "published_at",
    "skipped",
    "source_version",
]


def _write_governance(con, alias: str, catalog_rows: list[tuple]) -> None:
    # Written anew each time: the catalog says what this snapshot holds, the checks grow.
    con.execute(f"drop table if exists {alias}.governance.catalog")
    con.execute(f"drop table if exists {alias}.governance.check_results")
    con.execute(
        f"""create table {alias}.governance.catalog (
            table_schema varchar, table_name varchar, description varchar, owner varchar,
            row_count bigint, masked_columns varchar[], code_version varchar, run_id varchar,
            published_at timestamp,
            skipped varchar, -- why the table is empty: its inputs have no source
            source_version varchar -- what it was copied from (analyst_refresh.py)
        )"""
    )
    insert_rows(con, f"{alias}.governance.catalog", CATALOG_COLUMNS, catalog_rows)
    if table_exists(con, "governance", "check_results"):
        con.execute(
            f"create table {alias}.governance.check_results as "
            # A failing test keeps sample rows of the table it tested, PII included, in the
            # warehouse; analysts get the counts without them.
            "select * replace (case when observed is null then null "
            """else json_merge_patch(observed, '{"sample": null}') end as observed) """
            "from governance.check_results"
        )
