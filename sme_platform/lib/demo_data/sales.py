"""One day of order lines: demand draws, baskets, order times, stock censoring and returns.

1. Each SKU x location pair gets Poisson(expected lines) demand lines (demand.py); a line wants
   pack * (1 + Poisson(extra)) units (trade customers buy whole packs).
2. Lines of a location are shuffled and cut into baskets (orders) of geometric size; lines of
   the same SKU in one basket are merged. Each order gets a time inside the location's opening
   hours (a beta-shaped afternoon peak in stores, an evening peak online) and a customer: a
   loyalty-card holder for some store orders (the rest are anonymous), an online or retail
   customer online, a trade customer at the warehouse.
3. Stock censors sales: per pair, in order of time, each line gets what is left on hand, so
   sales = min(demand, on hand); lines that get nothing are lost and an order that loses all its
   lines is never placed. Order numbers are given to the placed orders in order of time.
4. Prices: stores and online pay the day's price (the promotion price while a promotion runs,
   with its code and discount); trade customers pay list price minus their tier discount.
5. Returns: a few % of the day's sold lines (by location type) come back as a separate order
   `RT-...` with negative quantity. The sold lines stand in for similar purchases of the past
   weeks, which keeps the simulation day-local; returned units go back into stock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sme_platform.lib.demo_data.catalog import Assortment
from sme_platform.lib.demo_data.company_calendar import HOUR, ONLINE, WAREHOUSE
from sme_platform.lib.demo_data.customers import ONLINE_BUYER, RETAIL, WHOLESALE, CustomerPicker
from sme_platform.lib.demo_data.pricing import PriceBook

MEAN_LINES_PER_ORDER = np.array([2.2, 6.0, 1.8])  # STORE, WAREHOUSE, ONLINE
STORE_LOYALTY_CARD_SHARE = 0.35
ONLINE_GUEST_RETAIL_SHARE = 0.25  # online orders by retail (store) customers
RETURN_PROBABILITY = np.array([0.025, 0.01, 0.07])  # STORE, WAREHOUSE, ONLINE
# Beta shape of order times within opening hours (STORE, WAREHOUSE, ONLINE).
TIME_SHAPE_A = np.array([2.2, 1.6, 2.6])
TIME_SHAPE_B = np.array([1.8, 1.8, 1.7])
ONLINE_DAY_STARTS_AT = 6 * HOUR  # online times wrap around midnight from 06:00
TRADE_TIERS_PCT = (10, 15, 20)


@dataclass(frozen=True)
class SalesLines:
    """The day's sales file rows, in file order (time, then order, then line)."""

    is_return: np.ndarray
    order_seq: np.ndarray
    line_no: np.ndarray
    seconds: np.ndarray  # seconds after midnight
    location: np.ndarray
    customer: np.ndarray  # -1 = anonymous
    sku: np.ndarray
    qty: np.ndarray
    unit_cents: np.ndarray
    discount_pct: np.ndarray
    promo_month: np.ndarray  # yyyymm of the promotion, -1 = none

    def __len__(self) -> int:
        return len(self.sku)


@dataclass(frozen=True)
class OrderEvents:
    """Placed orders or returns of the day, for the support desk."""

    is_return: bool
    seq: np.ndarray
    seconds: np.ndarray
    location_type: np.ndarray
    customer: np.ndarray
    sku: np.ndarray  # first line's SKU
    short_shipped: np.ndarray  # some demand of the order could not be served


@dataclass(frozen=True)
class DaySales:
    lines: SalesLines
    sold_units: np.ndarray  # per pair
    returned_units: np.ndarray  # per pair
    lost_units: int
    orders: OrderEvents
    returns: OrderEvents


def simulate_day(
    day_index: int,
    expected_lines: np.ndarray,
    on_hand: np.ndarray,
    hours: np.ndarray,
    pairs: Assortment,
    prices: PriceBook,
    picker: CustomerPicker,
    rng: np.random.Generator,
) -> DaySales:
    pair_count = len(pairs)
    pair = np.repeat(np.arange(pair_count), rng.poisson(expected_lines))
    wanted = pairs.pack_size[pair] * (1 + rng.poisson(pairs.extra_units[pair]))

    # Baskets: shuffle each location's lines, then start a new order with p = 1 / mean size.
    location = pairs.location[pair]
    shuffled = np.lexsort((rng.random(len(pair)), location))
    pair, wanted, location = pair[shuffled], wanted[shuffled], location[shuffled]
    location_type = pairs.location_type[pair]
    starts_order = np.ones(len(pair), dtype=bool)
    starts_order[1:] = (location[1:] != location[:-1]) | (
        rng.random(len(pair))[1:] < 1.0 / MEAN_LINES_PER_ORDER[location_type[1:]]
    )
    basket = np.cumsum(starts_order) - 1
    basket_type = location_type[starts_order]
    basket_seconds = order_seconds(basket_type, hours, rng)
    basket_customer = _basket_customers(basket_type, day_index, picker, rng)
    # An order has one line per SKU: demand for the same SKU within a basket is merged.
    merged_key, merged = np.unique(basket * pair_count + pair, return_inverse=True)
    wanted = np.bincount(merged, weights=wanted, minlength=len(merged_key)).astype(np.int64)
    basket, pair = np.divmod(merged_key, pair_count)
    location_type = pairs.location_type[pair]

    sold = _censor_by_stock(pair, wanted, basket_seconds[basket], basket, on_hand)
    kept = sold > 0
    basket_count = len(basket_type)
    lost_lines = np.bincount(basket, weights=(sold < wanted), minlength=basket_count) > 0
    placed = np.bincount(basket[kept], minlength=basket_count) > 0
    by_time = np.lexsort((np.arange(basket_count), basket_seconds))
    by_time = by_time[placed[by_time]]
    order_seq = np.zeros(basket_count, dtype=np.int64)
    order_seq[by_time] = np.arange(1, len(by_time) + 1)

    # Kept lines stay grouped by basket, so line numbers count up within each run of a basket.
    sale_pair, sale_basket, sale_qty = pair[kept], basket[kept], sold[kept]
    sale_line_no = _position_in_run(sale_basket) + 1
    sale_customer = basket_customer[sale_basket]
    sale_type = location_type[kept]
    unit_cents, discount, promo_month = _prices(
        pairs.sku[sale_pair], sale_type, sale_customer, prices
    )

    returning = rng.random(len(sale_pair)) < RETURN_PROBABILITY[sale_type]
    return_qty = rng.integers(1, sale_qty[returning] + 1)
    return_seconds = order_seconds(sale_type[returning], hours, rng)
    return_by_time = np.argsort(return_seconds, kind="stable")
    return_seq = np.empty(len(return_qty), dtype=np.int64)
    return_seq[return_by_time] = np.arange(1, len(return_qty) + 1)

    lines = _file_order(
        SalesLines(
            is_return=np.concatenate(
                [np.zeros(len(sale_pair), bool), np.ones(len(return_qty), bool)]
            ),
            order_seq=np.concatenate([order_seq[sale_basket], return_seq]),
            line_no=np.concatenate([sale_line_no, np.ones(len(return_qty), dtype=np.int64)]),
            seconds=np.concatenate([basket_seconds[sale_basket], return_seconds]),
            location=np.concatenate(
                [pairs.location[sale_pair], pairs.location[sale_pair[returning]]]
            ),
            customer=np.concatenate([sale_customer, sale_customer[returning]]),
            sku=np.concatenate([pairs.sku[sale_pair], pairs.sku[sale_pair[returning]]]),
            qty=np.concatenate([sale_qty, -return_qty]),
            unit_cents=np.concatenate([unit_cents, unit_cents[returning]]),
            discount_pct=np.concatenate([discount, discount[returning]]),
            promo_month=np.concatenate([promo_month, promo_month[returning]]),
        )
    )
    first_lines = sale_line_no == 1
    return DaySales(
        lines=lines,
        sold_units=np.bincount(pair, weights=sold, minlength=pair_count).astype(np.int64),
        returned_units=np.bincount(
            sale_pair[returning], weights=return_qty, minlength=pair_count
        ).astype(np.int64),
        lost_units=int((wanted - sold).sum()),
        orders=OrderEvents(
            is_return=False,
            seq=order_seq[sale_basket[first_lines]],
            seconds=basket_seconds[sale_basket[first_lines]],
            location_type=sale_type[first_lines],
            customer=sale_customer[first_lines],
            sku=pairs.sku[sale_pair[first_lines]],
            short_shipped=lost_lines[sale_basket[first_lines]],
        ),
        returns=OrderEvents(
            is_return=True,
            seq=return_seq,
            seconds=return_seconds,
            location_type=sale_type[returning],
            customer=sale_customer[returning],
            sku=pairs.sku[sale_pair[returning]],
            short_shipped=np.zeros(len(return_seq), dtype=bool),
        ),
    )


def order_seconds(location_type: np.ndarray, hours: np.ndarray, rng: np.random.Generator):
    """Order times in seconds after midnight, inside each location type's opening hours."""
    opening = hours[location_type, 0]
    closing = hours[location_type, 1]
    position = rng.beta(TIME_SHAPE_A[location_type], TIME_SHAPE_B[location_type])
    seconds = opening + (position * (closing - opening)).astype(np.int64)
    online = location_type == ONLINE
    seconds[online] = (ONLINE_DAY_STARTS_AT + seconds[online]) % (24 * HOUR)
    return np.minimum(seconds, np.maximum(closing - 1, opening))


def _basket_customers(
    basket_type: np.ndarray, day_index: int, picker: CustomerPicker, rng: np.random.Generator
) -> np.ndarray:
    draw = rng.random(len(basket_type))
    store_segment = np.where(draw < STORE_LOYALTY_CARD_SHARE, RETAIL, -1)  # -1: anonymous
    online_segment = np.where(draw < ONLINE_GUEST_RETAIL_SHARE, RETAIL, ONLINE_BUYER)
    segment = np.where(
        basket_type == WAREHOUSE,
        WHOLESALE,
        np.where(basket_type == ONLINE, online_segment, store_segment),
    )
    return picker.pick(segment, day_index, rng)


def _censor_by_stock(
    pair: np.ndarray, wanted: np.ndarray, seconds: np.ndarray, basket: np.ndarray, on_hand
) -> np.ndarray:
    """Units each line gets when a pair's stock is handed out in order of time."""
    order = np.lexsort((basket, seconds, pair))
    sorted_pair, sorted_wanted = pair[order], wanted[order]
    running = np.cumsum(sorted_wanted)
    before_line = running - sorted_wanted
    run_start = _run_starts(sorted_pair)
    wanted_before = before_line - before_line[run_start]
    sold_sorted = np.clip(on_hand[sorted_pair] - wanted_before, 0, sorted_wanted)
    sold = np.empty_like(wanted)
    sold[order] = sold_sorted
    return sold


def _run_starts(values: np.ndarray) -> np.ndarray:
    """For each position, the index where its run of equal values starts."""
    starts = np.ones(len(values), dtype=bool)
    starts[1:] = values[1:] != values[:-1]
    return np.maximum.accumulate(np.where(starts, np.arange(len(values)), 0))


def _position_in_run(values: np.ndarray) -> np.ndarray:
    return np.arange(len(values)) - _run_starts(values)


def _prices(sku, location_type, customer, prices: PriceBook):
    trade = location_type == WAREHOUSE
    tier = np.asarray(TRADE_TIERS_PCT)[np.maximum(customer, 0) % len(TRADE_TIERS_PCT)]
    trade_cents = (prices.list_cents[sku] * (100 - tier) + 50) // 100
    unit_cents = np.where(trade, trade_cents, prices.paid_cents[sku])
    discount = np.where(trade, tier, prices.promo_pct[sku]).astype(np.float64)
    promo_month = np.where(trade, -1, prices.promo_month[sku])
    return unit_cents, discount, promo_month


def _file_order(lines: SalesLines) -> SalesLines:
    order = np.lexsort((lines.line_no, lines.order_seq, lines.is_return, lines.seconds))
    return SalesLines(
        **{name: getattr(lines, name)[order] for name in SalesLines.__dataclass_fields__}
    )
