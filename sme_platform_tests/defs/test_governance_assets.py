"""The analyst database through Dagster: its checks are blocking gates on the new file, and a
model that forgets a PII column of a new canonical source never reaches analysts."""

from __future__ import annotations

import dagster as dg

from sme_platform.defs.governance.assets import ANALYST_DATABASE_KEY, build_analyst_database_asset
from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.sql_models.assets import build_sql_model_asset
from sme_platform.lib.canonical import CANONICAL_TABLES
from sme_platform.lib.sql_models.graph import load_model_graph
from sme_platform.lib.sql_models.unit_testing import create_raw_table
from sme_platform.lib.warehouse import connect
from sme_platform_tests.lib.sql_models.test_graph import write_model
from sme_platform_tests.lib.test_analyst_database import EMPLOYEES, STAFF


def run_models_and_publish(project, models):
    graph = load_model_graph(models)
    assets = [build_sql_model_asset(graph.models[name], graph) for name in graph.order]
    return dg.materialize(
        [*assets, build_analyst_database_asset(graph)],
        resources={"project": ProjectResource(project_dir=str(project))},
        raise_on_error=False,
    )


def test_both_checks_are_blocking():
    asset = build_analyst_database_asset()
    specs = {spec.name: spec.blocking for spec in asset.check_specs}
    assert specs == {"pii_masked": True, "published_rows_match_warehouse": True}


def test_a_header_forgetting_a_pii_column_of_a_new_source_never_reaches_analysts(
    tmp_path, monkeypatch
):
    monkeypatch.setitem(CANONICAL_TABLES, "employees", EMPLOYEES)
    models = tmp_path / "models"
    with connect(tmp_path / "data" / "warehouse.duckdb") as con:
        create_raw_table(con, "employees")
        con.execute(
            "insert into raw.employees (employee_id, full_name, team) "
            "values ('E1', 'Cy Doe', 'ops'), ('E2', 'Di Roe', 'ops')"
        )
    write_model(models, "staging/staff.sql", STAFF, "pii: {full_name: redact}\n")
    first = run_models_and_publish(tmp_path, models)
    assert first.success
    analytics = tmp_path / "data" / "analytics.duckdb"
    before = analytics.read_bytes()

    write_model(models, "staging/staff.sql", STAFF, "pii: {}\n")  # the header forgets it
    second = run_models_and_publish(tmp_path, models)
    assert not second.success
    assert analytics.read_bytes() == before  # analysts keep the previous snapshot
    assert [p.name for p in analytics.parent.iterdir() if p.name.endswith(".building")] == []
    (failure,) = [e for e in second.all_events if e.is_step_failure]
    assert failure.step_key == "publish_analyst_database"
    message = failure.event_specific_data.error.message
    assert "staging.staff.full_name: 2 unmasked value(s)" in message
    assert "previous snapshot stays in place" in message
    # the model itself was rebuilt: the gate is the publication, not the warehouse
    assert {e.asset_key.to_user_string() for e in second.get_asset_materialization_events()} == {
        "staging/staff"
    }
    evaluations = {
        e.check_name: e.passed
        for e in second.get_asset_check_evaluations()
        if e.asset_key == ANALYST_DATABASE_KEY
    }
    assert evaluations == {"pii_masked": False, "published_rows_match_warehouse": True}
    with connect(tmp_path / "data" / "warehouse.duckdb", read_only=True) as con:
        recorded = con.execute(
            "select check_name, passed, description, run_id from governance.check_results "
            "where asset = 'governance/analyst_database' order by checked_at, check_name"
        ).fetchall()
    assert [(name, passed, run) for name, passed, _, run in recorded] == [
        ("pii_masked", True, first.run_id),
        ("published_rows_match_warehouse", True, first.run_id),
        ("pii_masked", False, second.run_id),
        ("published_rows_match_warehouse", True, second.run_id),
    ]
    assert recorded[2][2].startswith("staging.staff.full_name: 2 unmasked value(s)")
