"""The customer base: people and trade customers, growing day by day.

Customers are generated in fixed blocks, each from its own seeded stream, and numbered in order of
creation, so a run over more days has the same customers plus the ones created on the extra days.
A share of customers is dormant (signed up, never bought); they never appear in sales or tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from sme_platform.lib.demo_data.randomness import rng_for
from sme_platform.lib.demo_data.vocabulary import (
    BUSINESS_WORDS,
    CITIES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
)

SEGMENTS = ("retail", "wholesale", "online")
RETAIL, WHOLESALE, ONLINE_BUYER = 0, 1, 2
SEGMENT_SHARES = np.array([0.70, 0.05, 0.25])
DORMANT_SHARE = 0.08
GROWTH_PER_730_DAYS = 0.4  # the base grows by 40 % over two years
HISTORY_DAYS = 1826  # existing customers signed up over the five years before the period
BLOCK_SIZE = 4096
# Repeat buyers: sampling index = n * u ** LOYALTY_SKEW favours long-standing customers.
LOYALTY_SKEW = 1.6


@dataclass(frozen=True)
class Customers:
    created_day: np.ndarray  # day index relative to start_date
    segment: np.ndarray
    dormant: np.ndarray
    first_name: np.ndarray
    last_name: np.ndarray
    business_word: np.ndarray
    city: np.ndarray
    email_domain: np.ndarray
    email_number: np.ndarray
    phone_number: np.ndarray

    def __len__(self) -> int:
        return len(self.created_day)

    def buying_pool(self, segment: int) -> np.ndarray:
        """Non-dormant customers of `segment` in order of creation."""
        return np.flatnonzero((self.segment == segment) & ~self.dormant)

    def frame(self, start_date: date) -> pl.DataFrame:
        first = pl.Series(FIRST_NAMES).gather(self.first_name)
        last = pl.Series(LAST_NAMES).gather(self.last_name)
        business = pl.Series(BUSINESS_WORDS).gather(self.business_word)
        number = pl.Series(self.email_number).cast(pl.String)
        domain = pl.Series(EMAIL_DOMAINS).gather(self.email_domain)
        is_trade = pl.Series(self.segment == WHOLESALE)
        person_email = first.str.to_lowercase() + "." + last.str.to_lowercase() + number
        trade_email = "orders." + last.str.to_lowercase() + number
        phone = pl.Series(self.phone_number)
        return pl.DataFrame(
            {
                "customer_no": customer_numbers(np.arange(len(self))),
                "name": pl.select(
                    pl.when(is_trade).then(last + " " + business).otherwise(first + " " + last)
                ).to_series(),
                "email": pl.select(
                    pl.when(is_trade).then(trade_email).otherwise(person_email) + "@" + domain
                ).to_series(),
                "phone": "+1-555-"
                + (phone // 10_000).cast(pl.String).str.zfill(3)
                + "-"
                + (phone % 10_000).cast(pl.String).str.zfill(4),
                "segment": pl.Series(SEGMENTS).gather(self.segment),
                "city": pl.Series(CITIES).gather(self.city),
                "created_at": pl.Series(self.created_day).cast(pl.Int32),
            }
        ).with_columns(
            created_at=(pl.lit(start_date) + pl.duration(days=pl.col("created_at"))).dt.strftime(
                "%Y-%m-%d"
            )
        )

    def display_names(self, indices: np.ndarray) -> pl.Series:
        """How a customer signs a message: first name, or the company for trade customers."""
        first = pl.Series(FIRST_NAMES).gather(self.first_name[indices])
        last = pl.Series(LAST_NAMES).gather(self.last_name[indices])
        trade = pl.Series(self.segment[indices] == WHOLESALE)
        return pl.select(pl.when(trade).then(last + " purchasing").otherwise(first)).to_series()


def customer_numbers(indices: np.ndarray) -> pl.Series:
    return "C" + pl.Series(np.asarray(indices) + 1).cast(pl.String).str.zfill(6)


def customer_count(customers_at_start: int, days: int) -> int:
    return customers_at_start + int(customers_at_start * GROWTH_PER_730_DAYS / 730 * days)


def build_customers(customers_at_start: int, seed: int, days: int) -> Customers:
    count = customer_count(customers_at_start, days)
    blocks = [_customer_block(seed, block) for block in range(-(-count // BLOCK_SIZE))]
    columns = {name: np.concatenate([b[name] for b in blocks])[:count] for name in blocks[0]}
    index = np.arange(count)
    jitter = columns.pop("created_jitter")
    new_per_day = customers_at_start * GROWTH_PER_730_DAYS / 730
    created_day = np.where(
        index < customers_at_start,
        -HISTORY_DAYS + np.floor((index + jitter) * HISTORY_DAYS / customers_at_start),
        np.floor((index - customers_at_start + jitter) / new_per_day),
    ).astype(np.int64)
    return Customers(created_day=created_day, **columns)


def _customer_block(seed: int, block: int) -> dict[str, np.ndarray]:
    rng = rng_for(seed, "customers", block)
    size = BLOCK_SIZE
    return {
        "created_jitter": rng.random(size),
        "segment": rng.choice(len(SEGMENTS), size=size, p=SEGMENT_SHARES),
        "dormant": rng.random(size) < DORMANT_SHARE,
        "first_name": rng.integers(0, len(FIRST_NAMES), size=size),
        "last_name": rng.integers(0, len(LAST_NAMES), size=size),
        "business_word": rng.integers(0, len(BUSINESS_WORDS), size=size),
        "city": rng.integers(0, len(CITIES), size=size),
        "email_domain": rng.integers(0, len(EMAIL_DOMAINS), size=size),
        "email_number": rng.integers(1, 1000, size=size),
        "phone_number": rng.integers(0, 10_000_000, size=size),
    }


class CustomerPicker:
    """Draws the buying customers of a day from those created by then, favouring loyal ones."""

    def __init__(self, customers: Customers):
        self._pools = [customers.buying_pool(s) for s in range(len(SEGMENTS))]
        self._pool_created = [customers.created_day[pool] for pool in self._pools]

    def pick(self, segment: np.ndarray, day_index: int, rng: np.random.Generator) -> np.ndarray:
        """One customer index per entry of `segment` (-1 where the pool is still empty)."""
        picked = np.full(len(segment), -1, dtype=np.int64)
        skewed = rng.random(len(segment)) ** LOYALTY_SKEW
        for seg, pool in enumerate(self._pools):
            wanted = segment == seg
            eligible = int(np.searchsorted(self._pool_created[seg], day_index, side="right"))
            if eligible and wanted.any():
                picked[wanted] = pool[(skewed[wanted] * eligible).astype(np.int64)]
        return picked
