"""Master data of the demo company: locations, products and which location stocks which SKU."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np
import polars as pl

from sme_platform.lib.demo_data.categories import CATEGORIES
from sme_platform.lib.demo_data.company_calendar import (
    LOCATION_TYPE_NAMES,
    ONLINE,
    STORE,
    WAREHOUSE,
)
from sme_platform.lib.demo_data.long_tail import store_carry_probability, zipf_popularity
from sme_platform.lib.demo_data.randomness import rng_for
from sme_platform.lib.demo_data.scales import ScaleSpec
from sme_platform.lib.demo_data.vocabulary import (
    CITIES,
    CITY_DISTRICTS,
    COLLECTIONS,
    COLOURS,
    REGIONS,
)

NO_END_DAY = 10**9  # day index of "never discontinued"

# Share of sale lines per location type; the warehouse sells to trade customers in big baskets.
LINE_SHARE_BY_TYPE = np.array([0.62, 0.13, 0.25])  # STORE, WAREHOUSE, ONLINE
RETURN_SHARE_OF_LINES = 0.035
NEW_STORE_OPENS_ON_DAY = 240
REFERENCE_DAYS = 730
# A chain of a few stores would lose too big a share of its sales to the late opening.
MIN_STORES_FOR_AN_OPENING = 10
_LONG_TAIL_STREAM = 2  # key of the long-tail popularity's stream within "catalog"


@dataclass(frozen=True)
class Locations:
    codes: list[str]
    names: list[str]
    types: np.ndarray  # STORE / WAREHOUSE / ONLINE
    regions: list[str]
    opened_day: np.ndarray  # day index relative to start_date, negative = before
    size: np.ndarray  # relative footfall of a location within its type

    def frame(self, start_date: date) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "store_code": self.codes,
                "store_name": self.names,
                "store_type": [LOCATION_TYPE_NAMES[t] for t in self.types],
                "region": self.regions,
                "opened_on": [start_date + timedelta(days=int(d)) for d in self.opened_day],
            }
        )


@dataclass(frozen=True)
class Products:
    codes: list[str]
    names: list[str]
    category: np.ndarray  # index into CATEGORIES
    subcategories: list[str]
    list_cents: np.ndarray  # list price at start_date
    cost_cents: np.ndarray
    launched_day: np.ndarray
    discontinued_day: np.ndarray  # last day on sale, NO_END_DAY if never
    popularity: np.ndarray  # long-tailed relative demand

    def __len__(self) -> int:
        return len(self.codes)

    def frame(self, start_date: date) -> pl.DataFrame:
        start = pl.lit(start_date)
        return pl.DataFrame(
            {
                "item_code": self.codes,
                "item_name": self.names,
                "category": [CATEGORIES[c].name for c in self.category],
                "subcategory": self.subcategories,
                "unit_cost": self.cost_cents / 100,
                "list_price": self.list_cents / 100,
                "launched_day": self.launched_day,
                "discontinued_day": self.discontinued_day,
            }
        ).select(
            "item_code",
            "item_name",
            "category",
            "subcategory",
            "unit_cost",
            "list_price",
            launched_on=start + pl.duration(days=pl.col("launched_day")),
            discontinued_on=pl.when(pl.col("discontinued_day") < NO_END_DAY).then(
                start + pl.duration(days=pl.col("discontinued_day"))
            ),
        )


@dataclass(frozen=True)
class Assortment:
    """The SKU x location pairs a location stocks, with their demand and supply parameters."""

    sku: np.ndarray
    location: np.ndarray
    location_type: np.ndarray
    category: np.ndarray
    base_lines: np.ndarray  # expected sale lines per day before calendar effects
    pack_size: np.ndarray  # units per pack; trade customers buy whole packs
    extra_units: np.ndarray  # mean of the Poisson extra packs per line
    lead_time_days: np.ndarray
    active_from: np.ndarray  # first day index on sale here (launch or store opening)
    active_until: np.ndarray  # last day index on sale (discontinuation)

    def __len__(self) -> int:
        return len(self.sku)

    @property
    def mean_units_per_line(self) -> np.ndarray:
        return self.pack_size * (1.0 + self.extra_units)


@dataclass(frozen=True)
class Catalog:
    locations: Locations
    products: Products
    assortment: Assortment


def build_catalog(scale: ScaleSpec, seed: int, *, long_tail: bool = False) -> Catalog:
    """Locations, products and assortment; they depend on the seed and scale only, so runs over
    different periods share them. `long_tail`: Zipf popularity and a store assortment that
    thins out along the tail (long_tail.py)."""
    rng = rng_for(seed, "catalog")
    locations = _build_locations(scale, rng)
    products = _build_products(scale, rng)
    store_carry = None
    if long_tail:
        # From a stream of its own, after the draws of the home catalogue: those stay the same.
        popularity = zipf_popularity(len(products), rng_for(seed, "catalog", _LONG_TAIL_STREAM))
        products = replace(products, popularity=popularity)
        store_carry = store_carry_probability(popularity)
    assortment = _build_assortment(scale, locations, products, rng, store_carry)
    return Catalog(locations=locations, products=products, assortment=assortment)


def _build_locations(scale: ScaleSpec, rng: np.random.Generator) -> Locations:
    names, regions, types = [], [], []
    for number in range(scale.stores):
        city_index = number % len(CITIES)
        district = CITY_DISTRICTS[(number // len(CITIES)) % len(CITY_DISTRICTS)]
        names.append(f"Northwind Living {CITIES[city_index]}{district}")
        regions.append(REGIONS[city_index % len(REGIONS)])
        types.append(STORE)
    for number in range(scale.warehouses):
        region = REGIONS[number % len(REGIONS)]
        names.append(f"Northwind Distribution Centre {region}")
        regions.append(region)
        types.append(WAREHOUSE)
    for number in range(scale.online_shops):
        names.append("Northwind Living Online" + ("" if number == 0 else f" Marketplace {number}"))
        regions.append("National")
        types.append(ONLINE)
    count = len(names)
    opened_day = -rng.integers(365, 15 * 365, size=count)
    if scale.stores >= MIN_STORES_FOR_AN_OPENING:
        # The newest store opens during the period: its SKUs have no sales and no stock before.
        opened_day[scale.stores - 1] = NEW_STORE_OPENS_ON_DAY
    size = np.where(np.array(types) == STORE, rng.lognormal(0.0, 0.35, size=count), 1.0)
    return Locations(
        codes=[f"S{number + 1:03d}" for number in range(count)],
        names=names,
        types=np.array(types, dtype=np.int8),
        regions=regions,
        opened_day=opened_day.astype(np.int64),
        size=size,
    )


def charm_cents(cents: np.ndarray) -> np.ndarray:
    """The smallest price at or above `cents` ending in 9 cents (under 10.00) or 99 cents."""
    cents = np.asarray(cents, dtype=np.int64)
    small = ((cents + 10) // 10) * 10 - 1
    large = ((cents + 100) // 100) * 100 - 1
    return np.where(cents < 1000, small, large)


def _build_products(scale: ScaleSpec, rng: np.random.Generator) -> Products:
    count = scale.products
    shares = np.array([c.sku_share for c in CATEGORIES])
    category = rng.choice(len(CATEGORIES), size=count, p=shares / shares.sum())
    subcategory_names: list[str] = []
    subcategory_first = []  # index of each category's first subcategory in the flat list
    noun_names: list[str] = []
    noun_first, noun_count = [], []  # per flat subcategory
    for cat in CATEGORIES:
        subcategory_first.append(len(subcategory_names))
        for name, nouns in cat.subcategories.items():
            subcategory_names.append(name)
            noun_first.append(len(noun_names))
            noun_count.append(len(nouns))
            noun_names.extend(nouns)
    subcategory_count = np.array([len(c.subcategories) for c in CATEGORIES])
    subcategory = np.array(subcategory_first)[category] + (
        rng.random(count) * subcategory_count[category]
    ).astype(np.int64)
    noun = np.array(noun_first)[subcategory] + (
        rng.random(count) * np.array(noun_count)[subcategory]
    ).astype(np.int64)
    collection = rng.integers(0, len(COLLECTIONS), size=count)
    colour = rng.integers(0, len(COLOURS), size=count)
    names = (
        pl.Series(COLLECTIONS).gather(collection)
        + " "
        + pl.Series(noun_names).gather(noun)
        + ", "
        + pl.Series(COLOURS).gather(colour)
    ).to_list()

    median = np.array([c.median_price for c in CATEGORIES])[category]
    list_cents = charm_cents(median * rng.lognormal(0.0, 0.45, size=count) * 100)
    cost_cents = np.round(list_cents * rng.uniform(0.35, 0.6, size=count)).astype(np.int64)

    # Most SKUs were launched before the period; some launch during it and a few are dropped.
    launched_day = np.where(
        rng.random(count) < 0.85,
        -rng.integers(30, 2500, size=count),
        rng.integers(1, 700, size=count),
    )
    discontinue = rng.random(count) < 0.06
    earliest_end = np.maximum(launched_day + 120, 60)
    discontinued_day = np.where(
        discontinue & (earliest_end < 720),
        earliest_end + (rng.random(count) * (720 - earliest_end)).astype(np.int64),
        NO_END_DAY,
    )
    return Products(
        codes=[f"SKU-{number + 1:05d}" for number in range(count)],
        names=names,
        category=category.astype(np.int64),
        subcategories=[subcategory_names[s] for s in subcategory],
        list_cents=list_cents,
        cost_cents=cost_cents,
        launched_day=launched_day.astype(np.int64),
        discontinued_day=discontinued_day.astype(np.int64),
        popularity=rng.lognormal(0.0, 1.2, size=count),
    )


def _build_assortment(
    scale: ScaleSpec,
    locations: Locations,
    products: Products,
    rng: np.random.Generator,
    store_carry: np.ndarray | None = None,
) -> Assortment:
    """`store_carry`: per SKU, the probability that a store carries it (default: from the
    scale's assortment share and the SKU's popularity rank)."""
    n_products = len(products)
    # Popular SKUs are stocked nearly everywhere, the long tail only in some stores.
    popularity_rank = np.argsort(np.argsort(products.popularity)) / max(n_products - 1, 1)
    store_p = (
        np.minimum(0.95, scale.store_assortment_share * (0.4 + 1.2 * popularity_rank))
        if store_carry is None
        else store_carry
    )
    online_p = np.minimum(0.98, 0.6 + 0.4 * popularity_rank)
    carry_p = np.stack(
        [
            {STORE: store_p, WAREHOUSE: np.ones(n_products), ONLINE: online_p}[int(t)]
            for t in locations.types
        ]
    )
    location, sku = np.nonzero(rng.random(carry_p.shape) < carry_p)
    location_type = locations.types[location].astype(np.int64)
    category = products.category[sku]

    weight = products.popularity[sku] * locations.size[location]
    active_from = np.maximum(products.launched_day[sku], locations.opened_day[location])
    active_until = products.discontinued_day[sku]
    # Scale so that the pairs on sale over a two-year reference period share the line target:
    # a popular SKU launched late then does not make the volume depend on the seed.
    reference_share = np.clip(
        (np.minimum(active_until + 1, REFERENCE_DAYS) - np.maximum(active_from, 0))
        / REFERENCE_DAYS,
        0.0,
        1.0,
    )
    sale_lines_per_day = scale.sales_lines_per_day / (1 + RETURN_SHARE_OF_LINES)
    type_weight_total = np.bincount(location_type, weights=weight * reference_share, minlength=3)
    base_lines = (
        LINE_SHARE_BY_TYPE[location_type]
        * sale_lines_per_day
        * weight
        / type_weight_total[location_type]
    )

    pair_count = len(sku)
    units_per_line = np.array([c.units_per_line for c in CATEGORIES])[category]
    trade = location_type == WAREHOUSE
    pack_size = np.where(trade, rng.choice([2, 4, 6, 12], size=pair_count), 1)
    pack_size = np.where(trade & (category == _category_index("Furniture")), 1, pack_size)
    extra_units = np.where(trade, 1.5, units_per_line - 1.0)
    lead_time = np.select(
        [location_type == STORE, location_type == ONLINE],
        [rng.integers(2, 6, size=pair_count), rng.integers(3, 9, size=pair_count)],
        rng.integers(10, 29, size=pair_count),
    )
    return Assortment(
        sku=sku.astype(np.int64),
        location=location.astype(np.int64),
        location_type=location_type,
        category=category,
        base_lines=base_lines,
        pack_size=pack_size.astype(np.int64),
        extra_units=extra_units,
        lead_time_days=lead_time.astype(np.int64),
        active_from=active_from,
        active_until=active_until,
    )


def _category_index(name: str) -> int:
    return next(i for i, c in enumerate(CATEGORIES) if c.name == name)
