"""Stock per SKU x location: a reorder-point / order-up-to policy with lead times and delays.

Each pair follows an (s, S) policy reviewed at the end of every day: when stock on hand falls to
the reorder point s and nothing is on order, it orders up to S (in whole packs). The order
arrives after the pair's lead time, or later when the supplier is late (SUPPLIER_DELAY_*; more
often in November and December). s covers the expected demand over the lead time plus a safety
margin of z standard deviations, with z drawn per pair, so well-stocked and tight pairs coexist.
Planners follow demand with a lag: when the recent sales rate (an exponential average over about
four weeks) runs above the planned rate, s and S are scaled up by the same factor.
Seasonal peaks, promotions and late suppliers then run some pairs dry for a few days: sales are
censored (sales = min(demand, stock), see sales.py) and the snapshot shows on_hand = 0.
Returned units go back into stock. SKUs are not reordered in the 30 days before they are
discontinued.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from sme_platform.lib.demo_data.catalog import Assortment
from sme_platform.lib.demo_data.company_calendar import ONLINE, STORE
from sme_platform.lib.demo_data.randomness import rng_for

SAFETY_FACTOR_RANGE = (0.1, 1.2)
COVER_DAYS_BY_TYPE = {STORE: (10, 25), ONLINE: (14, 30)}
COVER_DAYS_WAREHOUSE = (20, 45)
SUPPLIER_DELAY_PROBABILITY = 0.08
PEAK_SEASON_DELAY_PROBABILITY = 0.16
SUPPLIER_DELAY_DAYS = (4, 21)
RUN_DOWN_DAYS_BEFORE_DISCONTINUATION = 30
RECENT_SALES_SMOOTHING = 1 / 28


class InventorySimulation:
    def __init__(self, assortment: Assortment, seed: int):
        rng = rng_for(seed, "inventory")
        pairs = assortment
        count = len(pairs)
        mean_units = pairs.base_lines * pairs.mean_units_per_line
        lead = pairs.lead_time_days
        # Units per line are pack * (1 + Poisson(e)), so E[units^2] = pack^2 (e + (1 + e)^2).
        units_squared = pairs.pack_size**2 * (pairs.extra_units + (1 + pairs.extra_units) ** 2)
        spread = np.sqrt(pairs.base_lines * lead * units_squared)
        safety = rng.uniform(*SAFETY_FACTOR_RANGE, size=count)
        self.reorder_point = np.ceil(mean_units * lead + safety * spread).astype(np.int64)
        cover_low = np.full(count, COVER_DAYS_WAREHOUSE[0])
        cover_high = np.full(count, COVER_DAYS_WAREHOUSE[1])
        for location_type, (low, high) in COVER_DAYS_BY_TYPE.items():
            cover_low[pairs.location_type == location_type] = low
            cover_high[pairs.location_type == location_type] = high
        cover = rng.uniform(cover_low, cover_high)
        cycle = np.maximum(np.ceil(mean_units * cover), 2 * pairs.pack_size).astype(np.int64)
        self.order_up_to = self.reorder_point + cycle
        self._planned_units = np.maximum(mean_units, 1e-9)
        self._recent_units = mean_units.copy()
        self._pack = pairs.pack_size
        self._lead = lead
        self._stop_reordering = pairs.active_until - RUN_DOWN_DAYS_BEFORE_DISCONTINUATION
        self.on_hand = rng.integers(self.reorder_point + 1, self.order_up_to + 1)
        self.on_order = np.zeros(count, dtype=np.int64)
        self._arrival_day = np.full(count, -1, dtype=np.int64)
        self.orders_placed = 0
        self.delayed_orders = 0

    def receive(self, day_index: int) -> None:
        """Book in the deliveries due today, before the shops open."""
        arriving = self._arrival_day == day_index
        self.on_hand[arriving] += self.on_order[arriving]
        self.on_order[arriving] = 0
        self._arrival_day[arriving] = -1

    def close_day(
        self,
        day_index: int,
        day: date,
        sold: np.ndarray,
        returned: np.ndarray,
        active: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        self.on_hand -= sold
        self.on_hand += returned
        self._recent_units += RECENT_SALES_SMOOTHING * (sold - self._recent_units) * active
        busier = np.maximum(self._recent_units / self._planned_units, 1.0)
        reorder_point = np.ceil(self.reorder_point * busier)
        reorder = (
            active
            & (self.on_order == 0)
            & (self.on_hand <= reorder_point)
            & (day_index < self._stop_reordering)
        )
        due = np.flatnonzero(reorder)
        order_up_to = reorder_point[due] + np.ceil(
            (self.order_up_to[due] - self.reorder_point[due]) * busier[due]
        )
        shortfall = (order_up_to - self.on_hand[due]).astype(np.int64)
        packs = -(-shortfall // self._pack[due])
        delay_probability = (
            PEAK_SEASON_DELAY_PROBABILITY if day.month in (11, 12) else SUPPLIER_DELAY_PROBABILITY
        )
        delayed = rng.random(len(due)) < delay_probability
        delay = np.where(delayed, rng.integers(*SUPPLIER_DELAY_DAYS, size=len(due)), 0)
        self.on_order[due] = packs * self._pack[due]
        self._arrival_day[due] = day_index + self._lead[due] + delay
        self.orders_placed += len(due)
        self.delayed_orders += int(delayed.sum())
