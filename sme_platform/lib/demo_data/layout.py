"""Where each export lives, relative to the output folder."""

from __future__ import annotations

from datetime import date

LOCATIONS_FILE = "erp/locations.csv"
PRODUCTS_FILE = "erp/products.csv"
CUSTOMERS_FILE = "crm/customers.jsonl"
PRICES_FILE = "erp/prices/price_changes.csv"
MANIFEST_FILE = "_manifest.json"


def sales_file(day: date, file_format: str) -> str:
    return f"erp/sales/sales_{day.isoformat()}.{file_format}"


def inventory_file(day: date) -> str:
    return f"wms/inventory/inventory_{day.isoformat()}.parquet"


def tickets_file(day: date) -> str:
    return f"support/tickets_{day:%Y-%m}.jsonl"
