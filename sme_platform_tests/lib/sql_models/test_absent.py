"""Which models and tests are skipped when a company has no source for some canonical tables."""

from __future__ import annotations

import pytest

from sme_platform.lib.sql_models.absent import can_have_rows, plan_skips
from sme_platform.lib.sql_models.graph import load_model_graph
from sme_platform_tests.conftest import CANONICAL_TABLES, REPO_ROOT
from sme_platform_tests.lib.sql_models.test_graph import write_model

ABSENT = frozenset({"raw.absent", "staging.absent"})


@pytest.mark.parametrize(
    ("sql", "rows"),
    [
        ("select * from raw.present", True),
        ("select * from raw.absent", False),
        ("select count(*) as n from raw.absent", False),  # an aggregate over nothing
        ("select 1 as one", True),
        ("select * from range(3)", True),  # a table function has rows of its own
        ("select * from raw.present p left join raw.absent a using (k)", True),
        ("select * from raw.absent a left join raw.present p using (k)", False),
        ("select * from raw.absent a left anti join raw.present p using (k)", False),
        ("select * from raw.present p right join raw.absent a using (k)", False),
        ("select * from raw.absent a right join raw.present p using (k)", True),
        ("select * from raw.present p full join raw.absent a using (k)", True),
        ("select * from raw.present p join raw.absent a using (k)", False),
        ("select * from raw.present p, raw.absent a", False),
        ("select * from raw.present p semi join raw.absent a using (k)", False),
        ("select * from raw.present p cross join lateral unnest([1, 2]) as t(x)", True),
        ("select k from raw.absent union all select k from raw.present", True),
        ("select k from raw.present intersect select k from raw.absent", False),
        ("select k from raw.present except select k from raw.absent", True),
        ("select k from raw.absent except select k from raw.present", False),
        ("select * from (select * from raw.absent) s", False),
        # CTEs, each reading the ones before it; a CTE named like a table is the CTE
        ("with a as (select * from raw.absent), b as (select * from a) select * from b", False),
        ("with absent as (select * from raw.present) select * from absent", True),
        (
            "with s as (select * from staging.absent), "
            "pairs as (select k from s union all select k from raw.present) "
            "select * from pairs left join s using (k)",
            True,
        ),
    ],
)
def test_whether_a_query_can_have_rows_when_some_inputs_are_absent(sql, rows):
    assert can_have_rows(sql, ABSENT) is rows


DEMO_GRAPH = load_model_graph(REPO_ROOT / "dbt_like_sql")


def absent_except(*present: str) -> set[str]:
    return set(CANONICAL_TABLES) - set(present)


def test_a_tickets_only_company_skips_every_sales_and_stock_model_with_its_reason():
    plan = plan_skips(DEMO_GRAPH, absent_except("tickets"))
    built = set(DEMO_GRAPH.models) - set(plan.models)
    assert built == {"staging.tickets", "marts.tickets", "reports.support_kpis_monthly"}
    assert plan.models["staging.sales_lines"] == "no source for raw.sales_lines in sources.yaml"
    # either sales or stock would give it rows: both are named
    assert plan.models["marts.sales_daily"] == (
        "no source for raw.inventory_snapshots, raw.sales_lines in sources.yaml"
    )
    # customers left join orders left join tickets: it is the customers that are missing
    assert plan.models["marts.customers"] == "no source for raw.customers in sources.yaml"
    assert plan.tests_of("marts.sales_daily") == {
        name: plan.models["marts.sales_daily"]
        for name in [t.name for t in DEMO_GRAPH.models["marts.sales_daily"].header.tests]
    }
    assert "great_expectations_suite" in plan.tests_of("marts.sales_daily")
    # marts.tickets is built: the missing customers only leave customer_segment empty
    assert plan.tests_of("marts.tickets") == {}


def test_a_sales_only_company_builds_its_sales_marts_and_skips_tests_against_products():
    plan = plan_skips(DEMO_GRAPH, absent_except("sales_lines"))
    built = set(DEMO_GRAPH.models) - set(plan.models)
    assert built == {
        "staging.sales_lines",
        "staging.sales_returns",
        "staging.sales_adjustments",
        "marts.sales_daily",
        "reports.sales_kpis_monthly",
    }
    assert plan.models["marts.products"] == "no source for raw.products in sources.yaml"
    assert plan.tests_of("staging.sales_lines") == {
        "relationships_sku": (
            "needs staging.products, which has no data: no source for raw.products in sources.yaml"
        )
    }
    assert list(plan.tests_of("marts.sales_daily")) == ["relationships_sku"]


def test_a_stock_only_company_builds_sales_daily_from_its_stock_outs():
    plan = plan_skips(DEMO_GRAPH, absent_except("inventory_snapshots"))
    built = set(DEMO_GRAPH.models) - set(plan.models)
    # the days with a stock-out are a branch of the union of event days: they give it rows
    assert built == {
        "staging.inventory_snapshots",
        "marts.sales_daily",
        "marts.inventory_positions",
    }
    assert plan.models["reports.sales_kpis_monthly"] == (
        "no source for raw.sales_lines in sources.yaml"
    )


def test_with_every_source_nothing_is_skipped():
    plan = plan_skips(DEMO_GRAPH, ())
    assert (plan.models, plan.tests) == ({}, {})


def test_a_sql_test_reading_an_absent_table_is_skipped(tmp_path):
    write_model(
        tmp_path,
        "staging/orders.sql",
        "select * from raw.sales_lines",
        "tests:\n"
        "  - sql: {name: known_customers, query: 'select * from {{ this }} o "
        "anti join raw.customers c using (customer_id)'}\n"
        "  - unique: [order_id]\n",
    )
    plan = plan_skips(load_model_graph(tmp_path), {"customers"})
    assert plan.models == {}
    assert plan.tests_of("staging.orders") == {
        "known_customers": (
            "needs raw.customers, which has no data: no source for raw.customers in sources.yaml"
        )
    }
