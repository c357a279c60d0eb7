"""The demo company's true expected demand: what no forecast learned from its data can know better.

The generator draws each pair's demand from known means (demand.py: Poisson lines per day, each
line wanting pack * (1 + Poisson(extra)) units). Replaying those means for the days a backtest
scores gives the floor of its error: the WAPE of a forecast that knows the exact mean of every
pair and day, with only the draw's randomness left. On the small demo that floor is within a
few percent of the 28-day mean's WAPE, which says how much any model can win there at all.

Replayed from the manifest's arguments (the generator is deterministic): the catalogue, the price
book (promotions move demand) and the demand model, advanced day by day from the first day;
nothing is sampled, so the sales simulation is skipped. Units are net of the expected returns,
as the platform counts units sold (returns are negative lines, sales.py), for a day with stock
on hand all day: a day stocked out after part of its sales sells less than its mean, so the
ground truth is slightly above the actuals on uncensored days (its bias in the backtest says
by how much).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from sme_platform.lib.demo_data.catalog import build_catalog
from sme_platform.lib.demo_data.demand import DemandModel
from sme_platform.lib.demo_data.drift import plan_drift
from sme_platform.lib.demo_data.long_tail import CATALOG_NAME as LONG_TAIL
from sme_platform.lib.demo_data.long_tail import LONG_TAIL_SCALE
from sme_platform.lib.demo_data.pricing import PriceBook
from sme_platform.lib.demo_data.sales import RETURN_PROBABILITY
from sme_platform.lib.demo_data.scales import SCALES

GROUND_TRUTH_KEYS = {"sku": pl.Utf8, "location_id": pl.Utf8}
GROUND_TRUTH_COLUMNS = {
    **GROUND_TRUTH_KEYS,
    "date": pl.Date,
    "expected_units": pl.Float64,
}


class GroundTruthError(ValueError):
    """The manifest does not describe a generated demo (or the days lie outside its period)."""


def expected_units(
    manifest: dict, first_day: date, last_day: date, series: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Per SKU x location pair on sale and day in first_day..last_day: the expected units sold
    (net of returns) by the generator's demand model. `manifest` is the generator's
    `_manifest.json` (its "arguments" replay the run); `series` (sku, location_id), if given,
    keeps only those pairs (the long-tail catalogue has 150,000 pairs a day)."""
    arguments = manifest.get("arguments")
    if manifest.get("generator") != "sme_platform.lib.demo_data" or not arguments:
        raise GroundTruthError("the manifest is not one written by sme_platform's demo generator")
    start = date.fromisoformat(arguments["start_date"])
    end = start + timedelta(days=arguments["days"] - 1)
    if first_day < start or last_day > end or first_day > last_day:
        raise GroundTruthError(
            f"days {first_day}..{last_day} are not within the generated period {start}..{end}"
        )
    long_tail = arguments.get("catalog") == LONG_TAIL
    spec = LONG_TAIL_SCALE if long_tail else SCALES[arguments["scale"]]
    seed = arguments["seed"]
    drift_from = arguments.get("drift_from")
    drift = plan_drift(seed, start, date.fromisoformat(drift_from) if drift_from else None)
    catalog = build_catalog(spec, seed, long_tail=long_tail)
    pairs = catalog.assortment
    prices = PriceBook(catalog.products, seed, drift)
    demand = DemandModel(pairs, drift)
    net_units_per_line = pairs.mean_units_per_line * (1.0 - RETURN_PROBABILITY[pairs.location_type])
    skus = np.asarray(catalog.products.codes, dtype=object)[pairs.sku]
    locations = np.asarray(catalog.locations.codes, dtype=object)[pairs.location]
    wanted = np.ones(len(pairs), dtype=bool)
    if series is not None:
        keys = pl.DataFrame({"sku": skus, "location_id": locations}, schema=GROUND_TRUTH_KEYS)
        kept = keys.with_row_index("pair").join(
            series.select(list(GROUND_TRUTH_KEYS)).unique(), on=list(GROUND_TRUTH_KEYS), how="semi"
        )
        wanted = np.zeros(len(pairs), dtype=bool)
        wanted[kept["pair"].to_numpy()] = True
    days = []
    for day_index in range((last_day - start).days + 1):
        day = start + timedelta(days=day_index)
        # Promotions and list prices evolve day by day, so every day is advanced, in order.
        prices.advance(day_index, day)
        if day < first_day:
            continue
        active = demand.active(day_index)
        lines = demand.expected_lines(day_index, day, prices.promo_pct, active)
        on_sale = np.flatnonzero(active & wanted)
        days.append(
            pl.DataFrame(
                {
                    "sku": skus[on_sale],
                    "location_id": locations[on_sale],
                    "date": [day] * len(on_sale),
                    "expected_units": lines[on_sale] * net_units_per_line[on_sale],
                },
                schema=GROUND_TRUTH_COLUMNS,
            )
        )
    return pl.concat(days) if days else pl.DataFrame(schema=GROUND_TRUTH_COLUMNS)
