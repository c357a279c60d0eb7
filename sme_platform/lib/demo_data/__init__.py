"""Deterministic demo data for the home-goods company "Northwind Living" (or, with catalog
"long-tail", the same company shaped like a grocery export: long_tail.py).

`generate_demo_data(out_dir, scale=..., seed=...)` writes the exports of its ERP (locations,
products, prices, daily sales), warehouse system (daily inventory), CRM (customers) and support
desk (monthly tickets), plus `_manifest.json` describing what was generated, including any
injected defects. See docs/demo_exports.md for the file layout.
"""

from sme_platform.lib.demo_data.defects import (
    CUSTOMER_DEFECT_KINDS,
    SALES_DEFECT_KINDS,
    TICKET_DEFECT_KINDS,
)
from sme_platform.lib.demo_data.generate import generate_demo_data
from sme_platform.lib.demo_data.scales import SCALES, ScaleSpec

__all__ = [
    "CUSTOMER_DEFECT_KINDS",
    "SALES_DEFECT_KINDS",
    "SCALES",
    "TICKET_DEFECT_KINDS",
    "ScaleSpec",
    "generate_demo_data",
]
