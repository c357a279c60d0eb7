"""An incremental model's relationship tests: the rebuilt days alone while the parent table is
unchanged since the model's last build (every other row was judged against it then), the whole
table once the parent was rebuilt (a removed parent row orphans old rows too)."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from sme_platform.lib.sql_models.graph import load_model_graph
from sme_platform.lib.sql_models.incremental_build import build_incremental
from sme_platform.lib.sql_models.up_to_date import Build, record_build

LINES = """/*
description: 'Grain: one row per day and sku.'
owner: team:data
materialization: incremental
incremental:
  time_column: day
  unique_key: [day, sku]
  input_time: {raw.sales_lines: day}
tests:
  - unique: [day, sku]
  - relationships: {column: sku, to: staging.items, field: sku, severity: warn}
*/
select day, sku from raw.sales_lines where day between {{ start_date }} and {{ end_date }}
"""
NEW_DAY = date(2024, 1, 3)


@pytest.fixture
def built(tmp_path):
    """staging.lines built on 1 and 2 January, with an orphan sku 'X' on 1 January (a warn
    test: published); staging.items built before it."""
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "lines.sql").write_text(LINES, encoding="utf-8")
    (tmp_path / "staging" / "items.sql").write_text(
        "/*\ndescription: 'Grain: one row per sku.'\nowner: team:data\n*/\n"
        "select 'A' as sku union all select 'B'",
        encoding="utf-8",
    )
    model = load_model_graph(tmp_path).models["staging.lines"]
    con = duckdb.connect()
    con.execute("create schema raw; create schema staging")
    con.execute(
        "create table raw.sales_lines as select * from (values (date '2024-01-01', 'A'), "
        "(date '2024-01-01', 'X'), (date '2024-01-02', 'B'), (date '2024-01-03', 'A')) t(day, sku)"
    )
    con.execute("create table staging.items as select * from (values ('A'), ('B')) t(sku)")
    con.execute(
        "create table staging.lines as select * from raw.sales_lines where day < '2024-01-03'"
    )
    record_build(con, Build("staging.items", "v1", "run-1", None, 2))
    record_build(con, Build("staging.lines", "v1", "run-1", None, 3))
    yield con, model
    con.close()


def _relationship(outcome):
    (result,) = [t for t in outcome.tests if t.test.kind == "relationships"]
    return result.passed, result.failing_rows


def test_with_the_parent_unchanged_only_the_rebuilt_days_are_judged(built):
    con, model = built
    outcome = build_incremental(con, model, [(NEW_DAY, NEW_DAY)])
    assert outcome.published and outcome.rows_inserted == 1
    # The orphan of 1 January was reported by the build that published it.
    assert _relationship(outcome) == (True, 0)


def test_once_the_parent_was_rebuilt_the_whole_table_is_judged(built):
    con, model = built
    record_build(con, Build("staging.items", "v2", "run-2", None, 2))
    outcome = build_incremental(con, model, [(NEW_DAY, NEW_DAY)])
    assert outcome.published
    assert _relationship(outcome) == (False, 1)


def test_a_parent_with_no_build_on_record_counts_as_changed(built):
    con, model = built
    con.execute("delete from governance.model_builds where model = 'staging.items'")
    assert _relationship(build_incremental(con, model, [(NEW_DAY, NEW_DAY)])) == (False, 1)
