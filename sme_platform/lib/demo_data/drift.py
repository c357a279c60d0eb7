"""Concept drift on request: from a date the product mix shifts and prices rise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from sme_platform.lib.demo_data.categories import CATEGORIES
from sme_platform.lib.demo_data.randomness import rng_for

GROWING_CATEGORIES = 3
SHRINKING_CATEGORIES = 3
GROWTH_FACTOR = 1.5
SHRINK_FACTOR = 0.7
PRICE_LEVEL = 1.08


@dataclass(frozen=True)
class DriftPlan:
    """From `from_date` (day index `from_day`) demand per category is multiplied by
    `category_multipliers` and list prices rise by `price_level`."""

    from_date: date
    from_day: int
    category_multipliers: np.ndarray
    price_level: float = PRICE_LEVEL

    def manifest_entry(self) -> dict:
        return {
            "from": self.from_date.isoformat(),
            "category_multipliers": {
                c.name: float(m) for c, m in zip(CATEGORIES, self.category_multipliers, strict=True)
            },
            "price_level_multiplier": self.price_level,
        }


def plan_drift(seed: int, start_date: date, drift_from: date | None) -> DriftPlan | None:
    if drift_from is None:
        return None
    order = rng_for(seed, "drift").permutation(len(CATEGORIES))
    multipliers = np.ones(len(CATEGORIES))
    multipliers[order[:GROWING_CATEGORIES]] = GROWTH_FACTOR
    multipliers[order[GROWING_CATEGORIES : GROWING_CATEGORIES + SHRINKING_CATEGORIES]] = (
        SHRINK_FACTOR
    )
    return DriftPlan(
        from_date=drift_from,
        from_day=(drift_from - start_date).days,
        category_multipliers=multipliers,
    )
