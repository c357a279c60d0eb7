"""List prices and promotions, day by day, and the price-change export they produce.

Price rules:
- every SKU gets a LIST row on the first day of the period;
- on each 1 January inside the period list prices rise by 0-6 % (rounded up to a price ending
  in 9 or 99 cents);
- with drift, list prices rise by DriftPlan.price_level on the drift date;
- each month about 7 % of SKUs run a promotion `PROMO-YYYY-MM` of 10-30 % for 7-13 days, starting
  between the 1st and 15th, so it ends inside the month: a PROMO row on its first day and a LIST
  row (the then current list price) on the day after its last day.
A promotion's price stays fixed while it runs; a list increase during it shows in the LIST row
that ends it. The promotion plan of a month depends only on the seed and the month, so runs over
different periods agree on the days they share.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from sme_platform.lib.demo_data.catalog import Products, charm_cents
from sme_platform.lib.demo_data.drift import DriftPlan
from sme_platform.lib.demo_data.randomness import rng_for

PROMO_SKU_SHARE = 0.07
PROMO_DISCOUNTS_PCT = np.array([10, 15, 20, 25, 30])
PROMO_START_DAYS = (1, 15)  # promotions start on day-of-month 1..15
PROMO_DURATION_DAYS = (7, 13)  # and last 7..13 days, so they end before the 29th
YEARLY_INCREASE_MAX = 0.06
LIST, PROMO = 0, 1
PRICE_TYPES = ("LIST", "PROMO")


class PriceBook:
    """The prices in force on the current day; `advance` moves it one day forward."""

    def __init__(self, products: Products, seed: int, drift: DriftPlan | None):
        count = len(products)
        self._seed = seed
        self._drift = drift
        self.list_cents = products.list_cents.copy()
        self.promo_cents = np.zeros(count, dtype=np.int64)
        self.promo_pct = np.zeros(count, dtype=np.int64)
        self.promo_month = np.full(count, -1, dtype=np.int64)  # yyyymm of the running promotion
        self._promo_end_day = np.full(count, -1, dtype=np.int64)  # first day after it
        self._month_plan: tuple[tuple[int, int], dict[str, np.ndarray]] | None = None
        self._changes: list[tuple[np.ndarray, int, np.ndarray, int]] = []
        self.promotions_started = 0

    @property
    def paid_cents(self) -> np.ndarray:
        """Price a store or online customer pays per SKU today."""
        return np.where(self.promo_pct > 0, self.promo_cents, self.list_cents)

    def advance(self, day_index: int, day: date) -> None:
        ending = np.flatnonzero(self._promo_end_day == day_index)
        increase = self._list_increase_today(day_index, day)
        if increase is not None:
            self.list_cents = charm_cents(self.list_cents * increase)
        if day_index == 0:
            self._record(np.arange(len(self.list_cents)), day_index, LIST)
        elif increase is not None:
            # SKUs on promotion keep their promotion price; the LIST row ending it shows the rise.
            self._record(np.flatnonzero(self.promo_pct == 0), day_index, LIST)
        if len(ending):
            self.promo_pct[ending] = 0
            self.promo_cents[ending] = 0
            self.promo_month[ending] = -1
            self._promo_end_day[ending] = -1
            self._record(ending, day_index, LIST)
        self._start_promotions(day_index, day)

    def _list_increase_today(self, day_index: int, day: date) -> np.ndarray | None:
        factor = None
        if day_index > 0 and day.month == 1 and day.day == 1:
            rng = rng_for(self._seed, "prices", day.year)
            factor = 1.0 + rng.uniform(0.0, YEARLY_INCREASE_MAX, size=len(self.list_cents))
        if self._drift is not None and day == self._drift.from_date:
            level = np.full(len(self.list_cents), self._drift.price_level)
            factor = level if factor is None else factor * level
        return factor

    def _start_promotions(self, day_index: int, day: date) -> None:
        plan = self._plan_for_month(day.year, day.month)
        starting = plan["sku"][plan["start_day"] == day.day]
        if not len(starting):
            return
        pct = plan["pct"][plan["start_day"] == day.day]
        duration = plan["duration"][plan["start_day"] == day.day]
        self.promo_pct[starting] = pct
        self.promo_cents[starting] = (self.list_cents[starting] * (100 - pct) + 50) // 100
        self.promo_month[starting] = day.year * 100 + day.month
        self._promo_end_day[starting] = day_index + duration
        self._record(starting, day_index, PROMO)
        self.promotions_started += len(starting)

    def _plan_for_month(self, year: int, month: int) -> dict[str, np.ndarray]:
        if self._month_plan is None or self._month_plan[0] != (year, month):
            rng = rng_for(self._seed, "promotions", year, month)
            count = len(self.list_cents)
            chosen = max(1, round(PROMO_SKU_SHARE * count))
            plan = {
                "sku": rng.choice(count, size=chosen, replace=False),
                "start_day": rng.integers(PROMO_START_DAYS[0], PROMO_START_DAYS[1] + 1, chosen),
                "duration": rng.integers(
                    PROMO_DURATION_DAYS[0], PROMO_DURATION_DAYS[1] + 1, chosen
                ),
                "pct": rng.choice(PROMO_DISCOUNTS_PCT, size=chosen),
            }
            self._month_plan = ((year, month), plan)
        return self._month_plan[1]

    def _record(self, skus: np.ndarray, day_index: int, price_type: int) -> None:
        cents = self.promo_cents[skus] if price_type == PROMO else self.list_cents[skus]
        self._changes.append((skus.copy(), day_index, cents.copy(), price_type))

    def change_frame(self, item_codes: list[str], start_date: date) -> pl.DataFrame:
        """All price changes so far, as the `erp/prices/price_changes.csv` export."""
        if not self._changes:
            return pl.DataFrame(
                schema={
                    "item_code": pl.String,
                    "valid_from": pl.Date,
                    "price": pl.Float64,
                    "price_type": pl.String,
                }
            )
        sku = np.concatenate([c[0] for c in self._changes])
        day = np.concatenate([np.full(len(c[0]), c[1]) for c in self._changes])
        cents = np.concatenate([c[2] for c in self._changes])
        kind = np.concatenate([np.full(len(c[0]), c[3]) for c in self._changes])
        order = np.lexsort((kind, sku, day))
        return pl.DataFrame(
            {
                "item_code": pl.Series(item_codes).gather(sku[order]),
                "valid_from": day[order],
                "price": cents[order] / 100,
                "price_type": pl.Series(PRICE_TYPES).gather(kind[order]),
            }
        ).with_columns(valid_from=pl.lit(start_date) + pl.duration(days=pl.col("valid_from")))
