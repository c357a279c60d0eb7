"""Building one SQL model: write, audit, publish.

A table (or view) is built under a temporary name, its tests run against that build, and only
when no error-severity test fails is it swapped in for the previous version, in one
transaction. So a failing gate or a run killed halfway leaves the last good version in place,
and analysts never see a half-written or a failed table. A model whose inputs all come from
absent sources (sql_models/absent.py) is built empty, with its columns, and its tests skipped.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import lineage

from sme_platform.lib.sql_models.data_tests import DataTestResult, run_test, skipped_test
from sme_platform.lib.sql_models.graph import SqlModel
from sme_platform.lib.warehouse import quote_identifier, relation_name, table_exists, transaction

BUILDING_PREFIX = "__building__"
LINEAGE_CACHE = "governance.column_lineage_cache"


class ModelBuildError(RuntimeError):
    """A model's SQL failed in DuckDB; the message names the file."""


@dataclass
class BuildOutcome:
    model: SqlModel
    published: bool
    tests: list[DataTestResult] = field(default_factory=list)
    row_count: int = 0
    columns: list[tuple[str, str]] = field(default_factory=list)  # (name, type)
    column_lineage: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    lineage_error: str | None = None
    seconds: float = 0.0
    skipped: str | None = None  # built empty: why (no source for its inputs)
    mode: str = "full"  # or incremental (incremental_build.py): only `ranges` rebuilt
    ranges: list = field(default_factory=list)
    rows_deleted: int = 0
    rows_inserted: int = 0

    @property
    def blocking_failures(self) -> list[DataTestResult]:
        return [t for t in self.tests if not t.passed and t.test.severity == "error"]


def build_model(
    con: duckdb.DuckDBPyConnection, model: SqlModel, skipped_tests: Mapping[str, str] | None = None
) -> BuildOutcome:
    """Build, test (but `skipped_tests`: name -> why), publish unless a blocking test fails."""
    started = time.perf_counter()
    building, kind = _create_building(con, model, model.sql)
    outcome = BuildOutcome(model=model, published=False)
    outcome.tests = _run_tests(con, model.header.tests, building, skipped_tests)
    if outcome.blocking_failures:
        con.execute(f"drop {kind} {building}")
    else:
        describe_build(con, model, building, outcome)
        _swap(con, model, kind, building, model.relation)
        outcome.published = True
    outcome.seconds = time.perf_counter() - started
    return outcome


def build_empty(con: duckdb.DuckDBPyConnection, model: SqlModel, reason: str) -> BuildOutcome:
    """The model as an empty table with its columns, its tests skipped for `reason`: what a
    model whose inputs have no source publishes (its query is planned, never run)."""
    started = time.perf_counter()
    # On a line of its own: the query may end with a -- comment.
    building, kind = _create_building(con, model, f"{model.sql}\nwith no data", kind="table")
    outcome = BuildOutcome(model=model, published=False, skipped=reason)
    outcome.tests = [skipped_test(test, reason) for test in model.header.tests]
    describe_build(con, model, building, outcome)
    _swap(con, model, kind, building, model.relation)
    outcome.published = True
    outcome.seconds = time.perf_counter() - started
    return outcome


def run_published_tests(
    con: duckdb.DuckDBPyConnection,
    model: SqlModel,
    names: set[str],
    skipped_tests: Mapping[str, str] | None = None,
) -> list[DataTestResult]:
    """The named tests on the published table, without building: a check run on its own."""
    tests = [t for t in model.header.tests if t.name in names]
    return _run_tests(con, tests, model.relation, skipped_tests)


def _create_building(con, model: SqlModel, query: str, kind: str | None = None):
    con.execute(f"create schema if not exists {quote_identifier(model.schema)}")
    building = relation_name(model.schema, BUILDING_PREFIX + model.name)
    kind = kind or ("view" if model.header.materialization == "view" else "table")
    drop_if_exists(con, model.schema, BUILDING_PREFIX + model.name)  # an abandoned build
    try:
        con.execute(f"create {kind} {building} as {query}")
    except duckdb.Error as error:
        # DuckDB names the line and column, not the file: say which model broke.
        raise ModelBuildError(f"{model.path}: {type(error).__name__}: {error}") from error
    return building, kind


def _run_tests(con, tests, relation: str, skipped: Mapping[str, str] | None):
    skipped = skipped or {}
    return [
        skipped_test(test, skipped[test.name])
        if test.name in skipped
        else run_test(con, test, relation)
        for test in tests
    ]


def _swap(con, model: SqlModel, kind: str, building: str, target: str) -> None:
    with transaction(con):
        drop_if_exists(con, model.schema, model.name)
        if kind == "view":  # a view's text names its own relation: recreate, do not rename
            con.execute(f"create view {target} as {model.sql}")
            con.execute(f"drop view {building}")
        else:
            con.execute(f"alter table {building} rename to {quote_identifier(model.name)}")


def drop_if_exists(con, schema: str, name: str) -> None:
    """Drop a table or a view (DuckDB refuses `drop view` on a table and the reverse)."""
    found = con.execute(
        "select table_type from information_schema.tables "
        "where table_catalog = current_database() and table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchone()
    if found:
        kind = "view" if found[0] == "VIEW" else "table"
        con.execute(f"drop {kind} {relation_name(schema, name)}")


def describe_build(con, model: SqlModel, relation: str, outcome: BuildOutcome) -> None:
    outcome.row_count = con.execute(f"select count(*) from {relation}").fetchone()[0]
    outcome.columns = [(row[0], row[1]) for row in con.execute(f"describe {relation}").fetchall()]
    try:
        outcome.column_lineage = column_lineage(con, model, [c for c, _ in outcome.columns])
    except (SqlglotError, KeyError, ValueError) as error:
        # Lineage is documentation, not a gate: a query sqlglot cannot trace still builds,
        # and the metadata says why its lineage is missing rather than showing a wrong one.
        outcome.lineage_error = f"{type(error).__name__}: {error}"


def column_lineage(con, model: SqlModel, columns: list[str]) -> dict[str, list[tuple[str, str]]]:
    """For each output column, the (table, column) pairs of the referenced tables it comes from."""
    schema: dict[str, dict[str, dict[str, str]]] = {}
    for reference in model.query_references:
        table_schema, table = reference.split(".")
        described = con.execute(f"describe {relation_name(table_schema, table)}").fetchall()
        schema.setdefault(table_schema, {})[table] = {row[0]: row[1] for row in described}
    schema_json = json.dumps(schema, sort_keys=True)
    key = hashlib.sha256(f"{model.sql}\n{schema_json}\n{columns}".encode()).hexdigest()
    stored = _stored_lineage(con, key)
    if stored is not None:
        return stored
    traced = _traced_lineage(model.sql, schema_json, tuple(columns))
    _store_lineage(con, key, traced)
    return traced


def _stored_lineage(con, key: str) -> dict[str, list[tuple[str, str]]] | None:
    if not table_exists(con, *LINEAGE_CACHE.split(".")):
        return None
    row = con.execute(f"select lineage from {LINEAGE_CACHE} where key = ?", [key]).fetchone()
    if row is None:
        return None
    return {column: [tuple(pair) for pair in pairs] for column, pairs in json.loads(row[0]).items()}


def _store_lineage(con, key: str, lineage_by_column: dict) -> None:
    try:
        con.execute("create schema if not exists governance")
        con.execute(f"create table if not exists {LINEAGE_CACHE} (key varchar, lineage varchar)")
        con.execute(
            f"insert into {LINEAGE_CACHE} values (?, ?)", [key, json.dumps(lineage_by_column)]
        )
    except duckdb.Error:
        pass  # a read-only connection traces again next time; nothing else depends on it


# sqlglot takes a quarter of a second per model, and a run asks for the lineage of every model
# twice (build, analyst database): it is kept by query and input columns, in this process and
# in governance.column_lineage_cache (steps run in processes of their own).
@functools.lru_cache(maxsize=64)
def _traced_lineage(sql: str, schema_json: str, columns: tuple[str, ...]):
    # All output columns in one walk: sqlglot qualifies the query once and shares its work.
    nodes = lineage(None, sql, schema=json.loads(schema_json), dialect="duckdb")
    result: dict[str, list[tuple[str, str]]] = {}
    for column in columns:
        node = nodes.get(column) or nodes.get(column.lower())
        if node is None:
            raise KeyError(f"sqlglot found no lineage for output column {column}")
        sources = {
            (f"{leaf.source.db}.{leaf.source.name}", leaf.name.split(".")[-1])
            for leaf in node.walk()
            if isinstance(leaf.source, exp.Table) and leaf.source.db and not leaf.downstream
        }
        result[column] = sorted(sources)
    return result
