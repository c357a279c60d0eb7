"""Great Expectations 1.x suites on the marts, kept as files beside the SQL.

`dbt_like_sql/marts/sales_daily.expectations.json` holds the suite of `marts.sales_daily`, in
GX's own JSON form (`{"name", "expectations": [{"type", "kwargs"}], "meta": {"severity"}}`), so
it can be edited with GX's tools too. The suite runs on the new build before it is published,
like the header's tests; `meta.severity` error (the default) makes it blocking.

Each expectation is compiled to DuckDB SQL (expectations_sql) and judged in the warehouse, with
the results GX's pandas engine gives; one this compiler does not handle (a type, a kwarg, a
regex RE2 cannot read) is judged by GX's pandas engine on the columns it names
(expectations_gx). Each result says which engine judged it.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from sme_platform.lib.sql_models.errors import ModelGraphError
from sme_platform.lib.sql_models.expectations_gx import columns_named, judge_with_gx
from sme_platform.lib.sql_models.expectations_sql import compile_expectation
from sme_platform.lib.sql_models.expectations_sql_run import judge_in_duckdb
from sme_platform.lib.sql_models.expectations_sql_terms import Column, NotCompilable
from sme_platform.lib.sql_models.header import SEVERITIES, DataTest

SUITE_SUFFIX = ".expectations.json"
CHECK_NAME = "great_expectations_suite"
# needs no column to exist: judging that is its purpose
EXISTENCE_TYPES = frozenset({"expect_column_to_exist"})


def suite_path_for(sql_path: Path) -> Path:
    return sql_path.with_name(sql_path.stem + SUITE_SUFFIX)


def suite_test(path: Path) -> DataTest:
    """The suite as one data test of its model; the file is checked when the graph loads."""
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ModelGraphError(f"{path}: not a readable suite: {error}") from error
    expectations = suite.get("expectations") if isinstance(suite, dict) else None
    if not isinstance(expectations, list) or not expectations:
        raise ModelGraphError(f"{path}: a suite needs a non-empty list of expectations")
    for expectation in expectations:
        if not isinstance(expectation, dict) or not str(expectation.get("type", "")).startswith(
            "expect_"
        ):
            raise ModelGraphError(f"{path}: each expectation needs a type expect_...")
    severity = (suite.get("meta") or {}).get("severity", "error")
    if severity not in SEVERITIES:
        raise ModelGraphError(f"{path}: meta.severity must be one of {list(SEVERITIES)}")
    return DataTest(
        CHECK_NAME,
        "great_expectations",
        severity,
        {"suite_path": str(path)},
        f"Great Expectations suite {path.name} ({len(expectations)} expectations)",
    )


def validate_suite(
    con: duckdb.DuckDBPyConnection, path: Path, relation: str, where: str | None = None
):
    """(passed, failing expectations, description, observed) for the suite on `relation`.

    `where` is an optional SQL predicate on the relation (e.g. `order_date between date
    '2024-01-01' and date '2024-01-31'`, for an incremental model checking only its new rows):
    row-wise and key-wise expectations and column aggregates (min, mean, distinct values, ...)
    judge only the rows matching it, and element_count counts those rows; table-level
    expectations (row count, columns) always judge the whole relation. An expectation judged
    by GX gets the predicate in the query that fetches its rows.

    observed is {"expectations": [{type, column, success, observed_value, unexpected_count,
    element_count, engine}]} in the suite's order, engine "duckdb" or "great_expectations".
    """
    suite_json = json.loads(path.read_text(encoding="utf-8"))
    expectations = suite_json["expectations"]
    types = {row[0]: row[1] for row in con.execute(f"describe {relation}").fetchall()}
    named = columns_named([e for e in expectations if e.get("type") not in EXISTENCE_TYPES])
    missing = [c for c in named if c not in types]
    if missing:
        return False, len(missing), f"the suite names column(s) {missing} the table lacks", {}
    results = judge_expectations(con, relation, types, expectations, where, suite_json)
    failed = [r for r in results if not r["success"]]
    described = ", ".join(f"{r['type']}({r['column'] or ''})" for r in failed[:5])
    description = f"{len(results) - len(failed)} of {len(results)} expectations met" + (
        f"; failed: {described}" if failed else ""
    )
    return not failed, len(failed), description, {"expectations": results}


def judge_expectations(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    types: dict[str, str],
    expectations: list[dict],
    where: str | None = None,
    suite_json: dict | None = None,
) -> list[dict]:
    """One result per expectation, in order: compiled to SQL where possible, else by GX."""
    columns = {name: Column(name, type_) for name, type_ in types.items()}
    plans, by_gx = {}, {}
    for index, expectation in enumerate(expectations):
        try:
            plans[index] = compile_expectation(expectation, columns)
        except NotCompilable:
            by_gx[index] = expectation
    judged = judge_in_duckdb(con, relation, plans, list(types), where)
    results = {
        index: {
            "type": expectations[index]["type"],
            "column": ",".join(columns_named([expectations[index]])),
            **outcome,
            "engine": "duckdb",
        }
        for index, outcome in judged.items()
    }
    if by_gx:
        name = (suite_json or {}).get("name", "suite")
        for index, result in judge_with_gx(con, relation, types, name, by_gx, where).items():
            results[index] = {**result, "engine": "great_expectations"}
    return [results[i] for i in range(len(expectations))]
