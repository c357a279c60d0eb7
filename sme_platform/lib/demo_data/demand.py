"""Expected demand per SKU x location pair and day.

The expected number of order lines of pair p on day d is

    base_p * weekly[type, weekday] * day_kind[type] * yearly[category, day] * trend(d)
           * promotion_lift[sku] * drift[category]

- base_p: long-tailed SKU popularity (lognormal) times the location's size, scaled so that each
  location type gets its share of the scale's line target (catalog.LINE_SHARE_BY_TYPE);
- weekly: stores peak on Saturday, the trade warehouse sells on weekdays, online on Sun/Mon;
- day_kind: public holidays (stores on Sunday hours, warehouse closed, online up), short days
  (24 and 31 December) and closed days (25 December, 1 January: nothing sells anywhere);
- yearly: category seasonality (garden in May, lighting in winter) and a Christmas peak;
- trend: +TREND_PER_YEAR growth;
- promotion_lift: (1 - discount) ** -elasticity with a constant elasticity per category, for
  stores and online only (trade prices are negotiated, see sales.py);
- drift: the category mix shift of DriftPlan from its date on.
Zero before a SKU's launch or a store's opening and after a SKU's discontinuation. Lines per day
are Poisson with this mean; units per line and the censoring by stock are in sales.py.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from sme_platform.lib.demo_data.catalog import Assortment
from sme_platform.lib.demo_data.categories import promotion_lift, yearly_factors
from sme_platform.lib.demo_data.company_calendar import (
    DAY_KIND_FACTORS,
    WAREHOUSE,
    WEEKLY_FACTORS,
    day_kind,
)
from sme_platform.lib.demo_data.drift import DriftPlan

TREND_PER_YEAR = 0.06


class DemandModel:
    def __init__(self, assortment: Assortment, drift: DriftPlan | None):
        self._pairs = assortment
        self._drift = drift
        self._promotion_sensitive = assortment.location_type != WAREHOUSE

    def active(self, day_index: int) -> np.ndarray:
        """Pairs on sale on this day (launched, store open, not discontinued)."""
        pairs = self._pairs
        return (pairs.active_from <= day_index) & (day_index <= pairs.active_until)

    def expected_lines(
        self, day_index: int, day: date, promo_pct_by_sku: np.ndarray, active: np.ndarray
    ) -> np.ndarray:
        pairs = self._pairs
        type_factor = WEEKLY_FACTORS[:, day.weekday()] * DAY_KIND_FACTORS[day_kind(day)]
        category_factor = yearly_factors(day)
        if self._drift is not None and day_index >= self._drift.from_day:
            category_factor = category_factor * self._drift.category_multipliers
        trend = 1.0 + TREND_PER_YEAR * day_index / 365.25
        lift = np.where(
            self._promotion_sensitive,
            promotion_lift(promo_pct_by_sku[pairs.sku], pairs.category),
            1.0,
        )
        expected = (
            pairs.base_lines
            * type_factor[pairs.location_type]
            * category_factor[pairs.category]
            * trend
            * lift
        )
        return np.where(active, expected, 0.0)
