"""The company's days, one after the other: prices, demand, stock, sales and tickets."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pyarrow as pa

from sme_platform.lib.demo_data.catalog import LINE_SHARE_BY_TYPE, Catalog
from sme_platform.lib.demo_data.categories import CATEGORIES
from sme_platform.lib.demo_data.company_calendar import (
    CLOSED_MONTH_DAYS,
    LOCATION_TYPE_NAMES,
    WEEKLY_FACTORS,
    holidays_between,
    opening_hours,
)
from sme_platform.lib.demo_data.customers import CustomerPicker, Customers
from sme_platform.lib.demo_data.demand import TREND_PER_YEAR, DemandModel
from sme_platform.lib.demo_data.drift import DriftPlan
from sme_platform.lib.demo_data.frames import InventorySnapshots
from sme_platform.lib.demo_data.inventory import InventorySimulation
from sme_platform.lib.demo_data.pricing import PriceBook
from sme_platform.lib.demo_data.randomness import rng_for
from sme_platform.lib.demo_data.sales import DaySales, simulate_day
from sme_platform.lib.demo_data.tickets import TicketDesk


class DailySimulation:
    """Prices, demand, stock, sales and tickets moved forward one day at a time."""

    def __init__(
        self,
        catalog: Catalog,
        customers: Customers,
        seed: int,
        start_date: date,
        days: int,
        drift: DriftPlan | None,
        *,
        snapshots: bool = True,
    ):
        """`snapshots`: build the daily inventory snapshot (False for a company that exports no
        inventory; stock is simulated all the same, since it censors sales)."""
        self._catalog = catalog
        self._build_snapshots = snapshots
        self._seed = seed
        self.prices = PriceBook(catalog.products, seed, drift)
        self.demand = DemandModel(catalog.assortment, drift)
        self.inventory = InventorySimulation(catalog.assortment, seed)
        self.picker = CustomerPicker(customers)
        self.desk = TicketDesk(start_date, days, catalog.products, customers)
        pairs = catalog.assortment
        self.location_codes = pl.Series(catalog.locations.codes)
        self.item_codes = pl.Series(catalog.products.codes)
        self._snapshots = InventorySnapshots(
            self.location_codes.gather(pairs.location), self.item_codes.gather(pairs.sku)
        )
        self.stats = dict.fromkeys(
            ("sku_location_days", "out_of_stock_days", "lost_units", "sold_units", "orders",
             "tickets"),
            0,
        )  # fmt: skip

    def run_day(self, day_index: int, day: date) -> tuple[DaySales, pa.Table | None]:
        pairs = self._catalog.assortment
        # One stream per day drives demand, replenishment and tickets, in this fixed order.
        rng = rng_for(self._seed, "demand", day.toordinal())
        self.prices.advance(day_index, day)
        active = self.demand.active(day_index)
        expected = self.demand.expected_lines(day_index, day, self.prices.promo_pct, active)
        self.inventory.receive(day_index)
        day_sales = simulate_day(
            day_index,
            expected,
            self.inventory.on_hand,
            opening_hours(day),
            pairs,
            self.prices,
            self.picker,
            rng,
        )
        self.inventory.close_day(
            day_index, day, day_sales.sold_units, day_sales.returned_units, active, rng
        )
        tickets = self.desk.open_tickets(day_index, day_sales, rng)
        stocked = np.flatnonzero(active)
        on_hand = self.inventory.on_hand
        stats = self.stats
        stats["sku_location_days"] += len(stocked)
        stats["out_of_stock_days"] += int((on_hand[stocked] == 0).sum())
        stats["lost_units"] += day_sales.lost_units
        stats["sold_units"] += int(day_sales.sold_units.sum())
        stats["orders"] += len(day_sales.orders.seq)
        stats["tickets"] += tickets
        if not self._build_snapshots:
            return day_sales, None
        snapshot = self._snapshots.table(day, stocked, on_hand, self.inventory.on_order)
        return day_sales, snapshot

    def model_summary(self, start_date: date, days: int) -> dict:
        stats = self.stats
        last_day = start_date + timedelta(days=days - 1)
        return {
            "price_elasticity": {c.name: c.elasticity for c in CATEGORIES},
            "yearly_seasonality": {
                c.name: {
                    "amplitude": c.season_amplitude,
                    "peak_day_of_year": c.season_peak_day,
                    "christmas_boost": c.christmas_boost,
                }
                for c in CATEGORIES
            },
            "weekly_factors_mon_to_sun": {
                name: [round(float(f), 4) for f in WEEKLY_FACTORS[i]]
                for i, name in enumerate(LOCATION_TYPE_NAMES)
            },
            "line_share_by_location_type": {
                name: float(LINE_SHARE_BY_TYPE[i]) for i, name in enumerate(LOCATION_TYPE_NAMES)
            },
            "trend_per_year": TREND_PER_YEAR,
            "closed_days_month_day": [f"{m:02d}-{d:02d}" for m, d in CLOSED_MONTH_DAYS],
            "holidays": holidays_between(start_date, last_day),
            "promotions_started": self.prices.promotions_started,
            "replenishment_orders": self.inventory.orders_placed,
            "delayed_replenishment_orders": self.inventory.delayed_orders,
            "sku_location_days": stats["sku_location_days"],
            "out_of_stock_share": round(
                stats["out_of_stock_days"] / max(stats["sku_location_days"], 1), 6
            ),
            "sold_units": stats["sold_units"],
            "lost_units_to_stock_outs": stats["lost_units"],
            "orders": stats["orders"],
            "tickets_per_order": round(stats["tickets"] / max(stats["orders"], 1), 6),
        }
