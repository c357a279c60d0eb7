"""Whether a SQL model must be built again: its data version against its last published build.

A model's data version is the hash of what decides its rows: its code (the SQL, its header with
the tests, its expectation suite), the platform's build code, what the project lacks (a model
built empty for an absent source, tests skipped), and the data versions of what it reads. A raw
table's data version is the sha256s of the files loaded into it with its row count (a row
erased or edited in place changes the count or, through the next load, the files); a model's is
the one recorded at its last published build. A model whose data version equals its last
published build's, with its table in place, is up to date: not built again, its tests not run
again (`governance.model_builds` keeps one row per published build).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb

from sme_platform.lib.code_version import json_digest, modules_hash
from sme_platform.lib.governance import CheckOutcome
from sme_platform.lib.sql_models.graph import SqlModel
from sme_platform.lib.warehouse import table_exists

BUILDS_TABLE = "governance.model_builds"
# A run carrying this tag rebuilds every model it selects (`sme-platform run --full-refresh`).
FULL_REFRESH_TAG = "sme_platform/full_refresh"
# The modules of sql_models/ whose code decides a build's rows and test results.
BUILD_MODULE_PREFIXES = ("build", "data_tests", "expectations", "incremental", "planned_build")


@dataclass(frozen=True)
class Build:
    model: str
    data_version: str
    run_id: str
    built_at: datetime
    row_count: int
    mode: str = "full"  # or incremental: only `ranges` rebuilt
    ranges: tuple = ()  # (first day, last day) pairs of an incremental build
    code_version: str = ""  # model_code_fingerprint at the build

    @classmethod
    def from_row(cls, row) -> Build:
        *head, mode, ranges, code_version = row
        days = tuple(
            (date.fromisoformat(start), date.fromisoformat(end))
            for start, end in json.loads(ranges or "[]")
        )
        return cls(*head, mode or "full", days, code_version or "")


def build_code_version() -> str:
    """The platform's code that builds and tests a model: a change there rebuilds every model."""
    import importlib
    import pkgutil

    from sme_platform.lib import sql_models

    names = sorted(
        module.name
        for module in pkgutil.iter_modules(sql_models.__path__)
        if module.name.startswith(BUILD_MODULE_PREFIXES)
    )
    return modules_hash(*(importlib.import_module(f"{sql_models.__name__}.{n}") for n in names))


def raw_data_version(con: duckdb.DuckDBPyConnection, table: str) -> str:
    if not table_exists(con, "raw", table):
        return "absent"
    files = ""
    if table_exists(con, "raw", "file_loads"):
        files = con.execute(
            """select coalesce(string_agg(sha256, ',' order by sha256), '')
               from raw.file_loads where table_name = ? and status = 'loaded'""",
            [table],
        ).fetchone()[0]
    rows = con.execute(f"select count(*) from raw.{table}").fetchone()[0]
    return json_digest({"files": files, "rows": rows})


def model_code_fingerprint(
    model: SqlModel,
    skipped: str | None,
    skipped_tests: Mapping[str, str],
    platform_version: str,
) -> str:
    """What decides a model's rows and tests apart from its data: a change rebuilds in full."""
    return json_digest(
        {
            "code": model.code_version,
            "platform": platform_version,
            "skipped": skipped,
            "skipped_tests": dict(sorted(skipped_tests.items())),
        }
    )


def model_data_version(con: duckdb.DuckDBPyConnection, model: SqlModel, fingerprint: str) -> str:
    upstream = {}
    for name in model.model_references:
        build = last_build(con, name)
        upstream[name] = build.data_version if build else "unbuilt"
    return json_digest(
        {
            "code": fingerprint,
            "raw": {t: raw_data_version(con, t) for t in sorted(model.raw_references)},
            "models": upstream,
        }
    )


def standing_build(
    con: duckdb.DuckDBPyConnection, model: SqlModel, data_version: str
) -> Build | None:
    """The last published build when it has this data version and its table is still there."""
    build = last_build(con, model.qualified_name)
    if build is None or build.data_version != data_version:
        return None
    if not table_exists(con, model.schema, model.name):
        return None
    return build


BUILD_COLUMNS = "model, data_version, run_id, built_at, row_count, mode, ranges, code_version"


def last_build(con: duckdb.DuckDBPyConnection, model_name: str) -> Build | None:
    if not table_exists(con, "governance", "model_builds"):
        return None
    _ensure_builds_table(con)
    row = con.execute(
        f"""select {BUILD_COLUMNS} from {BUILDS_TABLE}
            where model = ? order by built_at desc limit 1""",
        [model_name],
    ).fetchone()
    return Build.from_row(row) if row else None


def builds_since(con: duckdb.DuckDBPyConnection, model_name: str, since: datetime) -> list[Build]:
    """The published builds of a model after `since`, oldest first."""
    if not table_exists(con, "governance", "model_builds"):
        return []
    rows = con.execute(
        f"""select {BUILD_COLUMNS} from {BUILDS_TABLE}
            where model = ? and built_at > ? order by built_at""",
        [model_name, since],
    ).fetchall()
    return [Build.from_row(row) for row in rows]


def record_build(con: duckdb.DuckDBPyConnection, build: Build) -> None:
    _ensure_builds_table(con)
    ranges = json.dumps([[start.isoformat(), end.isoformat()] for start, end in build.ranges])
    con.execute(
        f"insert into {BUILDS_TABLE} ({BUILD_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            build.model,
            build.data_version,
            build.run_id,
            datetime.now(UTC).replace(tzinfo=None),
            build.row_count,
            build.mode,
            ranges,
            build.code_version,
        ],
    )


def _ensure_builds_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists governance")
    con.execute(
        f"""create table if not exists {BUILDS_TABLE} (
            model varchar, data_version varchar, run_id varchar, built_at timestamp,
            row_count bigint)"""
    )
    # A warehouse from before incremental models gets the columns here.
    for column in ("mode", "ranges", "code_version"):
        con.execute(f"alter table {BUILDS_TABLE} add column if not exists {column} varchar")


def previous_outcomes(
    con: duckdb.DuckDBPyConnection,
    asset: str,
    names: set[str],
    since_run: str,
    observed: Mapping[str, str] | None = None,
    what: str = "the model",
) -> list[CheckOutcome] | None:
    """The checks' last results, described as not run again because `what` is up to date since
    `since_run`; with `observed`, only results whose observed values include those (e.g. the
    feature set version they judged). None when one is missing (a check added since is run)."""
    if not names:
        return []
    if not table_exists(con, "governance", "check_results"):
        return None
    matches = "".join(
        f" and json_extract_string(observed, '$.{key}') = ?" for key in (observed or {})
    )
    rows = con.execute(
        f"""select check_name, passed, severity, description from governance.check_results
            where asset = ? and check_name in ?{matches}
            qualify row_number() over (partition by check_name order by checked_at desc) = 1""",
        [asset, sorted(names), *(observed or {}).values()],
    ).fetchall()
    if {row[0] for row in rows} != names:
        return None
    return [
        CheckOutcome(
            name,
            passed,
            severity,
            f"not run again: {what} is up to date since run {since_run[:8]}; then: {description}",
            {"rerun": False},
        )
        for name, passed, severity, description in sorted(rows)
    ]
