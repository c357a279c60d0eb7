"""Runs the compiled expectations of a suite (expectations_sql) on a DuckDB relation: one query
for every row-wise expectation and column aggregate, one group-by per uniqueness expectation,
and a row count of the whole relation when `where` narrows the checked rows."""

from __future__ import annotations

import duckdb

from sme_platform.lib.sql_models.expectations_sql_terms import Plan


def judge_in_duckdb(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    plans: dict[int, Plan],
    column_names: list[str],
    where: str | None = None,
) -> dict[int, dict]:
    """Each plan's outcome (success, observed_value, unexpected_count, element_count) by its
    position in the suite. Row-wise and key-wise plans judge the rows matching `where` (all
    rows without it), table-level plans the whole relation."""
    checked = f"{relation} where ({where})" if where else relation
    row_plans = {i: p for i, p in plans.items() if p.scope == "rows"}
    results: dict[int, dict] = {}
    checked_rows = None
    if row_plans or any(p.scope == "keys" for p in plans.values()):
        selects = ["count(*)"] + [s for plan in row_plans.values() for s in plan.selects]
        values = con.execute(f"select {', '.join(selects)} from {checked}").fetchone()
        checked_rows, position = values[0], 1
        for index, plan in row_plans.items():
            own = values[position : position + len(plan.selects)]
            position += len(plan.selects)
            results[index] = plan.judge(tuple(own), checked_rows, column_names)
    for index, plan in plans.items():
        if plan.scope == "keys":
            results[index] = plan.judge(
                _duplicates(con, checked, where, plan), checked_rows, column_names
            )
    table_plans = {i: p for i, p in plans.items() if p.scope == "table"}
    if table_plans:
        table_rows = checked_rows
        if where or table_rows is None:
            table_rows = con.execute(f"select count(*) from {relation}").fetchone()[0]
        for index, plan in table_plans.items():
            results[index] = plan.judge((), table_rows, column_names)
    return results


def _duplicates(con, checked: str, where: str | None, plan: Plan) -> tuple[int, int]:
    """(rows whose key occurs more than once, rows considered)."""
    keys = ", ".join(plan.selects)
    narrowed = f"{checked} and ({plan.present})" if where else f"{checked} where ({plan.present})"
    duplicated, considered = con.execute(
        "select coalesce(sum(n) filter (where n > 1), 0), coalesce(sum(n), 0) "
        f"from (select count(*) as n from {narrowed} group by {keys})"
    ).fetchone()
    return int(duplicated), int(considered)
