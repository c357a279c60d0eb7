"""The analyst database: a read-only snapshot of the validated tables, with PII masked.

DuckDB lets one process write a file, and a reader in another process fails while it does. So
analysts never open the warehouse: each successful run writes a fresh file next to it and
renames it into place (atomic on one filesystem). A reader that opened the old file keeps
reading it; the next connection sees the new one; no one sees a lock error or a half-written
table. PII columns are masked as the models' headers say: `hash` keeps joins and counts
working (same input, same 16 hex characters), `redact` removes the value. PII also follows the
column lineage: a column computed from a PII column upstream (the canonical contracts tag the
raw ones) is masked like its source even if its model's header forgets it, unless the header
declares it `none`. A forgotten tag over-masks; it never leaks.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from sme_platform.lib.canonical import CANONICAL_TABLES
from sme_platform.lib.sql_models.build import column_lineage
from sme_platform.lib.sql_models.graph import ModelGraph, SqlModel
from sme_platform.lib.warehouse import quote_identifier, quote_literal, table_exists

PUBLISHED_SCHEMAS = ("staging", "marts", "reports")
REDACTED = "[redacted]"
HASH_LENGTH = 16


@dataclass
class PublishResult:
    path: Path
    tables: dict[str, int] = field(default_factory=dict)  # schema.table -> rows
    masked_columns: dict[str, dict[str, str]] = field(default_factory=dict)
    bytes: int = 0


MASK_STRENGTH = {"none": 0, "hash": 1, "redact": 2}
INHERITED_FROM_RAW = "redact"


def effective_pii(con: duckdb.DuckDBPyConnection, graph: ModelGraph) -> dict[str, dict[str, str]]:
    """For each built model, column -> mask: declared in its header, or inherited through the
    column lineage from a PII column upstream (the strongest mask among its sources)."""
    masks: dict[str, dict[str, str]] = {
        f"raw.{name}": dict.fromkeys(table.pii_columns, INHERITED_FROM_RAW)
        for name, table in CANONICAL_TABLES.items()
    }
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
    return {name: m for name, m in masks.items() if not name.startswith("raw.")}


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
    """Copy every built model into a fresh file, masked, and rename it over `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.building")
    result = PublishResult(path=target)
    alias = "analyst_snapshot"
    pii = effective_pii(con, graph)
    con.execute(f"attach {quote_literal(str(building))} as {alias}")
    try:
        for schema in PUBLISHED_SCHEMAS:
            con.execute(f"create schema {alias}.{schema}")
        catalog_rows = []
        for name in graph.order:
            model = graph.models[name]
            if not table_exists(con, model.schema, model.name):
                continue  # not built yet (a first run that stopped early): nothing to publish
            masks = pii.get(name, {})
            rows = _copy_model(con, alias, model, masks, result)
            catalog_rows.append(_catalog_row(model, masks, rows, run_id))
        _write_governance(con, alias, catalog_rows)
    except BaseException:
        con.execute(f"detach {alias}")
        building.unlink(missing_ok=True)
        raise
    con.execute(f"detach {alias}")  # checkpoints and closes the file: no WAL left beside it
    os.replace(building, target)
    result.bytes = target.stat().st_size
    return result


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
    masked = {column: mask for column, mask in masks.items() if mask != "none"}
    if masked:
        result.masked_columns[model.qualified_name] = masked
    return rows


def _catalog_row(model: SqlModel, masks: dict, rows: int, run_id: str) -> tuple:
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
    )


def _write_governance(con, alias: str, catalog_rows: list[tuple]) -> None:
    con.execute(f"create schema {alias}.governance")
    con.execute(
        f"""create table {alias}.governance.catalog (
            table_schema varchar, table_name varchar, description varchar, owner varchar,
            row_count bigint, masked_columns varchar[], code_version varchar, run_id varchar,
            published_at timestamp
        )"""
    )
    con.executemany(
        f"insert into {alias}.governance.catalog values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        catalog_rows,
    )
    if table_exists(con, "governance", "check_results"):
        con.execute(
            f"create table {alias}.governance.check_results as "
            "select * from governance.check_results"
        )


def verify_analyst_database(
    con: duckdb.DuckDBPyConnection,
    graph: ModelGraph,
    target: Path,
    pii: dict[str, dict[str, str]],
) -> list[tuple[str, bool, str]]:
    """Read the published file back: (check name, passed, description) for its two checks.
    `pii`: the masks it must hold, per model (`PublishResult.masked_columns`)."""
    alias = "analyst_published"
    con.execute(f"attach {quote_literal(str(target))} as {alias} (read_only)")
    try:
        published = {
            (schema, table)
            for schema, table in con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = ?",
                [alias],
            ).fetchall()
        }
        leaks, mismatches, checked = [], [], 0
        for model in graph.models.values():
            if (model.schema, model.name) not in published:
                continue
            checked += 1
            relation = model.relation
            for column, mask in pii.get(model.qualified_name, {}).items():
                if mask == "none":
                    continue
                name = quote_identifier(column)
                unmasked = (
                    f"{name} is not null and not regexp_full_match({name}, '[0-9a-f]{{16}}')"
                    if mask == "hash"
                    else f"{name} is not null and {name}::varchar <> '{REDACTED}'"
                )
                count = con.execute(
                    f"select count(*) from {alias}.{relation} where {unmasked}"
                ).fetchone()[0]
                if count:
                    leaks.append(f"{model.qualified_name}.{column}: {count} unmasked")
            copied, original = con.execute(
                f"select (select count(*) from {alias}.{relation}), "
                f"(select count(*) from {relation})"
            ).fetchone()
            if copied != original:
                mismatches.append(f"{model.qualified_name}: {copied} published, {original} built")
    finally:
        con.execute(f"detach {alias}")
    masked = sum(1 for masks in pii.values() for mask in masks.values() if mask != "none")
    return [
        (
            "pii_masked",
            not leaks,
            "; ".join(leaks)
            if leaks
            else f"{masked} PII column(s) masked, as declared or inherited through column lineage",
        ),
        (
            "published_rows_match_warehouse",
            not mismatches,
            "; ".join(mismatches) if mismatches else f"{checked} model tables, rows as built",
        ),
    ]
