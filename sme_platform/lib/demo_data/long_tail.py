"""The long-tail catalogue: the demo company shaped like a real grocery or wholesale export.

The home-goods catalogue (scales tiny to large) stocks the popular SKUs nearly everywhere and
sells most of its SKU x location pairs every few days. A grocery or wholesale export looks
different: tens of thousands of SKUs over a hundred or more stores, a few SKUs (milk, bread) that
sell daily nearly everywhere, and a long tail carried by a few stores each and sold there a few
times a year. That shape is what makes a table of SKUs x locations x days blow up (issue 11: a
real export of 1.5M lines over 92k SKUs and 457 stores became 132.8M zero-filled daily rows), so
the platform is measured on it.

What changes against the home catalogue, everything else (calendar, promotions, baskets,
stock censoring, customers, tickets) being the same machinery:
- popularity is Zipf-like: the SKU of popularity rank r (0 = most popular, ranks shuffled over
  the SKU numbers) has weight (r + 1) ** -ZIPF_EXPONENT;
- a store carries a SKU with a probability that falls steeply with its rank,
  MIN_STORE_CARRY + (MAX_STORE_CARRY - MIN_STORE_CARRY) * (1 - rank / (count - 1)) ** CARRY_DECAY:
  the top SKUs are in nearly every store, the median SKU in one store or none;
- no inventory exports: see ABSENT_SOURCES.

With the constants below, over 730 days (seed 42): 1.54M sales lines, 178k stocked pairs of
which 152k sell at least once; the median selling pair sells on 4 days in two years, 82 % of them
on fewer than 12, 54 on more than half of the days. Zero-filled from each pair's first sale, the
daily table would have had 80.7M rows.
"""

from __future__ import annotations

import numpy as np

from sme_platform.lib.demo_data.scales import ScaleSpec

CATALOG_NAME = "long-tail"
LONG_TAIL_SCALE = ScaleSpec(
    stores=150,
    warehouses=2,
    online_shops=1,
    products=30_000,
    customers_at_start=60_000,
    store_assortment_share=0.02,  # the mean of the store carry probability below
    sales_lines_per_day=1_500_000 / 730,
    sales_format="csv",
)
ZIPF_EXPONENT = 0.75
MIN_STORE_CARRY = 0.002
MAX_STORE_CARRY = 0.97
CARRY_DECAY = 50.0
# The canonical tables this company has no export for (its mapping leaves them out): no
# inventory snapshots. The warehouse system of such a company would snapshot every stocked pair
# every day: 178k pairs x 730 days is 130M rows, 85 times the sales lines, and even the two
# warehouses alone (every SKU) would be 44M. Many companies with this shape export sales only,
# and the platform must serve them (issue 11: "any company's mapping with sales lines only"), so
# the long-tail company is one of them: stock is still simulated (it censors sales), but a
# stock-out is not visible in the exports, as in real sales-only data.
ABSENT_SOURCES = ("inventory_snapshots",)


def zipf_popularity(count: int, rng: np.random.Generator) -> np.ndarray:
    """Relative demand per SKU number: Zipf over popularity ranks shuffled across the SKUs."""
    rank = rng.permutation(count)
    return (rank + 1.0) ** -ZIPF_EXPONENT


def store_carry_probability(popularity: np.ndarray) -> np.ndarray:
    """Per SKU, the probability that a store carries it: nearly 1 for the top SKUs, falling
    steeply along the tail."""
    count = len(popularity)
    rank = np.argsort(np.argsort(-popularity, kind="stable"), kind="stable")
    from_top = rank / max(count - 1, 1)
    return MIN_STORE_CARRY + (MAX_STORE_CARRY - MIN_STORE_CARRY) * (1 - from_top) ** CARRY_DECAY
