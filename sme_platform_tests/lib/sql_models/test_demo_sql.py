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


def daily_sale(day: int, order_id: str, quantity: float, on_promotion: bool = False) -> dict:
    return {
        "sku": "A",
        "location_id": "L1",
        "order_date": date(2024, 3, day),
        "order_id": order_id,
        "quantity": quantity,
        "net_amount": 10.0 * quantity,
        "on_promotion": on_promotion,
    }


def test_sales_daily_has_a_row_only_for_days_with_a_sale_a_return_or_a_stock_out():
    sales = [
        daily_sale(1, "O1", 2.0),
        daily_sale(4, "O2", 1.0, on_promotion=True),
        daily_sale(6, "O3", 3.0),
    ]
    returns = [
        {
            "sku": "A",
            "location_id": "L1",
            "order_date": date(2024, 3, d),
            "units_returned": 1.0,
            "refund_amount": 10.0,
        }
        for d in (4, 5)
    ]
    stock = [
        {
            "snapshot_date": date(2024, 3, d),
            "location_id": "L1",
            "sku": "A",
            "on_hand_units": on_hand,
            "is_stocked_out": on_hand <= 0,
        }
        for d, on_hand in ((2, 0.0), (3, 5.0), (6, 4.0), (7, 4.0))
    ]
    expected = [
        # a sale without a snapshot: stock unknown
        {"sales_date": date(2024, 3, 1), "units_sold": 2.0, "units_returned": 0.0,
         "on_hand_units": None, "is_stocked_out": None},
        # stocked out without a sale: kept, its zero is censored demand
        {"sales_date": date(2024, 3, 2), "units_sold": 0.0, "units_returned": 0.0,
         "on_hand_units": 0.0, "is_stocked_out": True},
        # 3 March (in stock, no sale) and 7 March have no row: nothing happened
        {"sales_date": date(2024, 3, 4), "units_sold": 1.0, "units_returned": 1.0,
         "on_hand_units": None, "is_stocked_out": None},
        # a return without a sale
        {"sales_date": date(2024, 3, 5), "units_sold": 0.0, "units_returned": 1.0,
         "on_hand_units": None, "is_stocked_out": None},
        # a sale on a snapshot day carries the snapshot
        {"sales_date": date(2024, 3, 6), "units_sold": 3.0, "units_returned": 0.0,
         "on_hand_units": 4.0, "is_stocked_out": False},
    ]  # fmt: skip
    inputs = {
        "staging.sales_lines": sales,
        "staging.sales_returns": returns,
        "staging.inventory_snapshots": stock,
        "marts.products": [{"sku": "A"}],
    }
    assert_model_output(MODELS["marts.sales_daily"], inputs, expected)
    rows = {row["sales_date"].day: row for row in run_model_on(MODELS["marts.sales_daily"], inputs)}
    assert (rows[4]["on_promotion"], rows[4]["orders"], rows[4]["refunds"]) == (True, 1, 10.0)
    assert (rows[2]["on_promotion"], rows[2]["orders"], rows[2]["revenue"]) == (False, 0, 0.0)


def test_inventory_positions_rate_is_per_calendar_day_over_sparse_daily_rows():
    # marts.sales_daily has rows on 2 of the 28 days before the snapshot (and one earlier): the
    # rate divides by the 28 days, not by the rows, so the missing days count as no sale
    daily = [
        {"sku": "A", "location_id": "L1", "sales_date": date(2024, 3, d), "units_sold": units}
        for d, units in ((1, 100.0), (10, 4.0), (29, 3.0))
    ]
    snapshot = {
        "snapshot_date": date(2024, 3, 29),
        "location_id": "L1",
        "sku": "A",
        "on_hand_units": 14.0,
        "on_order_units": 0.0,
        "is_stocked_out": False,
    }
    assert_model_output(
        MODELS["marts.inventory_positions"],
        {"staging.inventory_snapshots": [snapshot], "marts.sales_daily": daily},
        [{"sku": "A", "units_per_day": 0.25, "days_of_inventory": 56.0}],  # 7 units / 28 days
    )


def test_sales_kpis_compute_revenue_margin_and_return_rate_per_month():
    sales = [
        {"sku": "A", "order_date": date(2024, 3, d), "quantity": q, "net_amount": amount}
        for d, q, amount in ((1, 2.0, 20.0), (15, 2.0, 30.0))
    ]
    inputs = {
        "staging.sales_lines": sales,
        "staging.products": [{"sku": "A", "unit_cost": Decimal("4")}],
        "staging.sales_returns": [{"order_date": date(2024, 3, 20), "units_returned": 1.0}],
        "staging.inventory_snapshots": [
            {"snapshot_date": date(2024, 3, 31), "on_hand_units": 31.0, "is_stocked_out": False}
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
                "days_of_inventory": 240.25,  # 31 units / (4 units / 31 days)
            }
        ],
    )


def test_sales_kpis_stock_out_rate_is_the_share_of_snapshots_out_of_stock():
    sales = [
        {"sku": "A", "order_date": date(2024, m, 1), "quantity": 1.0, "net_amount": 10.0}
        for m in (3, 4)
    ]
    # March: 4 SKU-location-days with a snapshot, 1 of them out of stock. marts.sales_daily
    # would hold only the stock-out and the sale day (2 rows, a rate of 1/2): it is not read.
    snapshots = [
        {
            "snapshot_date": date(2024, 3, d),
            "sku": sku,
            "on_hand_units": on_hand,
            "is_stocked_out": on_hand <= 0,
        }
        for d, sku, on_hand in ((1, "A", 3.0), (2, "A", 0.0), (2, "B", 5.0), (3, "B", 4.0))
    ]
    inputs = {
        "staging.sales_lines": sales,
        "staging.products": [{"sku": "A", "unit_cost": Decimal("4")}],
        "staging.sales_returns": [{"order_date": date(2024, 3, 20), "units_returned": 1.0}],
        "staging.inventory_snapshots": snapshots,
    }
    assert_model_output(
        MODELS["reports.sales_kpis_monthly"],
        inputs,
        [
            {"month": date(2024, 3, 1), "stock_out_rate": 0.25},
            {"month": date(2024, 4, 1), "stock_out_rate": None},  # no snapshot: unknown, not 0
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
