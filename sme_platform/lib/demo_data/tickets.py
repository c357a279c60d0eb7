"""Support tickets raised by the day's orders, stock-outs and returns.

About 3 % of orders lead to a ticket. The chance depends on the channel (trade and online
customers write more than store customers; anonymous store customers only via the web form,
without a customer number), orders that lost lines to a stock-out raise delivery tickets, and
returns raise returns tickets. Priority depends on the category (trade customers are escalated
more often); routing sends each category to its team, with some misrouting. The first response
time is lognormal with a median set by priority, channel (phone and chat answer at once) and team;
resolution time by category and priority, longer for misrouted and reopened tickets. Status is
taken at the end of the period: tickets not yet answered or resolved then have null timestamps.
"""

from __future__ import annotations

import string
from datetime import date, datetime
from functools import cache

import numpy as np
import polars as pl

from sme_platform.lib.demo_data.catalog import Products
from sme_platform.lib.demo_data.company_calendar import HOUR, STORE, WAREHOUSE
from sme_platform.lib.demo_data.customers import SEGMENTS, Customers
from sme_platform.lib.demo_data.sales import DaySales, OrderEvents
from sme_platform.lib.demo_data.ticket_texts import TEMPLATES_PER_CATEGORY, TICKET_TEMPLATES

TICKET_CATEGORIES = tuple(TICKET_TEMPLATES)
BILLING, DELIVERY, PRODUCT_DEFECT, RETURNS, ACCOUNT, OTHER = range(len(TICKET_CATEGORIES))
CHANNELS = ("email", "phone", "chat", "web")
PRIORITIES = ("P1", "P2", "P3", "P4")
TEAMS = ("Finance Desk", "Logistics", "Quality", "Returns Desk", "Customer Care")
TEAM_OF_CATEGORY = np.array([0, 1, 2, 3, 4, 4])
MISROUTING_PROBABILITY = 0.1
DAY = 24 * HOUR

# Chance that an order raises a ticket of each category, per kind of order.
STORE_MEMBER, STORE_ANONYMOUS, TRADE, WEB_SHOP = range(4)
ORDER_TICKET_PROBABILITY = np.array(
    [
        # billing delivery defect returns account other
        [0.0025, 0.0025, 0.005, 0.0, 0.0025, 0.0025],  # store order with loyalty card
        [0.0, 0.0, 0.0012, 0.0, 0.0, 0.0012],  # anonymous store order (web form)
        [0.022, 0.015, 0.009, 0.0, 0.0012, 0.0025],  # trade order at the warehouse
        [0.0035, 0.013, 0.006, 0.0, 0.005, 0.0025],  # online order
    ]
)
SHORT_SHIPPED_DELIVERY_PROBABILITY = 0.25  # online and trade orders that lost lines
RETURN_TICKET_PROBABILITY = 0.15
ANONYMOUS_RETURN_TICKET_PROBABILITY = 0.01

PRIORITY_PROBABILITY = np.array(
    [
        [0.02, 0.18, 0.50, 0.30],  # billing
        [0.05, 0.35, 0.45, 0.15],  # delivery
        [0.10, 0.40, 0.40, 0.10],  # product_defect
        [0.01, 0.14, 0.55, 0.30],  # returns
        [0.03, 0.12, 0.35, 0.50],  # account
        [0.01, 0.09, 0.40, 0.50],  # other
    ]
)
TRADE_ESCALATION_PROBABILITY = 0.3
# Channel by segment (retail, wholesale, online) and for anonymous customers.
CHANNEL_PROBABILITY = np.array(
    [
        [0.35, 0.35, 0.10, 0.20],
        [0.60, 0.35, 0.00, 0.05],
        [0.30, 0.10, 0.35, 0.25],
        [0.40, 0.00, 0.00, 0.60],
    ]
)
FIRST_RESPONSE_MEDIAN_HOURS = np.array([0.5, 2.0, 8.0, 24.0])  # by priority
CHANNEL_RESPONSE_FACTOR = np.array([1.0, 0.05, 0.1, 1.3])
TEAM_RESPONSE_FACTOR = np.array([1.3, 1.1, 1.0, 0.9, 0.8])
RESOLUTION_MEDIAN_HOURS = np.array([20.0, 30.0, 70.0, 48.0, 6.0, 12.0])  # by category
PRIORITY_RESOLUTION_FACTOR = np.array([0.25, 0.6, 1.0, 1.5])
REOPEN_PROBABILITY = np.array([0.04, 0.08, 0.12, 0.05, 0.03, 0.03])
MISROUTED_EXTRA_HOURS = (4.0, 48.0)
CLOSED_AFTER_RESOLVED_HOURS = 72


class TicketDesk:
    """Collects the tickets of the current month; `take_month` hands them over as a frame."""

    def __init__(self, start_date: date, days: int, products: Products, customers: Customers):
        self._start = datetime(start_date.year, start_date.month, start_date.day)
        self._export_second = days * DAY
        self._products = products
        self._customers = customers
        self._next_id = 1
        self._month: list[dict[str, np.ndarray]] = []

    def open_tickets(self, day_index: int, sales: DaySales, rng: np.random.Generator) -> int:
        raised = [
            _order_tickets(sales.orders, rng),
            _short_shipped_tickets(sales.orders, rng),
            _return_tickets(sales.returns, rng),
        ]
        events = {name: np.concatenate([r[name] for r in raised]) for name in raised[0]}
        count = len(events["category"])
        if not count:
            return 0
        event_second = events["seconds"]
        created = event_second + (rng.random(count) * (DAY - event_second)).astype(np.int64)
        order = np.lexsort((np.arange(count), created))
        events = {name: values[order] for name, values in events.items()}
        created = created[order] + day_index * DAY
        tickets = _route_and_time(events, self._customers, rng)
        tickets.update(events)
        tickets["created"] = created
        tickets["day_index"] = np.full(count, day_index)
        tickets["ticket_no"] = np.arange(self._next_id, self._next_id + count)
        self._next_id += count
        self._month.append(tickets)
        return count

    @property
    def has_tickets(self) -> bool:
        return bool(self._month)

    def take_month(self) -> pl.DataFrame:
        """The collected tickets as the export frame; the collection starts afresh."""
        if not self._month:
            return _empty_ticket_frame()
        columns = {name: np.concatenate([t[name] for t in self._month]) for name in self._month[0]}
        self._month = []
        return self._frame(columns)

    def _frame(self, c: dict[str, np.ndarray]) -> pl.DataFrame:
        export = self._export_second
        created = c["created"]
        first_response = created + c["response_seconds"]
        resolved = first_response + c["resolution_seconds"]
        answered = first_response <= export
        done = resolved <= export
        status = np.where(
            ~done, 0, np.where(export - resolved > CLOSED_AFTER_RESOLVED_HOURS * HOUR, 2, 1)
        )
        customer = c["customer"]
        names = pl.Series(["a store customer"] * len(customer))
        known = np.flatnonzero(customer >= 0)
        names = names.scatter(known, self._customers.display_names(customer[known]))
        numeric = pl.DataFrame(
            {
                "ticket_no": c["ticket_no"],
                "created": created,
                "first_response": np.where(answered, first_response, -1),
                "resolved": np.where(done, resolved, -1),
                "customer": customer,
                "channel": pl.Series(CHANNELS).gather(c["channel"]),
                "category": pl.Series(TICKET_CATEGORIES).gather(c["category"]),
                "template": c["category"] * TEMPLATES_PER_CATEGORY + c["variant"],
                "priority": pl.Series(PRIORITIES).gather(c["priority"]),
                "team": pl.Series(TEAMS).gather(c["team"]),
                "status": pl.Series(("open", "resolved", "closed")).gather(status),
                "reopened": c["reopened"].astype(np.int64),
                "product": pl.Series(self._products.names).gather(c["sku"]),
                "order": _order_numbers(c, self._start),
                "name": names,
            }
        )
        subject, body = _render_templates()
        return numeric.select(
            ticket_id="TCK-" + pl.col("ticket_no").cast(pl.String).str.zfill(6),
            created_at=self._timestamp("created"),
            customer_no=pl.when(pl.col("customer") >= 0).then(
                "C" + (pl.col("customer") + 1).cast(pl.String).str.zfill(6)
            ),
            channel="channel",
            subject=subject,
            body=body,
            category="category",
            priority="priority",
            team="team",
            first_response_at=self._timestamp("first_response"),
            resolved_at=self._timestamp("resolved"),
            status="status",
            reopened="reopened",
        )

    def _timestamp(self, column: str) -> pl.Expr:
        seconds = pl.col(column)
        return pl.when(seconds >= 0).then(
            (pl.lit(self._start) + pl.duration(seconds=seconds)).dt.strftime("%Y-%m-%dT%H:%M:%S")
        )


def _events(events: OrderEvents, picked: np.ndarray, category: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "category": category.astype(np.int64),
        "customer": events.customer[picked],
        "seconds": events.seconds[picked],
        "sku": events.sku[picked],
        "order_seq": events.seq[picked],
        "is_return": np.full(len(category), events.is_return),
    }


def _order_tickets(orders: OrderEvents, rng: np.random.Generator) -> dict[str, np.ndarray]:
    kind = np.where(
        orders.location_type == STORE,
        np.where(orders.customer >= 0, STORE_MEMBER, STORE_ANONYMOUS),
        np.where(orders.location_type == WAREHOUSE, TRADE, WEB_SHOP),
    )
    cumulative = np.cumsum(ORDER_TICKET_PROBABILITY, axis=1)[kind]
    category = (rng.random(len(kind))[:, None] >= cumulative).sum(axis=1)
    picked = np.flatnonzero(category < len(TICKET_CATEGORIES))
    return _events(orders, picked, category[picked])


def _short_shipped_tickets(orders: OrderEvents, rng: np.random.Generator):
    eligible = orders.short_shipped & (orders.location_type != STORE) & (orders.customer >= 0)
    picked = np.flatnonzero(
        eligible & (rng.random(len(eligible)) < SHORT_SHIPPED_DELIVERY_PROBABILITY)
    )
    return _events(orders, picked, np.full(len(picked), DELIVERY))


def _return_tickets(returns: OrderEvents, rng: np.random.Generator):
    probability = np.where(
        returns.customer >= 0, RETURN_TICKET_PROBABILITY, ANONYMOUS_RETURN_TICKET_PROBABILITY
    )
    picked = np.flatnonzero(rng.random(len(probability)) < probability)
    return _events(returns, picked, np.full(len(picked), RETURNS))


def _choose(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One category index per row of a (n, k) probability matrix."""
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative[:, -1] = 1.0
    return (rng.random(len(probabilities))[:, None] >= cumulative).sum(axis=1)


def _route_and_time(
    events: dict[str, np.ndarray], customers: Customers, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    category = events["category"]
    customer = events["customer"]
    count = len(category)
    segment = np.where(customer >= 0, customers.segment[np.maximum(customer, 0)], len(SEGMENTS))
    priority = _choose(PRIORITY_PROBABILITY[category], rng)
    escalate = (segment == 1) & (rng.random(count) < TRADE_ESCALATION_PROBABILITY)
    priority = np.where(escalate, np.maximum(priority - 1, 0), priority)
    channel = _choose(CHANNEL_PROBABILITY[segment], rng)
    misrouted = rng.random(count) < MISROUTING_PROBABILITY
    team = np.where(misrouted, rng.integers(0, len(TEAMS), size=count), TEAM_OF_CATEGORY[category])
    misrouted = team != TEAM_OF_CATEGORY[category]
    response_median = (
        FIRST_RESPONSE_MEDIAN_HOURS[priority]
        * CHANNEL_RESPONSE_FACTOR[channel]
        * TEAM_RESPONSE_FACTOR[team]
    )
    response_hours = response_median * rng.lognormal(0.0, 0.7, size=count)
    reopened = rng.random(count) < REOPEN_PROBABILITY[category]
    resolution_hours = (
        RESOLUTION_MEDIAN_HOURS[category]
        * PRIORITY_RESOLUTION_FACTOR[priority]
        * rng.lognormal(0.0, 0.8, size=count)
    )
    resolution_hours += np.where(misrouted, rng.uniform(*MISROUTED_EXTRA_HOURS, size=count), 0)
    resolution_hours = np.where(reopened, resolution_hours * 1.6 + 24, resolution_hours)
    return {
        "priority": priority,
        "channel": channel,
        "team": team,
        "reopened": reopened,
        "variant": rng.integers(0, TEMPLATES_PER_CATEGORY, size=count),
        "response_seconds": np.maximum((response_hours * HOUR).astype(np.int64), 30),
        "resolution_seconds": np.maximum((resolution_hours * HOUR).astype(np.int64), 60),
    }


def _order_numbers(columns: dict[str, np.ndarray], start: datetime) -> pl.Series:
    frame = pl.DataFrame(
        {
            "day_index": columns["day_index"],
            "is_return": columns["is_return"],
            "seq": columns["order_seq"],
        }
    )
    return frame.select(
        pl.when(pl.col("is_return")).then(pl.lit("RT-")).otherwise(pl.lit("SO-"))
        + (pl.lit(start) + pl.duration(days=pl.col("day_index"))).dt.strftime("%Y%m%d")
        + "-"
        + pl.col("seq").cast(pl.String).str.zfill(6)
    ).to_series()


_FIELDS = ("product", "order", "name")


@cache
def _render_templates() -> tuple[pl.Expr, pl.Expr]:
    """Subject and body expressions filling each row's template (its `template` column)."""
    templates = [pair for variants in TICKET_TEMPLATES.values() for pair in variants]
    return (
        _template_expr([subject for subject, _ in templates]),
        _template_expr([body for _, body in templates]),
    )


def _template_expr(texts: list[str]) -> pl.Expr:
    """Each text is split into literal / placeholder slots; the row's template picks the
    literals and which column fills each placeholder (the same few slots for all templates)."""
    parsed = [
        [(literal, field) for literal, field, _, _ in string.Formatter().parse(text)]
        for text in texts
    ]
    slots = max(len(parts) for parts in parsed)
    parts: list[pl.Expr] = []
    template = pl.col("template")
    for slot in range(slots):
        padded = [p[slot] if slot < len(p) else ("", None) for p in parsed]
        literals = pl.Series([literal for literal, _ in padded])
        fields = pl.Series([_FIELDS.index(f) if f else -1 for _, f in padded])
        field = pl.lit(fields).gather(template)
        value = pl.when(field == 0).then(pl.col(_FIELDS[0]))
        for number, name in enumerate(_FIELDS[1:], start=1):
            value = value.when(field == number).then(pl.col(name))
        parts += [pl.lit(literals).gather(template), value.otherwise(pl.lit(""))]
    return pl.concat_str(parts)


def _empty_ticket_frame() -> pl.DataFrame:
    columns = (
        "ticket_id", "created_at", "customer_no", "channel", "subject", "body", "category",
        "priority", "team", "first_response_at", "resolved_at", "status",
    )  # fmt: skip
    return pl.DataFrame(schema={**{name: pl.String for name in columns}, "reopened": pl.Int64})
