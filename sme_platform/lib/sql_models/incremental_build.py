"""Building an incremental model over the changed ranges only, atomic as a full build's swap.

The query runs once per range into a building table; then, in one transaction, the ranges' rows
of the published table are deleted, the new ones inserted, and the tests run on the result:
row tests (not null, accepted values, expressions, the suite's row expectations) on the rebuilt
days, uniqueness on the rebuilt keys against the whole table, relationships on the whole table
(on the rebuilt days when the parent table is unchanged since the model's last build), SQL
tests and the suite's table expectations on the whole table. A blocking failure rolls the
transaction back, so the previous version stays whole, as with a full build; a run killed
halfway leaves it too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import duckdb

from sme_platform.lib.sql_models.build import (
    BUILDING_PREFIX,
    BuildOutcome,
    ModelBuildError,
    describe_build,
    drop_if_exists,
)
from sme_platform.lib.sql_models.data_tests import run_test, skipped_test
from sme_platform.lib.sql_models.graph import SqlModel
from sme_platform.lib.sql_models.incremental import DayRange, range_predicate, render
from sme_platform.lib.sql_models.up_to_date import last_build
from sme_platform.lib.warehouse import relation_name


class _BlockingFailure(Exception):
    """Raised inside the transaction to roll the replaced ranges back."""


def build_incremental(
    con: duckdb.DuckDBPyConnection,
    model: SqlModel,
    ranges: list[DayRange],
    skipped_tests: Mapping[str, str] | None = None,
) -> BuildOutcome:
    started = time.perf_counter()
    options = model.header.incremental
    outcome = BuildOutcome(model=model, published=False, mode="incremental", ranges=list(ranges))
    building = relation_name(model.schema, BUILDING_PREFIX + model.name)
    drop_if_exists(con, model.schema, BUILDING_PREFIX + model.name)
    if ranges:
        query = "\nunion all\n".join(
            f"select * from (\n{render(model.template, start, end)}\n)" for start, end in ranges
        )
    else:  # inputs changed without changing a day of this model: the tests still run
        query = f"{model.sql}\nlimit 0"
    try:
        con.execute(f"create table {building} as {query}")
    except duckdb.Error as error:
        raise ModelBuildError(f"{model.path}: {type(error).__name__}: {error}") from error
    _same_columns(con, model, building)
    in_ranges = range_predicate(options.time_column, ranges)
    unchanged_parents = _parents_unchanged_since_last_build(con, model)
    try:
        con.execute("begin transaction")
        outcome.rows_deleted = con.execute(
            f"delete from {model.relation} where {in_ranges}"
        ).fetchone()[0]
        # Rows a query yields outside its range would be kept twice: only the range is taken.
        outcome.rows_inserted = con.execute(
            f"insert into {model.relation} by name select * from {building} where {in_ranges}"
        ).fetchone()[0]
        outcome.tests = _run_scoped_tests(
            con, model, in_ranges, skipped_tests or {}, unchanged_parents
        )
        if outcome.blocking_failures:
            raise _BlockingFailure
        describe_build(con, model, model.relation, outcome)
        con.execute("commit")
        outcome.published = True
    except BaseException as error:
        con.execute("rollback")
        if not isinstance(error, _BlockingFailure):
            raise
    finally:
        drop_if_exists(con, model.schema, BUILDING_PREFIX + model.name)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _same_columns(con, model: SqlModel, building: str) -> None:
    built = con.execute(f"describe {building}").fetchall()
    published = con.execute(f"describe {model.relation}").fetchall()
    if [row[:2] for row in built] != [row[:2] for row in published]:
        # The code is unchanged (else the build is full): the table was altered by hand.
        raise ModelBuildError(
            f"{model.path}: the published {model.qualified_name} has other columns than the "
            "query yields; rebuild it with --full-refresh"
        )
    if model.header.incremental.time_column not in {row[0] for row in built}:
        raise ModelBuildError(
            f"{model.path}: incremental.time_column "
            f"{model.header.incremental.time_column!r} is not a column of the query"
        )


def _run_scoped_tests(
    con, model: SqlModel, in_ranges: str, skipped: Mapping[str, str], unchanged_parents: set[str]
):
    results = []
    for test in model.header.tests:
        if test.name in skipped:
            results.append(skipped_test(test, skipped[test.name]))
        else:
            parent_unchanged = test.options.get("to") in unchanged_parents
            results.append(
                run_test(con, test, model.relation, in_ranges, parent_unchanged=parent_unchanged)
            )
    return results


def _parents_unchanged_since_last_build(con, model: SqlModel) -> set[str]:
    """The parent tables of the model's relationship tests not built since the model's last
    published build (which judged every row against them): a row outside the rebuilt days
    still finds its parent, and only the rebuilt rows need judging (on the medium demo 1.6 s
    -> 0.1 s for staging.sales_lines). A parent with no build on record (not a model of the
    graph) counts as changed."""
    parents = {test.options["to"] for test in model.header.tests if test.kind == "relationships"}
    last = last_build(con, model.qualified_name) if parents else None
    if last is None:
        return set()
    builds = {parent: last_build(con, parent) for parent in parents}
    return {
        parent
        for parent, build in builds.items()
        if build is not None and build.built_at <= last.built_at
    }
