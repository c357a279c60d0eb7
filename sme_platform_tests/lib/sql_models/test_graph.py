"""Finding the SQL models and their dependencies; every way a graph can be broken is a clear
error at load time naming the file and the table."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sme_platform.lib.sql_models.errors import ModelGraphError
from sme_platform.lib.sql_models.graph import load_model_graph

HEADER = """/*
description: 'A test model. Grain: one row per thing.'
owner: team:data
{extra}*/
"""


def write_model(folder: Path, name: str, sql: str, extra: str = "") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER.format(extra=textwrap.dedent(extra)) + sql, encoding="utf-8")
    return path


def test_models_are_found_with_their_layer_references_and_order(tmp_path):
    write_model(tmp_path, "staging/orders.sql", "select * from raw.sales_lines")
    write_model(
        tmp_path,
        "marts/daily.sql",
        "with s as (select * from staging.orders) select * from s join staging.items using (sku)",
    )
    write_model(
        tmp_path,
        "staging/items.sql",
        "select * from raw.products",
        extra="tests:\n  - relationships: {column: sku, to: staging.orders, field: sku}\n",
    )
    graph = load_model_graph(tmp_path)
    assert set(graph.models) == {"staging.orders", "staging.items", "marts.daily"}
    daily = graph.models["marts.daily"]
    assert (daily.schema, daily.name) == ("marts", "daily")
    assert daily.references == ("staging.items", "staging.orders")  # the CTE `s` is no table
    assert graph.models["staging.orders"].raw_references == ("sales_lines",)
    # a relationships test reads its parent table: that is a dependency too
    assert graph.models["staging.items"].references == ("raw.products", "staging.orders")
    order = list(graph.order)
    assert order.index("staging.orders") < order.index("staging.items") < order.index("marts.daily")
    assert graph.downstream_of("staging.orders") == {"staging.items", "marts.daily"}
    assert len(daily.code_version) == 16


def test_the_code_version_changes_with_the_file_and_only_then(tmp_path):
    path = write_model(tmp_path, "staging/orders.sql", "select * from raw.sales_lines")
    before = load_model_graph(tmp_path).models["staging.orders"].code_version
    assert load_model_graph(tmp_path).models["staging.orders"].code_version == before
    path.write_text(path.read_text() + " where quantity > 0", encoding="utf-8")
    assert load_model_graph(tmp_path).models["staging.orders"].code_version != before


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"marts/a.sql": "select * from staging.missing"},
            r"marts/a\.sql: references unknown table staging\.missing",
        ),
        (
            {"marts/a.sql": "select * from raw.not_canonical"},
            r"marts/a\.sql: references unknown table raw\.not_canonical",
        ),
        (
            {"marts/a.sql": "select * from orders"},
            r"marts/a\.sql: table orders is neither a CTE nor schema-qualified",
        ),
        (
            {
                "marts/a.sql": "select * from marts.b",
                "marts/b.sql": "select * from marts.c",
                "marts/c.sql": "select * from marts.a",
            },
            r"the SQL models form a cycle: marts\.\w -> marts\.\w -> marts\.\w -> marts\.\w "
            r"\(.*marts/\w\.sql",
        ),
        ({"marts/a.sql": "select * from marts.a"}, r"cycle: marts\.a -> marts\.a"),
        ({"marts/a.sql": "select from where"}, r"marts/a\.sql: the SQL does not parse"),
        (
            {"marts/a.sql": "select 1; select 2"},
            r"marts/a\.sql: a model is exactly one SELECT query",
        ),
        (
            {"marts/a.sql": "drop table raw.sales_lines"},
            r"marts/a\.sql: a model is exactly one SELECT query",
        ),
        ({"features/a.sql": "select 1"}, r"features/a\.sql: folder 'features' is not a layer"),
        ({"marts/deep/a.sql": "select 1"}, r"marts/deep/a\.sql: SQL models live one folder deep"),
    ],
)
def test_a_broken_graph_is_an_error_naming_the_file_and_table(tmp_path, files, message):
    for name, sql in files.items():
        write_model(tmp_path, name, sql)
    with pytest.raises(ModelGraphError, match=message):
        load_model_graph(tmp_path)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("select 1", r"opens with a /\* \.\.\. \*/ header block"),
        ("/* description: [unclosed\n*/ select 1", r"the header is not valid YAML"),
        ("/*\ndescription: no grain here\nowner: team:data\n*/ select 1", r"state the grain"),
        ("/*\ndescription: 'Grain: x.'\nowner: bob\n*/ select 1", r"owner must be team:<name>"),
        (
            "/*\ndescription: 'Grain: x.'\nowner: team:data\nmaterialization: snapshot\n*/ s",
            r"materialization: 'snapshot' is not allowed; allowed: table, view, incremental$",
        ),
        (
            "/*\ndescription: 'Grain: x.'\nowner: team:data\nmaterialization: incremental\n*/ s",
            r"materialization: incremental and an incremental: block go together$",
        ),
        (
            "/*\ndescription: 'Grain: x.'\nowner: team:data\nowners: x\n*/ select 1",
            r"owners: unknown key 'owners'; allowed keys: description, incremental, "
            r"materialization, owner, pii, tests; did you mean owner\?$",
        ),
        (
            "/*\ndescription: 'Grain: x.'\nowner: team:data\npii: {email: encrypt}\n*/ select 1",
            r"pii\.email: 'encrypt' is not allowed; allowed: hash, redact, none$",
        ),
        (
            "/*\ndescription: 'Grain: x.'\nowner: team:data\ntests:\n  - positive: [a]\n*/ s",
            r"tests\[0\]\.positive: unknown test 'positive'; tests: not_null, unique, "
            r"accepted_values, relationships, expression, sql$",
        ),
        (
            "/*\ndescription: 'Grain: x.'\nowner: team:data\ntests:\n"
            "  - relationships: {column: a}\n*/ select 1",
            r"tests\[0\]\.relationships\.to: required key is missing\n"
            r".*staging/orders\.sql: tests\[0\]\.relationships\.field: required key is missing$",
        ),
        (
            "/*\ndescription: 'Grain: x.'\nowner: team:data\ntests:\n  - not_null: [a]\n"
            "  - expression: {name: not_null_a, sql: 'a > 0'}\n*/ select 1",
            r"test name\(s\) \['not_null_a'\] used twice",
        ),
        (
            "/*\ndescription: 'Grain: x.'\nowner: team:data\ntests:\n"
            "  - expression: {name: a, sql: 'a > 0', severity: fatal}\n*/ select 1",
            r"tests\[0\]\.expression\.severity: 'fatal' is not allowed; allowed: error, warn$",
        ),
    ],
)
def test_a_bad_header_is_an_error_naming_the_file(tmp_path, header, message):
    path = tmp_path / "staging" / "orders.sql"
    path.parent.mkdir()
    path.write_text(header, encoding="utf-8")
    with pytest.raises(ModelGraphError, match=r"staging/orders\.sql: .*" + message):
        load_model_graph(tmp_path)


def test_the_demo_models_load(tmp_path):
    from sme_platform_tests.conftest import REPO_ROOT, SQL_MODELS

    graph = load_model_graph(REPO_ROOT / "dbt_like_sql")
    assert sorted(name.replace(".", "/") for name in graph.models) == SQL_MODELS
    for model in graph.models.values():
        assert "grain" in model.header.description.lower()
        assert model.header.tests, f"{model.qualified_name} has no tests"


def test_a_suite_that_repeats_a_header_test_is_refused_naming_both(tmp_path):
    import json

    write_model(
        tmp_path,
        "marts/daily.sql",
        "select * from raw.sales_lines",
        extra="tests:\n  - unique: [order_id, line_number]\n  - not_null: [sku]\n",
    )
    expectations = [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "sku"}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "sku", "mostly": 0.9}},
        {
            "type": "expect_compound_columns_to_be_unique",
            "kwargs": {"column_list": ["order_id", "line_number"]},
        },
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "quantity"}},
    ]
    suite = tmp_path / "marts" / "daily.expectations.json"
    suite.write_text(json.dumps({"expectations": expectations}), encoding="utf-8")
    with pytest.raises(ModelGraphError) as refused:
        load_model_graph(tmp_path)
    lines = str(refused.value).splitlines()
    assert lines == [
        f"{suite}: expectations[0] expect_column_values_to_not_be_null "
        '{"column": "sku"} repeats the header test \'not_null_sku\'; keep the rule in one place '
        "(the header)",
        f"{suite}: expectations[2] expect_compound_columns_to_be_unique "
        '{"column_list": ["order_id", "line_number"]} repeats the header test '
        "'unique_order_id_line_number'; keep the rule in one place (the header)",
    ]
