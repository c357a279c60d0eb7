"""Which models and tests have nothing to work on because a company has no source for their inputs.

A canonical table with no source in sources.yaml is absent: the ingestion stage leaves it the
empty canonical table. What follows from that, through the model graph, in graph order:

- A model is skipped when its query can have no rows because of absent inputs (an absent
  `raw.*` table or a skipped model). That is read from the query's FROM clauses, CTE by CTE: a
  table gives rows when present; an inner or cross join needs rows on both sides, a left join
  keeps its left side's rows (the absent right side only contributes NULLs), a full join or a
  UNION needs either side. So marts.products (products left join sales) is skipped for a company
  without a product master, and marts.sales_daily (the union of the days with a sale, a return
  or a stock-out) is built for a company with stock but no sales: its rows are the stock-outs.
  A skipped model is still built, as an empty table with its columns, so that analysts and the
  models downstream find it; its tests do not run: they report passed, saying why they were
  skipped (a Great Expectations suite that expects rows would otherwise fail a company that
  simply does not have that data). An aggregate over no rows counts as no rows:
  `select count(*) from staging.tickets` is skipped without tickets.
- A model that can have rows is built and tested as usual; a column it takes from an absent
  side of a left join is NULL (marts.sales_daily without inventory: is_stocked_out is NULL on
  every day, stock-outs unknown).
- A test of a built model that reads another table (`relationships`, a `sql` test) is skipped
  when that table is absent: every row would fail against an empty parent for want of data, not
  because of an error in the data.

What the analysis does not understand (a construct other than the above) counts as giving rows:
the model is built and tested, never skipped by mistake. A source that is configured but has no
files yet is not absent: the data is expected, and a test that finds it missing should say so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp

from sme_platform.lib.sql_models.graph import ModelGraph, SqlModel, table_references


@dataclass(frozen=True)
class SkipPlan:
    absent_sources: frozenset[str]  # canonical tables without a source
    models: dict[str, str]  # skipped model -> why
    tests: dict[str, dict[str, str]]  # model -> skipped test -> why (all tests of a skipped model)

    def tests_of(self, qualified_name: str) -> dict[str, str]:
        return self.tests.get(qualified_name, {})


def no_source_reason(raw_tables: Iterable[str]) -> str:
    names = ", ".join(f"raw.{t}" for t in sorted(set(raw_tables)))
    return f"no source for {names} in sources.yaml"


def plan_skips(graph: ModelGraph, absent_sources: Iterable[str]) -> SkipPlan:
    absent = frozenset(absent_sources)
    # For each absent table ("raw.x" or a skipped model): the absent sources it comes from.
    roots: dict[str, frozenset[str]] = {f"raw.{t}": frozenset({t}) for t in absent}
    models: dict[str, str] = {}
    tests: dict[str, dict[str, str]] = {}
    for name in graph.order:
        model = graph.models[name]
        missing = [table for table in model.query_references if table in roots]
        if missing and not can_have_rows(model.sql, frozenset(roots)):
            # The reason names the inputs that would give it rows (products, not customers,
            # for products left join customers); all of them if none would alone.
            decisive = [t for t in missing if can_have_rows(model.sql, frozenset(roots) - {t})]
            roots[name] = frozenset().union(*(roots[table] for table in decisive or missing))
            models[name] = no_source_reason(roots[name])
            tests[name] = dict.fromkeys((t.name for t in model.header.tests), models[name])
            continue
        skipped_tests = {}
        for test in model.header.tests:
            needed = sorted(t for t in tables_read_by_test(model, test) if t in roots)
            if needed:
                skipped_tests[test.name] = (
                    f"needs {', '.join(needed)}, which has no data: "
                    + no_source_reason(set().union(*(roots[t] for t in needed)))
                )
        if skipped_tests:
            tests[name] = skipped_tests
    return SkipPlan(absent, models, tests)


def tables_read_by_test(model: SqlModel, test) -> set[str]:
    """The tables a test reads besides the model it tests."""
    if test.kind == "relationships":
        return {str(test.options["to"])} - {model.qualified_name}
    if test.kind == "sql":
        this = model.qualified_name
        query = test.options["query"].replace("{{ this }}", this).replace("{{this}}", this)
        return set(table_references(model.path, query)) - {this}
    return set()


def can_have_rows(sql: str, absent: frozenset[str]) -> bool:
    """Whether the query can return rows when the `absent` tables ("schema.table") are empty."""
    return _rows(_parsed(sql), {}, absent)


@lru_cache(maxsize=512)
def _parsed(sql: str) -> exp.Expression:
    # Every model step plans the whole graph: parse each query once per process.
    return sqlglot.parse_one(sql, read="duckdb")


def _arg(node: exp.Expression, name: str):
    # sqlglot 30 names them from_/with_; earlier versions from/with.
    return node.args.get(f"{name}_", node.args.get(name))


def _rows(node, ctes: dict, absent: frozenset[str]) -> bool:
    with_ = _arg(node, "with")
    if with_ is not None:
        ctes = dict(ctes)
        for cte in with_.expressions:  # in order: a CTE may read the ones before it
            ctes[cte.alias_or_name] = (cte.this, dict(ctes))
    if isinstance(node, exp.Subquery):
        return _rows(node.this, ctes, absent)
    if isinstance(node, exp.Union):
        return _rows(node.this, ctes, absent) or _rows(node.expression, ctes, absent)
    if isinstance(node, exp.Intersect):
        return _rows(node.this, ctes, absent) and _rows(node.expression, ctes, absent)
    if isinstance(node, exp.Except):
        return _rows(node.this, ctes, absent)
    if not isinstance(node, exp.Select):
        return True  # not understood: assume rows
    from_ = _arg(node, "from")
    if from_ is None:
        return True  # select of constants
    rows = _source_rows(from_.this, ctes, absent)
    for join in node.args.get("joins") or []:
        other = _source_rows(join.this, ctes, absent)
        side, kind = (join.side or "").upper(), (join.kind or "").upper()
        if side == "LEFT" or kind == "ANTI":
            continue
        if side == "RIGHT":
            rows = other
        elif side == "FULL":
            rows = rows or other
        else:  # inner, cross, semi, a comma
            rows = rows and other
    return rows


def _source_rows(source, ctes: dict, absent: frozenset[str]) -> bool:
    if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
        if source.db:
            return f"{source.db}.{source.name}" not in absent
        if source.name in ctes:
            query, visible = ctes[source.name]
            return _rows(query, visible, absent)
    if isinstance(source, exp.Subquery):
        return _rows(source.this, ctes, absent)
    return True  # a table function, unnest, lateral: rows of their own
