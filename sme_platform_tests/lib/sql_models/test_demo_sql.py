"""SQL unit tests of the demo models: given input rows, the model returns exactly these rows."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from sme_platform.lib.sql_models.graph import load_model_graph
from sme_platform.lib.sql_models.unit_testing import assert_model_output, run_model_on
from sme_platform_tests.conftest import REPO_ROOT

MODELS = load_model_graph(REPO_ROOT / "dbt_like_sql").models


def sale(order_id, line, day, sku="A", qty=1.0, price="10", **extra):
    return {
        "order_id": order_id,
        "line_number": line,
        "ordered_at": datetime.fromisoformat(f"{day} 10:00:00"),
        "sku": sku,
        "quantity": qty,
        "unit_price": Decimal(price),
        "line_type": "sale",
        "location_id": "L1",
        "_ingested_at": datetime(2025, 1, 1),
        "_source_row": line,
        **extra,
    }


def test_staging_sales_lines_keeps_sales_once_with_net_amounts():
    rows = [
        sale("O1", 1, "2024-03-01", qty=2.0, price="10", discount_pct=25.0),
        # the same key loaded twice (an appended re-export): the later load wins
        sale("O1", 2, "2024-03-01", qty=1.0, _ingested_at=datetime(2025, 1, 1)),
        sale("O1", 2, "2024-03-01", qty=3.0, _ingested_at=datetime(2025, 1, 2)),
        sale("O2", 1, "2024-03-02", location_id=None),
        {**sale("O3", 1, "2024-03-02"), "line_type": "return", "quantity": -1.0},
    ]
    assert_model_output(
        MODELS["staging.sales_lines"],
        {"raw.sales_lines": rows},
        [
            {"order_id": "O1", "line_number": 1, "net_amount": 15.0, "location_id": "L1"},
            {"order_id": "O1", "line_number": 2, "net_amount": 30.0, "location_id": "L1"},
            {"order_id": "O2", "line_number": 1, "net_amount": 10.0, "location_id": "unassigned"},
        ],
    )


def test_staging_sales_returns_takes_returns_and_cancellations_as_positive_units():
    rows = [
        {**sale("O1", 1, "2024-03-01"), "line_type": "return", "quantity": -2.0},
        {**sale("O2", 1, "2024-03-01"), "line_type": "cancellation", "quantity": -1.0},
        sale("O3", 1, "2024-03-01"),
    ]
    assert_model_output(
        MODELS["staging.sales_returns"],
        {"raw.sales_lines": rows},
        [
            {"order_id": "O1", "line_type": "return", "units_returned": 2.0},
            {"order_id": "O2", "line_type": "cancellation", "units_returned": 1.0},
        ],
    )


def test_sales_daily_is_zero_filled_with_stock_out_flags():
    sales = [
        {
            "sku": "A",
            "location_id": "L1",
            "order_date": date(2024, 3, 1),
            "order_id": "O1",
            "quantity": 2.0,
            "net_amount": 20.0,
            "on_promotion": False,
        },
        {
            "sku": "A",
            "location_id": "L1",
            "order_date": date(2024, 3, 4),
            "order_id": "O2",
            "quantity": 1.0,
            "net_amount": 10.0,
            "on_promotion": True,
        },
    ]
    returns = [
        {
            "sku": "A",
            "location_id": "L1",
            "order_date": date(2024, 3, 4),
            "units_returned": 1.0,
            "refund_amount": 10.0,
        }
    ]
    stock = [
        {
            "snapshot_date": date(2024, 3, d),
            "location_id": "L1",
            "sku": "A",
            "on_hand_units": on_hand,
            "is_stocked_out": on_hand <= 0,
        }
        for d, on_hand in ((2, 0.0), (3, 5.0))
    ]
    expected = [
        {"sales_date": date(2024, 3, 1), "units_sold": 2.0, "is_stocked_out": None},
        {"sales_date": date(2024, 3, 2), "units_sold": 0.0, "is_stocked_out": True},
        {"sales_date": date(2024, 3, 3), "units_sold": 0.0, "is_stocked_out": False},
        {"sales_date": date(2024, 3, 4), "units_sold": 1.0, "is_stocked_out": None},
    ]
    inputs = {
        "staging.sales_lines": sales,
        "staging.sales_returns": returns,
        "staging.inventory_snapshots": stock,
        "marts.products": [{"sku": "A"}],
    }
    assert_model_output(MODELS["marts.sales_daily"], inputs, expected)
    last_day = run_model_on(MODELS["marts.sales_daily"], inputs)[-1]
    assert (last_day["units_returned"], last_day["on_promotion"]) == (1.0, True)


def test_sales_kpis_compute_revenue_margin_and_return_rate_per_month():
    sales = [
        {"sku": "A", "order_date": date(2024, 3, d), "quantity": q, "net_amount": amount}
        for d, q, amount in ((1, 2.0, 20.0), (15, 2.0, 30.0))
    ]
    inputs = {
        "staging.sales_lines": sales,
        "staging.products": [{"sku": "A", "unit_cost": Decimal("4")}],
        "staging.sales_returns": [{"order_date": date(2024, 3, 20), "units_returned": 1.0}],
        "marts.sales_daily": [{"sales_date": date(2024, 3, 1), "is_stocked_out": None}],
        "staging.inventory_snapshots": [
            {"snapshot_date": date(2024, 3, 31), "on_hand_units": 31.0}
        ],
    }
    assert_model_output(
        MODELS["reports.sales_kpis_monthly"],
        inputs,
        [
            {
                "month": date(2024, 3, 1),
                "revenue": 50.0,
                "margin": 34.0,  # 50 - 4 units x 4
                "units_sold": 4.0,
                "return_rate": 0.25,
                "stock_out_rate": None,  # stock unknown, not zero
                "days_of_inventory": 240.25,  # 31 units / (4 units / 31 days)
            }
        ],
    )


@pytest.mark.parametrize(
    ("reassigned", "reopened", "resolved", "rate"),
    [(0, 0, True, 1.0), (1, 0, True, 0.0), (0, 1, True, 0.0), (0, 0, False, None)],
)
def test_first_contact_resolution_counts_resolved_tickets_without_hand_offs(
    reassigned, reopened, resolved, rate
):
    ticket = {
        "opened_on": date(2024, 5, 2),
        "first_response_hours": 2.0,
        "resolution_hours": 5.0 if resolved else None,
        "resolved_at": datetime(2024, 5, 2, 15) if resolved else None,
        "resolved_at_first_contact": resolved and not reassigned and not reopened,
        "sla_met": True,
    }
    assert_model_output(
        MODELS["reports.support_kpis_monthly"],
        {"marts.tickets": [ticket]},
        [{"month": date(2024, 5, 1), "tickets_opened": 1, "first_contact_resolution_rate": rate}],
    )
