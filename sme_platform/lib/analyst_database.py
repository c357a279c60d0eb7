"""The analyst database: a read-only snapshot of the validated tables, with PII masked.

DuckDB lets one process write a file, and a reader in another process fails while it does. So
analysts never open the warehouse: each successful run writes a fresh file next to it and
renames it into place (atomic on one filesystem). A reader keeps the file it opened, the next
connection sees the new one: no one sees a lock error or a half-written table.

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

from sme_platform.lib.access import share_with_analysts
from sme_platform.lib.analyst_ml_tables import ML_TABLES, append_audit_entries
from sme_platform.lib.analyst_refresh import (
    model_sources,
    previous_catalog,
    replayable_ranges,
    table_source_version,
)
from sme_platform.lib.analyst_verification import REDACTED, verify_snapshot
from sme_platform.lib.audit.log import AUDIT_TABLE, record_event, run_actor
from sme_platform.lib.governance import CheckOutcome
from sme_platform.lib.sql_models.build import column_lineage
from sme_platform.lib.sql_models.graph import LAYERS, ModelGraph, SqlModel
from sme_platform.lib.sql_models.incremental import describe_ranges, range_predicate
from sme_platform.lib.warehouse import insert_rows, quote_identifier, quote_literal, table_exists

PUBLISHED_SCHEMAS = LAYERS  # every layer of SQL models, and nothing of raw or quarantine
# What the snapshot holds, table by table (the platform's asset catalog is governance.catalog).
PUBLISHED_TABLES = "governance.published_tables"
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
    copied: list[str] = field(default_factory=list)  # tables copied again whole
    replayed: dict[str, str] = field(default_factory=dict)  # incremental: the days replaced

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
    con: duckdb.DuckDBPyConnection, graph: ModelGraph, target: Path, run_id: str, fresh=False
) -> PublishResult:
    """Copy every built model into a fresh file, masked, verify the file, and rename it over
    `target` only if the verification passed; otherwise delete it and leave `target` as it was.
    The fresh file starts as a copy of `target`, and only the tables whose source changed since
    are copied again (analyst_refresh.py); `fresh`: into an empty file (after an erasure)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.building")
    result = PublishResult(path=target)
    try:
        _write_snapshot(con, graph, building, target if not fresh else None, run_id, result)
        result.checks = verify_snapshot(con, graph, building)
    except BaseException:
        building.unlink(missing_ok=True)
        raise
    if not all(check.passed for check in result.checks):
        building.unlink()
        return result
    share_with_analysts(building)  # the one file meant for analysts
    os.replace(building, target)
    result.published = True
    result.bytes = target.stat().st_size
    record_event(
        con,
        event="published",
        subject="analyst_database",
        actor=run_actor(run_id),
        reason=f"snapshot of {len(result.tables)} tables published for analysts "
        f"({len(result.copied)} copied again, the rest unchanged)",
        details={"path": str(target), "size_bytes": result.bytes, "copied": result.copied},
        run_id=run_id,
    )
    return result


def _write_snapshot(
    con, graph: ModelGraph, building: Path, target: Path | None, run_id: str, result: PublishResult
) -> None:
    """`target`: the published file to start from, or None to start from an empty one."""
    alias = "analyst_snapshot"
    masks = declared_masks(con, graph)
    sources = model_sources(con, graph, masks)
    previous = previous_catalog(target) if target is not None else {}
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
            source = sources[name]
            kept = _unchanged(con, alias, name, source.version, previous)
            if kept:
                result.tables[name] = kept["row_count"]
                _note_masks(result, name, model_masks)
                catalog_rows.append(tuple(kept[column] for column in CATALOG_COLUMNS))
                continue
            ranges = replayable_ranges(con, model, previous.get(name), model_masks)
            if ranges is not None and _in_snapshot(con, alias, name):
                rows = _replay_ranges(con, alias, model, model_masks, ranges, result)
            else:
                con.execute(f"drop table if exists {alias}.{model.relation}")
                rows = _copy_model(con, alias, model, model_masks, result)
            catalog_rows.append(
                _catalog_row(model, model_masks, rows, run_id, skipped.get(name), source)
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
    return kept if _in_snapshot(con, alias, name) else None


def _in_snapshot(con, alias: str, name: str) -> bool:
    schema, table = name.split(".")
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() "
            "where database_name = ? and schema_name = ? and table_name = ?",
            [alias, schema, table],
        ).fetchone()[0]
    )


def _note_masks(result: PublishResult, name: str, masks: dict) -> None:
    masked = {column: mask for column, mask in masks.items() if mask != "none"}
    if masked:
        result.masked_columns[name] = masked


def _copy_model(con, alias: str, model: SqlModel, masks: dict, result: PublishResult) -> int:
    target = f"{alias}.{model.relation}"
    con.execute(
        f"create table {target} as select {_masked_select(con, model, masks)} from {model.relation}"
    )
    rows = con.execute(f"select count(*) from {target}").fetchone()[0]
    result.tables[model.qualified_name] = rows
    result.copied.append(model.qualified_name)
    _note_masks(result, model.qualified_name, masks)
    return rows


def _replay_ranges(
    con, alias: str, model: SqlModel, masks: dict, ranges: list, result: PublishResult
) -> int:
    """Replace in the copy the days the model's incremental builds replaced since."""
    target = f"{alias}.{model.relation}"
    in_ranges = range_predicate(model.header.incremental.time_column, ranges)
    con.execute(f"delete from {target} where {in_ranges}")
    con.execute(
        f"insert into {target} select {_masked_select(con, model, masks)} "
        f"from {model.relation} where {in_ranges}"
    )
    rows = con.execute(f"select count(*) from {target}").fetchone()[0]
    result.tables[model.qualified_name] = rows
    result.replayed[model.qualified_name] = describe_ranges(ranges)
    _note_masks(result, model.qualified_name, masks)
    return rows


def _masked_select(con, model: SqlModel, masks: dict) -> str:
    columns = con.execute(f"describe {model.relation}").fetchall()
    unknown = set(model.header.pii) - {c[0] for c in columns}
    if unknown:
        raise ValueError(
            f"{model.path}: pii names column(s) {sorted(unknown)} that {model.qualified_name} "
            "does not have; they would be published unmasked under another name"
        )
    return ", ".join(
        masked_expression(name, data_type, masks.get(name)) for name, data_type, *_ in columns
    )


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
        appended = (
            append_audit_entries(con, alias, _in_snapshot(con, alias, name))
            if name == AUDIT_TABLE and name in previous
            else None
        )
        if appended is not None:
            result.replayed[name] = appended
        else:
            con.execute(f"create schema if not exists {alias}.{schema}")
            con.execute(f"drop table if exists {alias}.{name}")
            con.execute(f"create table {alias}.{name} as select * from {name}")
            result.copied.append(name)
        count = con.execute(f"select count(*) from {alias}.{name}").fetchone()[0]
        result.tables[name] = count
        row = {
            "table_schema": schema,
            "table_name": table,
            "description": description,
            "owner": "team:data",
            "row_count": count,
            "masked_columns": [],
            "run_id": run_id,
            "published_at": datetime.now(UTC).replace(tzinfo=None),
            "source_version": version,
        }
        rows.append(tuple(row.get(column) for column in CATALOG_COLUMNS))
    insert_rows(con, f"{alias}.{PUBLISHED_TABLES}", CATALOG_COLUMNS, rows)


def _catalog_row(
    model: SqlModel, masks: dict, rows: int, run_id: str, skipped: str | None, source
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
        source.version,
        source.built_at,
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
    "source_built_at",
]


def _write_governance(con, alias: str, catalog_rows: list[tuple]) -> None:
    # Written anew each time: the catalog says what this snapshot holds, the checks grow.
    con.execute(f"drop table if exists {alias}.{PUBLISHED_TABLES}")
    con.execute(f"drop table if exists {alias}.governance.check_results")
    con.execute(
        f"""create table {alias}.{PUBLISHED_TABLES} (
            table_schema varchar, table_name varchar, description varchar, owner varchar,
            row_count bigint, masked_columns varchar[], code_version varchar, run_id varchar,
            published_at timestamp,
            skipped varchar, -- why the table is empty: its inputs have no source
            source_version varchar, -- what it was copied from (analyst_refresh.py)
            source_built_at timestamp -- the build copied, for a model
        )"""
    )
    insert_rows(con, f"{alias}.{PUBLISHED_TABLES}", CATALOG_COLUMNS, catalog_rows)
    if table_exists(con, "governance", "check_results"):
        con.execute(
            f"create table {alias}.governance.check_results as "
            # A failing test keeps sample rows of the table it tested, PII included, in the
            # warehouse; analysts get the counts without them.
            "select * replace (case when observed is null then null "
            """else json_merge_patch(observed, '{"sample": null}') end as observed) """
            "from governance.check_results"
        )
