"""How big the demo company is at each scale."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScaleSpec:
    """Size of the demo company.

    `sales_lines_per_day` is the average number of sales-file lines (sales and returns) per day;
    over 730 days it gives roughly 20 thousand (tiny), 1 million (small), 10 million (medium)
    and 100 million (large) lines. A longer or shorter period scales the total with `days`.
    """

    stores: int
    warehouses: int
    online_shops: int
    products: int
    customers_at_start: int
    store_assortment_share: float
    sales_lines_per_day: float
    sales_format: str

    @property
    def locations(self) -> int:
        return self.stores + self.warehouses + self.online_shops


SCALES: dict[str, ScaleSpec] = {
    "tiny": ScaleSpec(
        stores=3,
        warehouses=1,
        online_shops=1,
        products=40,
        customers_at_start=300,
        store_assortment_share=0.6,
        sales_lines_per_day=20_000 / 730,
        sales_format="csv",
    ),
    "small": ScaleSpec(
        stores=16,
        warehouses=2,
        online_shops=1,
        products=1_200,
        customers_at_start=20_000,
        store_assortment_share=0.35,
        sales_lines_per_day=1_000_000 / 730,
        sales_format="csv",
    ),
    "medium": ScaleSpec(
        stores=40,
        warehouses=3,
        online_shops=1,
        products=4_000,
        customers_at_start=100_000,
        store_assortment_share=0.3,
        sales_lines_per_day=10_000_000 / 730,
        sales_format="csv",
    ),
    "large": ScaleSpec(
        stores=120,
        warehouses=4,
        online_shops=2,
        products=12_000,
        customers_at_start=500_000,
        store_assortment_share=0.25,
        sales_lines_per_day=100_000_000 / 730,
        sales_format="parquet",
    ),
}
