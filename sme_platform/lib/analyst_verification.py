"""The gate before the analyst database is published: the `.building` file is read back and
judged against the warehouse, before it is renamed into place.

Two checks, both blocking:
- `pii_masked`: every column that holds PII is masked in the file. Which columns those are is
  derived here, not taken from the publisher: from the PII tags of the canonical contracts
  (lib/canonical.py), followed through the column lineage of the SQL models, with a header's
  own declaration (a mask, or `none`) taking precedence for its model. So a model that reads a
  PII column of a raw table and forgets to declare it publishes that column unmasked, and this
  check refuses the file, naming the table and column.
- `published_rows_match_warehouse`: every built model is in the file with the warehouse's rows.

Masked is judged on the values: a redacted column holds only NULL or `[redacted]`; a hashed one
only NULL, `[redacted]` (stronger) or 16 hex characters that are not among the column's values in
the warehouse (a raw value that merely looks like a hash is still a leak).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from sme_platform.lib.canonical import CANONICAL_TABLES
from sme_platform.lib.governance import CheckOutcome
from sme_platform.lib.sql_models.build import column_lineage
from sme_platform.lib.sql_models.graph import ModelGraph
from sme_platform.lib.warehouse import quote_identifier, quote_literal

REDACTED = "[redacted]"
STRENGTH = {"hash": 1, "redact": 2}
SNAPSHOT_ALIAS = "analyst_verified"


@dataclass(frozen=True)
class RequiredMask:
    mask: str  # hash (hash or stronger) | redact
    because: str  # where the requirement comes from, for the failure message


def required_masks(
    con: duckdb.DuckDBPyConnection, graph: ModelGraph
) -> dict[str, dict[str, RequiredMask]]:
    """Model -> column -> the mask it must carry, for every model built in the warehouse."""
    required: dict[str, dict[str, RequiredMask]] = {
        f"raw.{name}": {
            column: RequiredMask("hash", f"PII in the canonical contract of raw.{name}")
            for column in table.pii_columns
        }
        for name, table in CANONICAL_TABLES.items()
    }
    for name in graph.order:
        model = graph.models[name]
        columns = _columns(con, "", model.schema, model.name)
        if columns is None:
            continue  # not built
        masks: dict[str, RequiredMask] = {}
        for column, sources in column_lineage(con, model, list(columns)).items():
            upstream = [
                (required[table][source].mask, f"{table}.{source}")
                for table, source in sources
                if source in required.get(table, {})
            ]
            if upstream:
                mask, origin = max(upstream, key=lambda pair: STRENGTH[pair[0]])
                masks[column] = RequiredMask(
                    mask,
                    f"derived from {origin}; declare it in the pii of {model.path.name}: "
                    "hash, redact, or none if it is not PII",
                )
        for column, mask in model.header.pii.items():
            if mask == "none":
                masks.pop(column, None)  # the header says: derived from PII, not PII itself
            else:
                masks[column] = RequiredMask(mask, f"declared in {model.path.name}")
        required[name] = masks
    return {name: masks for name, masks in required.items() if not name.startswith("raw.")}


def verify_snapshot(
    con: duckdb.DuckDBPyConnection, graph: ModelGraph, snapshot: Path
) -> list[CheckOutcome]:
    """The two checks of the file at `snapshot`, judged against the warehouse `con` holds."""
    required = required_masks(con, graph)
    con.execute(f"attach {quote_literal(str(snapshot))} as {SNAPSHOT_ALIAS} (read_only)")
    try:
        leaks, mismatches, masked, checked = [], [], 0, 0
        for name in graph.order:
            model = graph.models[name]
            if _columns(con, "", model.schema, model.name) is None:
                continue
            checked += 1
            published = _columns(con, SNAPSHOT_ALIAS, model.schema, model.name)
            if published is None:
                mismatches.append(f"{name}: built in the warehouse, missing from the snapshot")
                continue
            for column, requirement in required.get(name, {}).items():
                masked += 1
                unmasked = _unmasked_values(con, model.relation, column, requirement.mask)
                if unmasked:
                    leaks.append(
                        f"{name}.{column}: {unmasked} unmasked value(s), must be "
                        f"{requirement.mask}ed ({requirement.because})"
                    )
            copied, original = con.execute(
                f"select (select count(*) from {SNAPSHOT_ALIAS}.{model.relation}), "
                f"(select count(*) from {model.relation})"
            ).fetchone()
            if copied != original:
                mismatches.append(f"{name}: {copied} rows published, {original} in the warehouse")
    finally:
        con.execute(f"detach {SNAPSHOT_ALIAS}")
    return [
        CheckOutcome(
            "pii_masked",
            not leaks,
            "error",
            "; ".join(leaks)
            if leaks
            else f"{masked} PII column(s) masked, as the canonical contracts and headers require",
            {"leaks": leaks, "pii_columns": masked},
        ),
        CheckOutcome(
            "published_rows_match_warehouse",
            not mismatches,
            "error",
            "; ".join(mismatches) if mismatches else f"{checked} model tables, rows as built",
            {"mismatches": mismatches, "tables": checked},
        ),
    ]


def _columns(con, catalog: str, schema: str, table: str) -> list[str] | None:
    """The table's columns in `catalog` (the warehouse when empty), None if it is not there."""
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_catalog = coalesce(nullif(?, ''), current_database()) "
        "and table_schema = ? and table_name = ? order by ordinal_position",
        [catalog, schema, table],
    ).fetchall()
    return [row[0] for row in rows] or None


def _unmasked_values(con, relation: str, column: str, mask: str) -> int:
    name = quote_identifier(column)
    value = f"{name}::varchar"
    condition = f"{name} is not null and {value} <> '{REDACTED}'"
    if mask == "hash":
        # A hash is 16 hex characters and never one of the values it hides.
        condition += (
            f" and (not regexp_full_match({value}, '[0-9a-f]{{16}}') or {value} in "
            f"(select {value} from {relation} where {name} is not null))"
        )
    return con.execute(
        f"select count(*) from {SNAPSHOT_ALIAS}.{relation} where {condition}"
    ).fetchone()[0]
