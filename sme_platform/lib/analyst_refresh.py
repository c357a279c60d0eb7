"""What the analyst database must copy again: the tables whose source changed since it was
published.

Each table of a snapshot is published with a source version, kept in its governance.published_tables
row: for a SQL model, the data version of its last build (governance.model_builds) with the
masks applied to it; for an ML table, its row count and a hash of all its rows. The next
snapshot starts as a copy of the published file (a file copy: seconds for gigabytes, against
re-reading and re-masking every table) and copies again only the tables whose version differs,
so a night that rebuilt one mart rewrites one mart. An incremental model is not even copied
whole: the day ranges its builds since replaced are replaced in the copy too (replayable_ranges).
The file is still verified whole and renamed into place, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from sme_platform.lib.code_version import json_digest
from sme_platform.lib.sql_models.graph import ModelGraph, SqlModel
from sme_platform.lib.sql_models.incremental import DayRange, merge_ranges
from sme_platform.lib.sql_models.up_to_date import builds_since
from sme_platform.lib.warehouse import quote_literal, table_exists

PREVIOUS_ALIAS = "analyst_previous"


@dataclass(frozen=True)
class SourceBuild:
    version: str | None  # None: no build on record, always copied in full
    built_at: datetime | None


def model_sources(
    con: duckdb.DuckDBPyConnection, graph: ModelGraph, masks: dict[str, dict[str, str]]
) -> dict[str, SourceBuild]:
    """schema.table -> the source version and the build it comes from, for every model."""
    builds: dict[str, tuple[str, datetime]] = {}
    if table_exists(con, "governance", "model_builds"):
        builds = {
            model: (version, built_at)
            for model, version, built_at in con.execute(
                """select model, data_version, built_at from governance.model_builds
                   qualify row_number() over (partition by model order by built_at desc) = 1"""
            ).fetchall()
        }
    return {
        name: SourceBuild(source_version(builds[name][0], masks.get(name, {})), builds[name][1])
        if name in builds
        else SourceBuild(None, None)
        for name in graph.order
    }


def source_version(data_version: str, masks: dict[str, str]) -> str:
    return json_digest([data_version, sorted(masks.items())])


def replayable_ranges(
    con: duckdb.DuckDBPyConnection, model: SqlModel, previous: dict | None, masks: dict
) -> list[DayRange] | None:
    """The day ranges an incremental model rebuilt since the snapshot's copy of it, when
    replaying them on that copy gives the model's table: the copy is of a build with the same
    masks, and every build since was incremental or a full build of the copy's data version
    (a `--full-refresh` of the same data: the same rows, nothing to replay up to it). None:
    copy it whole."""
    if model.header.incremental is None or not previous or not previous.get("source_built_at"):
        return None
    copied = con.execute(
        "select data_version from governance.model_builds where model = ? and built_at = ?",
        [model.qualified_name, previous["source_built_at"]],
    ).fetchone()
    if copied is None or source_version(copied[0], masks) != previous["source_version"]:
        return None
    builds = builds_since(con, model.qualified_name, previous["source_built_at"])
    ranges: list[DayRange] = []
    for build in builds:
        if build.mode == "incremental":
            ranges.extend(build.ranges)
        elif build.data_version == copied[0]:
            ranges = []  # rebuilt whole into the rows the snapshot has
        else:
            return None
    return merge_ranges(ranges) if ranges else None


def table_source_version(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """A table's content as one hash: what an ML table, with no build record, is versioned by."""
    count, content = con.execute(f"select count(*), bit_xor(hash(t)) from {name} t").fetchone()
    return json_digest([count, content])


def previous_catalog(target: Path) -> dict[str, dict]:
    """The published snapshot's catalog rows with a source version, by schema.table; empty when
    there is no snapshot or it is of an earlier layout (then every table is copied)."""
    if not target.is_file():
        return {}
    con = duckdb.connect()
    try:
        con.execute(f"attach {quote_literal(str(target))} as {PREVIOUS_ALIAS} (read_only)")
        # governance.catalog in snapshots from before the asset catalog took that name
        for table in ("published_tables", "catalog"):
            columns = {
                row[0]
                for row in con.execute(
                    "select column_name from information_schema.columns where table_catalog = ? "
                    "and table_schema = 'governance' and table_name = ?",
                    [PREVIOUS_ALIAS, table],
                ).fetchall()
            }
            if "source_version" in columns:
                break
        else:
            return {}
        cursor = con.execute(f"select * from {PREVIOUS_ALIAS}.governance.{table}")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.Error:
        return {}  # unreadable: published again in full
    finally:
        con.close()
    return {f"{row['table_schema']}.{row['table_name']}": row for row in rows}
