"""The canonical data model the platform owns, and the data contract of each table.

A company's exports are mapped onto these tables by `sources.yaml`; everything downstream (SQL
models, features, models) is written against these names only. Each table carries its contract:
column types, required columns, primary key, foreign keys and row rules, each with a severity.
`error` rules send the row to quarantine; `warn` rules load the row and record the violation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Literal

Severity = Literal["error", "warn"]


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    required: bool = False
    pii: bool = False


@dataclass(frozen=True)
class RowRule:
    """A rule one row must satisfy: `condition` is DuckDB SQL over the canonical columns that is
    true for a good row. NULLs in optional columns are the required-rule's business, so conditions
    are written to pass on NULL."""

    name: str
    condition: str
    description: str
    severity: Severity = "error"


@dataclass(frozen=True)
class ForeignKey:
    column: str
    parent_table: str
    parent_column: str
    severity: Severity = "error"

    @property
    def name(self) -> str:
        return f"foreign_key_{self.column}"


@dataclass(frozen=True)
class CanonicalTable:
    name: str
    description: str
    grain: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    rules: tuple[RowRule, ...] = ()
    # Share of rows allowed in quarantine before the blocking check fails the load.
    max_quarantine_share: float = 0.05
    # Age in hours of the newest source file before the freshness check warns.
    max_file_age_hours: float = 36.0
    pii_columns: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def contract_version(self) -> str:
        """A hash of the contract (columns, keys, rules): changes whenever the contract does."""
        return hashlib.sha256(repr(self).encode()).hexdigest()[:12]

    @property
    def parent_tables(self) -> list[str]:
        return sorted({fk.parent_table for fk in self.foreign_keys})


def _table(**kwargs) -> CanonicalTable:
    table = CanonicalTable(**kwargs)
    return replace(table, pii_columns=tuple(c.name for c in table.columns if c.pii))


LINE_TYPES = ("sale", "return", "cancellation", "write_off", "adjustment", "fee")
PRIORITIES = ("critical", "high", "medium", "low")
CHANNELS = ("email", "phone", "chat", "web", "self_service", "other")
LOCATION_TYPES = ("store", "warehouse", "online", "other")
PRICE_TYPES = ("list", "promo")


def one_of(column: str, values: tuple[str, ...], *, nullable: bool = False) -> RowRule:
    """The rule `<column>_allowed`: the column holds one of the values (or NULL, if nullable).
    Built from the constants above, so a value added there is allowed everywhere at once."""
    allowed = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    condition = f"{column} in ({allowed})"
    return RowRule(
        f"{column}_allowed",
        f"{column} is null or {condition}" if nullable else condition,
        f"{column} is one of " + ", ".join(values),
    )


# A pragmatic address check: something@domain.tld, no spaces. Full RFC 5322 is not the point;
# catching exports that put a name or a phone number into the email field is.
EMAIL_PATTERN = r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"

# "Not from the future" allows one day of clock skew between the exporting system and this one.
NOT_FUTURE = "<= current_timestamp::timestamp + interval 1 day"

LOCATIONS = _table(
    name="locations",
    description="Stores, warehouses and online shops the company sells from or stocks goods in.",
    grain="one row per location",
    columns=(
        Column("location_id", "VARCHAR", "Business key of the location", required=True),
        Column("location_name", "VARCHAR", "Display name"),
        Column("location_type", "VARCHAR", "store, warehouse, online or other"),
        Column("region", "VARCHAR", "Sales region"),
        Column("country", "VARCHAR", "Country"),
        Column("opened_on", "DATE", "Date the location opened"),
    ),
    primary_key=("location_id",),
    rules=(one_of("location_type", LOCATION_TYPES, nullable=True),),
    max_file_age_hours=24 * 365,
)

PRODUCTS = _table(
    name="products",
    description="The product catalogue: every SKU the company sells.",
    grain="one row per SKU",
    columns=(
        Column("sku", "VARCHAR", "Stock keeping unit, the product's business key", required=True),
        Column("product_name", "VARCHAR", "Product name"),
        Column("category", "VARCHAR", "Product category"),
        Column("subcategory", "VARCHAR", "Product subcategory"),
        Column("unit_cost", "DECIMAL(18,4)", "Purchase cost per unit"),
        Column("list_price", "DECIMAL(18,4)", "Regular selling price per unit"),
        Column("launched_on", "DATE", "First day on sale"),
        Column("discontinued_on", "DATE", "Last day on sale, if discontinued"),
    ),
    primary_key=("sku",),
    rules=(
        RowRule("unit_cost_not_negative", "unit_cost is null or unit_cost >= 0", "cost >= 0"),
        RowRule("list_price_not_negative", "list_price is null or list_price >= 0", "price >= 0"),
    ),
    max_file_age_hours=24 * 365,
)

CUSTOMERS = _table(
    name="customers",
    description="Customers with contact details (personal data: name, email, phone).",
    grain="one row per customer",
    columns=(
        Column("customer_id", "VARCHAR", "Business key of the customer", required=True),
        Column("customer_name", "VARCHAR", "Full name", pii=True),
        Column("email", "VARCHAR", "Email address", pii=True),
        Column("phone", "VARCHAR", "Phone number", pii=True),
        Column("segment", "VARCHAR", "Customer segment"),
        Column("city", "VARCHAR", "City"),
        Column("country", "VARCHAR", "Country"),
        Column("created_on", "DATE", "Date the customer was created"),
    ),
    primary_key=("customer_id",),
    rules=(
        RowRule(
            "email_format",
            f"email is null or regexp_full_match(email, '{EMAIL_PATTERN}')",
            "email looks like name@domain.tld",
            severity="warn",
        ),
    ),
    max_file_age_hours=24 * 7,
)

SALES_LINES = _table(
    name="sales_lines",
    description="Order lines from the ERP: sales, returns, cancellations, write-offs and fees.",
    grain="one row per order line",
    columns=(
        Column("order_id", "VARCHAR", "Order or invoice number", required=True),
        Column("line_number", "BIGINT", "Line within the order", required=True),
        Column("ordered_at", "TIMESTAMP", "When the order was placed", required=True),
        Column("location_id", "VARCHAR", "Selling location"),
        Column("customer_id", "VARCHAR", "Customer, empty for anonymous sales"),
        Column("sku", "VARCHAR", "Product sold", required=True),
        Column("quantity", "DOUBLE", "Units; negative for returns", required=True),
        Column("unit_price", "DECIMAL(18,4)", "Price paid per unit", required=True),
        Column("discount_pct", "DOUBLE", "Discount in percent of the list price"),
        Column("promo_code", "VARCHAR", "Promotion, if any"),
        Column("line_type", "VARCHAR", "sale, return, cancellation, write_off, ...", required=True),
    ),
    primary_key=("order_id", "line_number"),
    foreign_keys=(
        ForeignKey("sku", "products", "sku"),
        ForeignKey("location_id", "locations", "location_id"),
        ForeignKey("customer_id", "customers", "customer_id"),
    ),
    rules=(
        one_of("line_type", LINE_TYPES),
        RowRule(
            "sale_quantity_positive",
            "line_type <> 'sale' or quantity > 0",
            "a sale line sells a positive quantity",
        ),
        RowRule(
            "quantity_plausible",
            "abs(quantity) <= 10000",
            "no line moves more than 10,000 units",
        ),
        RowRule(
            "unit_price_not_negative",
            "unit_price >= 0 or line_type = 'adjustment'",
            "prices are not negative (except accounting adjustments)",
        ),
        RowRule(
            "sale_price_positive",
            "line_type <> 'sale' or unit_price > 0",
            "a sale line has a price",
            severity="warn",
        ),
        RowRule(
            "discount_in_range",
            "discount_pct is null or discount_pct between 0 and 100",
            "discount between 0 and 100 %",
        ),
        RowRule("ordered_at_not_future", f"ordered_at {NOT_FUTURE}", "not dated in the future"),
        RowRule("ordered_at_plausible", "ordered_at >= timestamp '2000-01-01'", "dated after 2000"),
    ),
)

INVENTORY_SNAPSHOTS = _table(
    name="inventory_snapshots",
    description="Stock on hand and on order per SKU and location at the end of a day.",
    grain="one row per SKU, location and snapshot date",
    columns=(
        Column("snapshot_date", "DATE", "Day the snapshot was taken", required=True),
        Column("location_id", "VARCHAR", "Location holding the stock", required=True),
        Column("sku", "VARCHAR", "Product", required=True),
        Column("on_hand_units", "DOUBLE", "Units on hand at end of day", required=True),
        Column("on_order_units", "DOUBLE", "Units ordered from suppliers, not yet received"),
    ),
    primary_key=("snapshot_date", "location_id", "sku"),
    foreign_keys=(
        ForeignKey("sku", "products", "sku"),
        ForeignKey("location_id", "locations", "location_id"),
    ),
    rules=(
        RowRule("on_hand_not_negative", "on_hand_units >= 0", "stock on hand is not negative"),
        RowRule(
            "on_order_not_negative",
            "on_order_units is null or on_order_units >= 0",
            "stock on order is not negative",
        ),
        RowRule("snapshot_not_future", f"snapshot_date {NOT_FUTURE}", "not dated in the future"),
    ),
)

PRICES = _table(
    name="prices",
    description="Price changes: list prices and promotional prices with the day they apply from.",
    grain="one row per SKU, price type and valid-from date",
    columns=(
        Column("sku", "VARCHAR", "Product", required=True),
        Column("valid_from", "DATE", "First day the price applies", required=True),
        Column("unit_price", "DECIMAL(18,4)", "Price per unit", required=True),
        Column("price_type", "VARCHAR", "list or promo", required=True),
    ),
    primary_key=("sku", "valid_from", "price_type"),
    foreign_keys=(ForeignKey("sku", "products", "sku"),),
    rules=(
        RowRule("unit_price_not_negative", "unit_price >= 0", "prices are not negative"),
        one_of("price_type", PRICE_TYPES),
    ),
    max_file_age_hours=24 * 365,
)

TICKETS = _table(
    name="tickets",
    description="Customer support tickets with their routing and response times.",
    grain="one row per ticket",
    columns=(
        Column("ticket_id", "VARCHAR", "Ticket number", required=True),
        Column("opened_at", "TIMESTAMP", "When the ticket was opened", required=True),
        Column("customer_id", "VARCHAR", "Customer who raised it, if known"),
        Column("channel", "VARCHAR", "email, phone, chat, web, self_service or other"),
        Column("category", "VARCHAR", "Ticket category"),
        Column("subcategory", "VARCHAR", "Ticket subcategory"),
        Column("priority", "VARCHAR", "critical, high, medium or low", required=True),
        Column("subject", "VARCHAR", "Subject line", pii=True),
        Column("body", "VARCHAR", "Message text", pii=True),
        Column("assigned_team", "VARCHAR", "Team the ticket was routed to"),
        Column("status", "VARCHAR", "State at export time"),
        Column("first_response_at", "TIMESTAMP", "First answer to the customer"),
        Column("resolved_at", "TIMESTAMP", "When it was resolved"),
        Column("closed_at", "TIMESTAMP", "When it was closed"),
        Column("reassignment_count", "BIGINT", "Times the ticket changed team"),
        Column("reopen_count", "BIGINT", "Times the ticket was reopened"),
        Column("sla_met", "BOOLEAN", "Whether the service level was met"),
    ),
    primary_key=("ticket_id",),
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    rules=(
        one_of("priority", PRIORITIES),
        one_of("channel", CHANNELS, nullable=True),
        RowRule("opened_at_not_future", f"opened_at {NOT_FUTURE}", "not opened in the future"),
        RowRule(
            "resolved_after_opened",
            "resolved_at is null or resolved_at >= opened_at",
            "resolved after it was opened",
            severity="warn",
        ),
        RowRule(
            "first_response_after_opened",
            "first_response_at is null or first_response_at >= opened_at",
            "answered after it was opened",
            severity="warn",
        ),
    ),
    max_file_age_hours=24 * 40,
)

# Load order respects foreign keys: parents first.
CANONICAL_TABLES: dict[str, CanonicalTable] = {
    t.name: t
    for t in (LOCATIONS, PRODUCTS, CUSTOMERS, SALES_LINES, INVENTORY_SNAPSHOTS, PRICES, TICKETS)
}
