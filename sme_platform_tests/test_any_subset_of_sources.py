"""A company that brings only some of its exports still gets a green run and an analyst database:
whatever has no source is skipped with the reason (in the asset's metadata, its checks and the
summary), never failed. Two tiny hand-written projects, tickets only and sales only, run the
whole graph end to end."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from sme_platform.cli import print_summary
from sme_platform.defs.governance.assets import GOVERNANCE_ASSETS
from sme_platform.defs.ingestion.assets import INGESTION_ASSETS
from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.sql_models.assets import SQL_MODEL_ASSETS
from sme_platform.lib.project import ProjectPaths
from sme_platform.lib.summary import summarize_warehouse
from sme_platform_tests.conftest import SALES_HEADER, SQL_MODELS, TinyProject

TICKETS_CSV = "\n".join(
    [
        "id,opened,prio,channel,subject,body,status,answered,resolved",
        "T1,2025-03-03 09:00:00,high,email,Late,Where is order 17?,closed,"
        "2025-03-03 10:30:00,2025-03-04 09:00:00",
        "T2,2025-03-10 14:00:00,low,phone,Invoice,Send the invoice,resolved,"
        "2025-03-10 14:05:00,2025-03-10 15:00:00",
        "T3,2025-04-01 08:00:00,medium,web,Broken,The lid arrived broken,open,,",
        "",
    ]
)
TICKETS_COLUMNS = {
    "ticket_id": "id",
    "opened_at": "opened",
    "priority": "prio",
    "channel": "channel",
    "subject": "subject",
    "body": "body",
    "status": "status",
    "first_response_at": "answered",
    "resolved_at": "resolved",
}
SALES_CSV = f"""\
{SALES_HEADER}
O1,1,2025-03-01 10:00:00,A,2,9.50,Sale
O1,2,2025-03-01 10:00:00,B,1,4.00,Sale
O2,1,2025-03-03 11:00:00,A,-1,9.50,Return
O3,1,2025-03-04 12:00:00,B,3,4.00,Sale
"""


def run_whole_graph(root) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [*INGESTION_ASSETS, *SQL_MODEL_ASSETS, *GOVERNANCE_ASSETS],
        resources={"project": ProjectResource(project_dir=str(root))},
        raise_on_error=False,
    )
    failures = [e.event_specific_data.error.message for e in result.all_events if e.is_step_failure]
    assert result.success, failures
    return result


def assert_skipped_everywhere(root, result, expected_skips: dict[str, str]) -> None:
    """Skipped models: materialized empty with the reason, checks passed saying so, listed in the
    summary and the analyst catalog; and no check at all failed."""
    materialized = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert set(SQL_MODELS) | {"governance/analyst_database"} <= set(materialized)
    skipped_in_metadata = {
        key.replace("/", "."): metadata["skipped"].value
        for key, metadata in materialized.items()
        if "skipped" in metadata
    }
    assert skipped_in_metadata == expected_skips
    for name in expected_skips:
        assert materialized[name.replace(".", "/")]["dagster/row_count"].value == 0
    evaluations = result.get_asset_check_evaluations()
    assert [(e.asset_key.to_user_string(), e.check_name) for e in evaluations if not e.passed] == []
    for evaluation in evaluations:
        model = evaluation.asset_key.to_user_string().replace("/", ".")
        if model in expected_skips:
            assert evaluation.description == f"skipped: {expected_skips[model]}"
            assert evaluation.metadata["skipped"].value == expected_skips[model]
    assert summarize_warehouse(root / "data" / "warehouse.duckdb").skipped_models == expected_skips
    with duckdb.connect(str(root / "data" / "analytics.duckdb"), read_only=True) as analyst:
        catalog = analyst.execute(
            "select table_schema || '.' || table_name, skipped, row_count "
            "from governance.published_tables"
        ).fetchall()
    assert {name: reason for name, reason, _ in catalog if reason} == expected_skips
    # the SQL models, the audit log of what the run did and the asset catalog
    assert {name for name, _, _ in catalog} == {m.replace("/", ".") for m in SQL_MODELS} | {
        "governance.audit_log",
        "governance.catalog",
    }


NO_SALES = "no source for raw.sales_lines in sources.yaml"
NO_TICKETS = "no source for raw.tickets in sources.yaml"


@pytest.fixture(scope="module")
def tickets_only(tmp_path_factory):
    project = TinyProject(tmp_path_factory.mktemp("tickets_only"))
    project.write("tickets.csv", TICKETS_CSV)
    project.source("tickets", path="tickets.csv", columns=TICKETS_COLUMNS)
    return project.root, run_whole_graph(project.root)


def test_a_tickets_only_company_gets_its_support_kpis_and_an_analyst_database(tickets_only):
    root, result = tickets_only
    assert_skipped_everywhere(
        root,
        result,
        {
            "staging.customers": "no source for raw.customers in sources.yaml",
            "staging.inventory_snapshots": "no source for raw.inventory_snapshots in sources.yaml",
            "staging.locations": "no source for raw.locations in sources.yaml",
            "staging.prices": "no source for raw.prices in sources.yaml",
            "staging.products": "no source for raw.products in sources.yaml",
            "staging.sales_adjustments": NO_SALES,
            "staging.sales_lines": NO_SALES,
            "staging.sales_returns": NO_SALES,
            "marts.customers": "no source for raw.customers in sources.yaml",
            "marts.inventory_positions": "no source for raw.inventory_snapshots in sources.yaml",
            "marts.products": "no source for raw.products in sources.yaml",
            "marts.sales_daily": (
                "no source for raw.inventory_snapshots, raw.sales_lines in sources.yaml"
            ),
            "reports.sales_kpis_monthly": NO_SALES,
        },
    )
    with duckdb.connect(str(root / "data" / "analytics.duckdb"), read_only=True) as analyst:
        assert analyst.execute(
            "select month, tickets_opened from reports.support_kpis_monthly order by 1"
        ).fetchall() == [(_month(2025, 3), 2), (_month(2025, 4), 1)]
        assert analyst.execute("select distinct subject, body from marts.tickets").fetchall() == [
            ("[redacted]", "[redacted]")
        ]
        # a skipped table is there, with its columns and no rows
        assert analyst.execute("select count(*) from marts.sales_daily").fetchone() == (0,)
        columns = [row[0] for row in analyst.execute("describe marts.sales_daily").fetchall()]
        assert "units_sold" in columns


def test_the_summary_lists_the_skipped_models(tickets_only, capsys):
    root, _ = tickets_only
    print_summary(ProjectPaths.at(root))
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert (
        "skipped (no source): marts.customers, marts.inventory_positions, marts.products, "
        "marts.sales_daily, reports.sales_kpis_monthly, staging.customers, "
        "staging.inventory_snapshots, staging.locations, staging.prices, staging.products, "
        "staging.sales_adjustments, staging.sales_lines, staging.sales_returns " in out
    )
    assert "failing check" not in out
    assert "select * from reports.support_kpis_monthly" in out


def test_a_sales_only_company_gets_its_sales_marts_and_an_analyst_database(tmp_path):
    project = TinyProject(tmp_path)
    project.write("sales_1.csv", SALES_CSV)
    project.sales_source()
    result = run_whole_graph(tmp_path)
    assert_skipped_everywhere(
        tmp_path,
        result,
        {
            "staging.customers": "no source for raw.customers in sources.yaml",
            "staging.inventory_snapshots": "no source for raw.inventory_snapshots in sources.yaml",
            "staging.locations": "no source for raw.locations in sources.yaml",
            "staging.prices": "no source for raw.prices in sources.yaml",
            "staging.products": "no source for raw.products in sources.yaml",
            "staging.tickets": NO_TICKETS,
            "marts.customers": "no source for raw.customers in sources.yaml",
            "marts.inventory_positions": "no source for raw.inventory_snapshots in sources.yaml",
            "marts.products": "no source for raw.products in sources.yaml",
            "marts.tickets": NO_TICKETS,
            "reports.support_kpis_monthly": NO_TICKETS,
        },
    )
    # the relationship tests against the absent products are skipped, the rest ran
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }
    assert evaluations[("staging/sales_lines", "relationships_sku")].description == (
        "skipped: needs staging.products, which has no data: "
        "no source for raw.products in sources.yaml"
    )
    assert evaluations[("marts/sales_daily", "great_expectations_suite")].description == (
        "4 of 4 expectations met"
    )
    with duckdb.connect(str(tmp_path / "data" / "analytics.duckdb"), read_only=True) as analyst:
        # sparse: the days with a sale or a return, none zero-filled (A on 2 and 4 March, B on
        # 2 and 3 March have no row), stock unknown without inventory
        assert analyst.execute(
            "select sales_date::varchar, sku, units_sold, units_returned, is_stocked_out "
            "from marts.sales_daily order by 1, 2"
        ).fetchall() == [
            ("2025-03-01", "A", 2.0, 0.0, None),
            ("2025-03-01", "B", 1.0, 0.0, None),
            ("2025-03-03", "A", 0.0, 1.0, None),
            ("2025-03-04", "B", 3.0, 0.0, None),
        ]
        assert analyst.execute(
            "select revenue, units_sold from reports.sales_kpis_monthly"
        ).fetchall() == [(pytest.approx(35.0), 6.0)]  # 2 x 9.50 + 1 x 4 + 3 x 4


def _month(year: int, month: int):
    from datetime import date

    return date(year, month, 1)
