"""What the analyst database must copy again: the tables whose source changed since it was
published.

Each table of a snapshot is published with a source version, kept in its governance.catalog
row: for a SQL model, the data version of its last build (governance.model_builds) with the
masks applied to it; for an ML table, its row count and a hash of all its rows. The next
snapshot starts as a copy of the published file (a file copy: seconds for gigabytes, against
re-reading and re-masking every table) and copies again only the tables whose version differs,
so a night that rebuilt one mart rewrites one mart; it is still verified whole and renamed into
place, as before.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb

from sme_platform.lib.sql_models.graph import ModelGraph
from sme_platform.lib.warehouse import quote_literal, table_exists

PREVIOUS_ALIAS = "analyst_previous"


def model_source_versions(
    con: duckdb.DuckDBPyConnection, graph: ModelGraph, masks: dict[str, dict[str, str]]
) -> dict[str, str | None]:
    """schema.table -> source version of every model (None: no build on record, always copied)."""
    builds: dict[str, str] = {}
    if table_exists(con, "governance", "model_builds"):
        builds = dict(
            con.execute(
                """select model, data_version from governance.model_builds
                   qualify row_number() over (partition by model order by built_at desc) = 1"""
            ).fetchall()
        )
    return {
        name: _digest([builds[name], sorted(masks.get(name, {}).items())])
        if name in builds
        else None
        for name in graph.order
    }


def table_source_version(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """A table's content as one hash: what an ML table, with no build record, is versioned by."""
    count, content = con.execute(f"select count(*), bit_xor(hash(t)) from {name} t").fetchone()
    return _digest([count, content])


def previous_catalog(target: Path) -> dict[str, dict]:
    """The published snapshot's catalog rows with a source version, by schema.table; empty when
    there is no snapshot or it is of an earlier layout (then every table is copied)."""
    if not target.is_file():
        return {}
    con = duckdb.connect()
    try:
        con.execute(f"attach {quote_literal(str(target))} as {PREVIOUS_ALIAS} (read_only)")
        columns = {
            row[0]
            for row in con.execute(
                "select column_name from information_schema.columns where table_catalog = ? "
                "and table_schema = 'governance' and table_name = 'catalog'",
                [PREVIOUS_ALIAS],
            ).fetchall()
        }
        if "source_version" not in columns:
            return {}
        cursor = con.execute(f"select * from {PREVIOUS_ALIAS}.governance.catalog")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.Error:
        return {}  # unreadable: published again in full
    finally:
        con.close()
    return {f"{row['table_schema']}.{row['table_name']}": row for row in rows}


def _digest(payload) -> str:
    return hashlib.sha256(json.dumps(payload, default=str).encode()).hexdigest()[:16]
