"""Building a model: each kind of data test finds exactly the failing rows; a build that fails a
blocking test is never published; column lineage comes from the SQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import duckdb
import pytest

from sme_platform.lib.sql_models.build import build_empty, build_model, run_published_tests
from sme_platform.lib.sql_models.data_tests import run_test
from sme_platform.lib.sql_models.graph import load_model_graph
from sme_platform.lib.sql_models.header import DataTest
from sme_platform_tests.conftest import REPO_ROOT
from sme_platform_tests.lib.sql_models.test_graph import write_model


def graph_with(folder):
    """The graph of `folder`'s models, with the fixture's staging tables declared as models."""
    write_model(folder, "staging/orders.sql", "select 1 as id")
    write_model(folder, "staging/items.sql", "select 'A' as sku")
    return load_model_graph(folder)


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute("create schema staging")
    connection.execute(
        """create table staging.orders as select * from (values
            (1, 'A', 'sale', 5), (2, 'B', 'sale', -1), (2, 'C', 'refund', 3),
            (4, null, 'sale', 2), (5, 'Z', null, 1)
        ) t(id, sku, kind, qty)"""
    )
    connection.execute(
        "create table staging.items as "
        "select * from (values ('A'), ('B'), ('C'), ('O''Hara')) t(sku)"
    )
    yield connection
    connection.close()


@pytest.mark.parametrize(
    ("kind", "options", "failing"),
    [
        ("not_null", {"column": "sku"}, 1),
        ("unique", {"columns": ["id"]}, 1),  # id 2 twice: one group
        ("unique", {"columns": ["id", "sku"]}, 0),
        ("accepted_values", {"column": "kind", "values": ["sale", "return"]}, 1),  # null passes
        ("accepted_values", {"column": "sku", "values": ["A", "B", "C", "O'Hara"]}, 1),
        ("relationships", {"column": "sku", "to": "staging.items", "field": "sku"}, 1),  # Z
        ("expression", {"sql": "qty > 0"}, 1),
        ("expression", {"sql": "qty > 0 and kind = 'sale'"}, 3),  # null kind fails too
        ("sql", {"query": "select * from {{ this }} where qty > 4"}, 1),
    ],
)
def test_each_kind_of_data_test_counts_the_failing_rows(con, kind, options, failing):
    result = run_test(con, DataTest("t", kind, "error", options), "staging.orders")
    assert (result.passed, result.failing_rows) == (failing == 0, failing)
    assert len(result.sample) == failing
    assert result.description.endswith("passed" if not failing else f"{failing} failing row(s)")


def test_a_failing_blocking_test_keeps_the_previous_version(tmp_path, con):
    tests = "tests:\n  - expression: {name: qty_positive, sql: 'qty > 0'}\n"
    write_model(tmp_path, "marts/good.sql", "select * from staging.orders where qty > 0", tests)
    first = build_model(con, graph_with(tmp_path).models["marts.good"])
    assert first.published and first.row_count == 4 and not first.blocking_failures

    write_model(tmp_path, "marts/good.sql", "select * from staging.orders", tests)
    second = build_model(con, graph_with(tmp_path).models["marts.good"])
    assert not second.published
    assert [t.test.name for t in second.blocking_failures] == ["qty_positive"]
    assert second.blocking_failures[0].sample[0]["qty"] == -1
    assert con.execute("select count(*) from marts.good").fetchone()[0] == 4  # still the first
    leftovers = con.execute(
        "select table_name from information_schema.tables where table_name like '%building%'"
    ).fetchall()
    assert leftovers == []


def test_a_failing_warn_test_is_reported_and_the_build_published(tmp_path, con):
    tests = "tests:\n  - expression: {name: qty_positive, sql: 'qty > 0', severity: warn}\n"
    write_model(tmp_path, "marts/all_orders.sql", "select * from staging.orders", tests)
    outcome = build_model(con, graph_with(tmp_path).models["marts.all_orders"])
    assert outcome.published and outcome.row_count == 5
    assert [(t.test.name, t.passed, t.failing_rows) for t in outcome.tests] == [
        ("qty_positive", False, 1)
    ]


def test_a_view_is_built_tested_and_swapped_like_a_table(tmp_path, con):
    extra = "materialization: view\ntests:\n  - not_null: [sku]\n"
    write_model(tmp_path, "marts/skus.sql", "select distinct sku from staging.orders", extra)
    outcome = build_model(con, graph_with(tmp_path).models["marts.skus"])
    assert not outcome.published  # sku is null in one row: the gate holds
    assert [(t.test.name, t.passed) for t in outcome.tests] == [("not_null_sku", False)]
    assert (
        con.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts'"
        ).fetchone()[0]
        == 0
    )

    sql = "select distinct sku from staging.orders where sku is not null"
    write_model(tmp_path, "marts/skus.sql", sql, extra)
    outcome = build_model(con, graph_with(tmp_path).models["marts.skus"])
    assert outcome.published and outcome.row_count == 4
    assert con.execute(
        "select table_name, table_type from information_schema.tables where table_schema = 'marts'"
    ).fetchall() == [("skus", "VIEW")]
    con.execute("insert into staging.orders values (9, 'Q', 'sale', 1)")  # a view is live
    assert con.execute("select count(*) from marts.skus").fetchone()[0] == 5


def test_column_lineage_traces_each_output_column_to_its_sources(tmp_path, con):
    write_model(
        tmp_path,
        "marts/sold.sql",
        """with orders as (select sku, qty * 2 as doubled from staging.orders),
        final as (
            select items.sku, sum(orders.doubled) as units
            from orders join staging.items as items using (sku) group by 1
        )
        select * from final""",
    )
    outcome = build_model(con, graph_with(tmp_path).models["marts.sold"])
    assert outcome.lineage_error is None
    assert outcome.column_lineage == {
        "sku": [("staging.items", "sku")],
        "units": [("staging.orders", "qty")],
    }
    assert outcome.columns == [("sku", "VARCHAR"), ("units", "HUGEINT")]


KILLED_BUILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import sme_platform.lib.sql_models.build as build
    from sme_platform.lib.sql_models.graph import load_model_graph
    from sme_platform.lib.warehouse import connect

    run_test = build.run_test
    def hang_on_second_model(con, test, relation):
        if "second" in relation:
            print("second model built, not yet swapped", flush=True)
            time.sleep(600)
        return run_test(con, test, relation)
    build.run_test = hang_on_second_model
    graph = load_model_graph(Path(sys.argv[1]))
    with connect(sys.argv[2]) as con:
        for name in graph.order:
            build.build_model(con, graph.models[name])
    """
)


def test_a_run_killed_halfway_leaves_every_table_at_a_good_version(tmp_path):
    from sme_platform.lib.warehouse import connect

    models, warehouse = tmp_path / "models", tmp_path / "warehouse.duckdb"
    tests = "tests:\n  - not_null: [n]\n"
    write_model(models, "marts/first.sql", "select 1 as n", tests)
    write_model(models, "marts/second.sql", "select n from marts.first", tests)
    graph = load_model_graph(models)
    with connect(warehouse) as con:
        for name in graph.order:
            build_model(con, graph.models[name])

    # New versions of both; the run dies after building the second, before its swap.
    write_model(models, "marts/first.sql", "select 2 as n", tests)
    write_model(models, "marts/second.sql", "select n * 10 as n from marts.first", tests)
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_BUILD, str(models), str(warehouse)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert child.stdout.readline().strip() == "second model built, not yet swapped"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    with connect(warehouse, read_only=True) as con:
        assert con.execute("select n from marts.first").fetchall() == [(2,)]  # new, complete
        assert con.execute("select n from marts.second").fetchall() == [(1,)]  # old, intact

    graph = load_model_graph(models)
    with connect(warehouse) as con:  # the next run completes and clears the abandoned build
        for name in graph.order:
            assert build_model(con, graph.models[name]).published
        assert con.execute("select n from marts.second").fetchall() == [(20,)]
        assert (
            con.execute(
                "select count(*) from information_schema.tables where table_name like '__building%'"
            ).fetchone()[0]
            == 0
        )


SUITE = {
    "name": "marts.orders",
    "expectations": [
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "kind", "value_set": ["sale", "refund"]},
        },
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "qty", "min_value": 0}},
    ],
}


def test_a_great_expectations_suite_beside_the_sql_gates_the_build(tmp_path, con):
    import json

    write_model(tmp_path, "marts/orders.sql", "select * from staging.orders where id <> 2")
    suite_file = tmp_path / "marts" / "orders.expectations.json"
    suite_file.write_text(json.dumps(SUITE), encoding="utf-8")
    model = graph_with(tmp_path).models["marts.orders"]
    assert [t.name for t in model.header.tests] == ["great_expectations_suite"]
    outcome = build_model(con, model)
    assert outcome.published, outcome.tests[0].description
    assert outcome.tests[0].description == "3 of 3 expectations met"

    version = model.code_version
    write_model(tmp_path, "marts/orders.sql", "select * from staging.orders")  # id 2 twice, qty -1
    model = graph_with(tmp_path).models["marts.orders"]
    assert model.code_version != version
    outcome = build_model(con, model)
    assert not outcome.published
    (result,) = outcome.tests
    assert (result.passed, result.failing_rows) == (False, 2)
    assert "1 of 3 expectations met; failed: expect_column_values_to_be_unique(id)" in (
        result.description
    )
    observed = {e["type"]: e for e in result.sample[0]["expectations"]}
    assert observed["expect_column_values_to_be_between"]["unexpected_count"] == 1
    assert con.execute("select count(*) from marts.orders").fetchone()[0] == 3  # the last good

    suite_file.write_text(json.dumps({**SUITE, "meta": {"severity": "warn"}}), encoding="utf-8")
    outcome = build_model(con, graph_with(tmp_path).models["marts.orders"])
    assert outcome.published and not outcome.tests[0].passed


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"not a readable suite"),
        ('{"name": "x", "expectations": []}', r"a suite needs a non-empty list of expectations"),
        ('{"expectations": [{"type": "be_nice"}]}', r"each expectation needs a type expect_"),
        (
            '{"expectations": [{"type": "expect_x"}], "meta": {"severity": "fatal"}}',
            r"meta.severity must be one of",
        ),
    ],
)
def test_a_broken_suite_file_is_an_error_at_load_time(tmp_path, content, message):
    from sme_platform.lib.sql_models.errors import ModelGraphError

    write_model(tmp_path, "marts/orders.sql", "select 1 as id")
    (tmp_path / "marts" / "orders.expectations.json").write_text(content, encoding="utf-8")
    with pytest.raises(ModelGraphError, match=r"orders\.expectations\.json: " + message):
        load_model_graph(tmp_path)


def test_a_model_can_change_from_table_to_view_and_back(tmp_path, con):
    write_model(tmp_path, "marts/ids.sql", "select id from staging.orders")
    assert build_model(con, graph_with(tmp_path).models["marts.ids"]).published
    write_model(
        tmp_path, "marts/ids.sql", "select id from staging.orders", "materialization: view\n"
    )
    assert build_model(con, graph_with(tmp_path).models["marts.ids"]).published
    write_model(tmp_path, "marts/ids.sql", "select id from staging.orders")
    assert build_model(con, graph_with(tmp_path).models["marts.ids"]).published
    assert con.execute(
        "select table_type from information_schema.tables where table_name = 'ids'"
    ).fetchall() == [("BASE TABLE",)]


def test_sql_that_fails_in_duckdb_names_the_model_file(tmp_path, con):
    from sme_platform.lib.sql_models.build import ModelBuildError

    write_model(tmp_path, "marts/broken.sql", "select no_such_column from staging.orders")
    with pytest.raises(
        ModelBuildError, match=r"marts/broken\.sql: BinderException: .*no_such_column"
    ):
        build_model(con, graph_with(tmp_path).models["marts.broken"])


def test_a_model_without_data_is_built_empty_with_its_columns_and_its_tests_skipped(con, tmp_path):
    write_model(
        tmp_path,
        "marts/kinds.sql",
        "select kind, sum(qty) as units from staging.orders group by all  -- a trailing comment",
        "materialization: view\ntests:\n  - not_null: [units]\n"
        "  - relationships: {column: kind, to: staging.items, field: sku, severity: warn}\n",
    )
    model = graph_with(tmp_path).models["marts.kinds"]
    reason = "no source for raw.sales_lines in sources.yaml"
    outcome = build_empty(con, model, reason)  # staging.orders has rows: they are not read
    assert outcome.published and outcome.skipped == reason
    assert con.execute("select count(*) from marts.kinds").fetchone() == (0,)
    assert outcome.columns == [("kind", "VARCHAR"), ("units", "HUGEINT")]
    assert outcome.column_lineage["units"] == [("staging.orders", "qty")]
    assert [(t.test.name, t.passed, t.description) for t in outcome.tests] == [
        ("not_null_units", True, f"skipped: {reason}"),
        ("relationships_kind", True, f"skipped: {reason}"),
    ]
    assert outcome.tests[0].outcome.metadata == {"skipped": reason}
    # once the source is there, the model is built as its header says (a view) and tested
    rebuilt = build_model(con, model, {"relationships_kind": "needs staging.items"})
    assert rebuilt.published and rebuilt.skipped is None
    assert con.execute("select count(*) from marts.kinds").fetchone() == (3,)
    assert con.execute(
        "select table_type from information_schema.tables where table_name = 'kinds'"
    ).fetchall() == [("VIEW",)]
    assert [(t.test.name, t.passed, t.description) for t in rebuilt.tests] == [
        ("not_null_units", True, "units is never null: passed"),  # run
        ("relationships_kind", True, "skipped: needs staging.items"),  # would fail on 'sale'
    ]
    # a check run on its own, from the UI, skips the same way
    alone = run_published_tests(con, model, {"relationships_kind"}, {"relationships_kind": "x"})
    assert [(t.test.name, t.skipped) for t in alone] == [("relationships_kind", "x")]
