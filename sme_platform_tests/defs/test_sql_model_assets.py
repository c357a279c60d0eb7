"""SQL models through Dagster: a failing blocking test stops the model's downstream in the run,
keeps the previous version, and every check result lands in governance.check_results."""

from __future__ import annotations

import json

import dagster as dg

from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.sql_models.assets import build_sql_model_asset
from sme_platform.lib.sql_models.graph import load_model_graph
from sme_platform.lib.sql_models.unit_testing import create_raw_table
from sme_platform.lib.sql_models.up_to_date import FULL_REFRESH_TAG
from sme_platform.lib.warehouse import connect
from sme_platform_tests.lib.sql_models.test_graph import write_model


def add_sales(project, *quantities):
    with connect(project / "data" / "warehouse.duckdb") as con:
        create_raw_table(con, "sales_lines")
        start = con.execute("select count(*) from raw.sales_lines").fetchone()[0]
        for offset, quantity in enumerate(quantities):
            con.execute(
                "insert into raw.sales_lines (order_id, line_number, quantity) values (?, 1, ?)",
                [f"O{start + offset}", quantity],
            )


def write_lines_model(models):
    """staging.lines over raw.sales_lines, with a blocking test that negative quantities fail."""
    write_model(
        models,
        "staging/lines.sql",
        "select order_id, quantity from raw.sales_lines",
        "tests:\n  - expression: {name: quantity_positive, sql: 'quantity > 0'}\n"
        "  - unique: [order_id]\n",
    )


def write_lines_and_totals(models):
    """staging.lines and marts.totals over it (lines and units, units never null)."""
    write_lines_model(models)
    write_model(
        models,
        "marts/totals.sql",
        "select count(*) as lines, sum(quantity) as units from staging.lines",
        "tests:\n  - not_null: [units]\n",
    )
    return models


def materialize(project, models_dir):
    graph = load_model_graph(models_dir)
    assets = [build_sql_model_asset(graph.models[name], graph) for name in graph.order]
    return dg.materialize(
        assets,
        resources={"project": ProjectResource(project_dir=str(project))},
        raise_on_error=False,
    )


def test_a_failing_blocking_test_stops_downstream_and_keeps_the_last_good_version(tmp_path):
    models = write_lines_and_totals(tmp_path / "models")
    add_sales(tmp_path, 2.0, 3.0)
    first = materialize(tmp_path, models)
    assert first.success
    materialized = first.get_asset_materialization_events()
    metadata = {e.asset_key.to_user_string(): e.materialization.metadata for e in materialized}
    assert metadata["marts/totals"]["dagster/row_count"].value == 1
    lineage = metadata["marts/totals"]["dagster/column_lineage"].value
    assert [
        (d.asset_key.to_user_string(), d.column_name) for d in lineage.deps_by_column["units"]
    ] == [("staging/lines", "quantity")]

    add_sales(tmp_path, -1.0)  # a bad row reaches raw
    second = materialize(tmp_path, models)
    assert not second.success
    assert second.get_asset_materialization_events() == []  # neither model materialized
    failed = [e for e in second.get_asset_check_evaluations() if not e.passed]
    assert [(e.asset_key.to_user_string(), e.check_name) for e in failed] == [
        ("staging/lines", "quantity_positive")
    ]
    assert failed[0].metadata["failing_rows"].value == 1
    steps = {e.step_key: e.event_type_value for e in second.all_events if e.step_key}
    assert steps["staging__lines"] == "STEP_FAILURE"
    assert "marts__totals" not in steps  # never started: its upstream failed

    with connect(tmp_path / "data" / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("select count(*) from staging.lines").fetchone()[0] == 2
        assert con.execute("select units from marts.totals").fetchone()[0] == 5.0
        recorded = con.execute(
            """select asset, check_name, passed, severity, observed, run_id
            from governance.check_results order by checked_at, asset, check_name"""
        ).fetchall()
    assert len(recorded) == 3 + 2  # three checks in the first run, two in the second
    last = recorded[-2]
    assert last[:4] == ("staging/lines", "quantity_positive", False, "error")
    assert json.loads(last[4])["failing_rows"] == 1 and last[5] == second.run_id


def test_a_model_without_tests_materializes(tmp_path):
    models = tmp_path / "models"
    write_model(models, "reports/lines.sql", "select count(*) as n from raw.sales_lines")
    add_sales(tmp_path, 1.0)
    result = materialize(tmp_path, models)
    assert result.success
    (event,) = result.get_asset_materialization_events()
    assert event.materialization.metadata["dagster/row_count"].value == 1


def test_a_check_runs_alone_on_the_published_table_without_a_rebuild(tmp_path):
    models = tmp_path / "models"
    write_lines_model(models)
    add_sales(tmp_path, 2.0)
    assert materialize(tmp_path, models).success
    add_sales(tmp_path, -1.0)  # raw changes; the published table does not until a rebuild

    graph = load_model_graph(models)
    assets = [build_sql_model_asset(graph.models["staging.lines"], graph)]
    key = dg.AssetKey(["staging", "lines"])
    result = dg.materialize(
        assets,
        selection=dg.AssetSelection.checks(dg.AssetCheckKey(key, "quantity_positive")),
        resources={"project": ProjectResource(project_dir=str(tmp_path))},
    )
    assert result.success
    assert result.get_asset_materialization_events() == []
    (evaluation,) = result.get_asset_check_evaluations()
    assert (evaluation.check_name, evaluation.passed) == ("quantity_positive", True)
    with connect(tmp_path / "data" / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("select count(*) from staging.lines").fetchone()[0] == 1


def test_a_source_taken_out_of_sources_yaml_keeps_the_models_built_on_its_rows(project):
    """Absent means no source and no rows: rows loaded before stay in raw, and the models over
    them keep being built (not published empty)."""
    from sme_platform.defs.resources import ProjectResource
    from sme_platform.defs.sql_models.assets import MODEL_GRAPH, skip_plan
    from sme_platform.lib.warehouse import connect
    from sme_platform_tests.conftest import SALES_HEADER

    project.write("sales_1.csv", SALES_HEADER + "\nO1,1,2024-01-01 10:00:00,A,2,1.5,SALE\n")
    project.write("products.csv", "sku,name\nA,Widget\n")
    project.sales_source(path="sales_*.csv")
    project.source("products", path="products.csv", columns={"sku": "sku", "product_name": "name"})
    resource = ProjectResource(project_dir=str(project.root))
    with connect(project.warehouse) as con:
        assert "marts.products" not in skip_plan(resource, MODEL_GRAPH, con).models
    del project.sources["products"]
    project.source("sales_lines", **project.sources["sales_lines"])  # rewrites sources.yaml
    with connect(project.warehouse) as con:  # nothing loaded yet: products has no rows
        assert "marts.products" in skip_plan(resource, MODEL_GRAPH, con).models
    project.source("products", path="products.csv", columns={"sku": "sku", "product_name": "name"})
    project.ingest("products")
    del project.sources["products"]
    project.source("sales_lines", **project.sources["sales_lines"])
    with connect(project.warehouse) as con:
        assert "marts.products" not in skip_plan(resource, MODEL_GRAPH, con).models


def up_to_date(result) -> dict[str, str | None]:
    return {
        e.asset_key.to_user_string(): (
            e.materialization.metadata["up_to_date"].value
            if "up_to_date" in e.materialization.metadata
            else None
        )
        for e in result.get_asset_materialization_events()
    }


def check_rows(project) -> int:
    with connect(project / "data" / "warehouse.duckdb", read_only=True) as con:
        return con.execute("select count(*) from governance.check_results").fetchone()[0]


def test_unchanged_models_are_not_built_again_and_a_change_rebuilds_what_follows(tmp_path):
    models = write_lines_and_totals(tmp_path / "models")
    write_model(models, "marts/constant.sql", "select 1 as one", "")
    add_sales(tmp_path, 2.0, 3.0)
    first = materialize(tmp_path, models)
    assert first.success and set(up_to_date(first).values()) == {None}
    rows_checked = check_rows(tmp_path)

    # Nothing changed: no model built, no test run again, the run says why per model.
    second = materialize(tmp_path, models)
    assert second.success
    reasons = up_to_date(second)
    assert all(
        r.startswith("up to date: inputs and code unchanged since run ") for r in reasons.values()
    )
    assert reasons["staging/lines"].startswith(
        f"up to date: inputs and code unchanged since run {first.run_id[:8]}"
    )
    assert check_rows(tmp_path) == rows_checked  # the history holds real runs of the tests only
    evaluations = {e.check_name: e for e in second.get_asset_check_evaluations()}
    assert evaluations["quantity_positive"].passed
    assert evaluations["quantity_positive"].description.startswith(
        "not run again: the model is up to date"
    )
    rows = second.get_asset_materialization_events()
    assert {
        e.asset_key.to_user_string(): e.materialization.metadata["dagster/row_count"].value
        for e in rows
    }["marts/totals"] == 1

    # A new row in raw: the two models reading it are built again, the constant is not.
    add_sales(tmp_path, 4.0)
    third = materialize(tmp_path, models)
    assert up_to_date(third)["staging/lines"] is None and up_to_date(third)["marts/totals"] is None
    assert up_to_date(third)["marts/constant"].startswith("up to date")
    with connect(tmp_path / "data" / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("select lines, units from marts.totals").fetchone() == (3, 9.0)

    # A model's code changes: it and what reads it are built again.
    write_model(
        models,
        "staging/lines.sql",
        "select order_id, quantity * 2 as quantity from raw.sales_lines",
        "tests:\n  - expression: {name: quantity_positive, sql: 'quantity > 0'}\n"
        "  - unique: [order_id]\n",
    )
    fourth = materialize(tmp_path, models)
    assert (
        up_to_date(fourth)["staging/lines"] is None and up_to_date(fourth)["marts/totals"] is None
    )
    with connect(tmp_path / "data" / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("select units from marts.totals").fetchone() == (18.0,)

    # A table dropped by hand is built again; a full refresh builds everything.
    with connect(tmp_path / "data" / "warehouse.duckdb") as con:
        con.execute("drop table marts.constant")
    fifth = materialize(tmp_path, models)
    assert up_to_date(fifth)["marts/constant"] is None
    assert up_to_date(fifth)["staging/lines"].startswith("up to date")
    graph = load_model_graph(models)
    refreshed = dg.materialize(
        [build_sql_model_asset(graph.models[name], graph) for name in graph.order],
        resources={"project": ProjectResource(project_dir=str(tmp_path))},
        tags={FULL_REFRESH_TAG: "true"},
    )
    assert set(up_to_date(refreshed).values()) == {None}
