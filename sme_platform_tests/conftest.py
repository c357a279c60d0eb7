"""Shared fixtures: a project folder on tmp_path with a sources.yaml and a warehouse."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from sme_platform.lib.sources import load_sources
from sme_platform.lib.warehouse import connect

# Great Expectations and DuckDB draw progress bars; keep them out of test logs.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]

# The canonical tables, written out: a table that appears or vanishes is a change to mean.
CANONICAL_TABLES = [
    "customers",
    "inventory_snapshots",
    "locations",
    "prices",
    "products",
    "sales_lines",
    "tickets",
]

SALES_HEADER = "order_no,line_no,ts,item,qty,price,doc"
SALES_COLUMNS = {
    "order_id": "order_no",
    "line_number": "line_no",
    "ordered_at": "ts",
    "sku": "item",
    "quantity": "qty",
    "unit_price": "price",
    "line_type": "lower(doc)",
}


class TinyProject:
    """A project folder with files under exports/ and one source per canonical table."""

    def __init__(self, root: Path):
        self.root = root
        self.exports = root / "exports"
        self.exports.mkdir(parents=True, exist_ok=True)
        self.sources: dict = {}
        self.warehouse = root / "warehouse.duckdb"

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.exports / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    def source(self, table: str, **body) -> None:
        self.sources[table] = body
        document = {"root": "exports", "sources": self.sources}
        (self.root / "sources.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")

    def sales_source(self, path: str = "sales_*.csv", **extra) -> None:
        self.source("sales_lines", path=path, columns=dict(SALES_COLUMNS), **extra)

    def ingest(self, table: str = "sales_lines", **options):
        """Load the table; options go to ingest_table (e.g. steps=LoadSteps(...) to wrap a
        step of each batch in a fault test)."""
        from sme_platform.lib.ingestion import ingest_table

        spec = load_sources(self.root).get(table)
        with connect(self.warehouse) as con:
            return ingest_table(con, spec, **options)

    def query(self, sql: str, params=None) -> list[tuple]:
        with connect(self.warehouse) as con:
            return con.execute(sql, params or []).fetchall()


@pytest.fixture
def project(tmp_path: Path) -> TinyProject:
    return TinyProject(tmp_path)


# The SQL models under dbt_like_sql/, as asset keys: the demo's validated tables and reports.
SQL_MODELS = [
    "marts/customers",
    "marts/inventory_positions",
    "marts/products",
    "marts/sales_daily",
    "marts/tickets",
    "reports/sales_kpis_monthly",
    "reports/support_kpis_monthly",
    "staging/customers",
    "staging/inventory_snapshots",
    "staging/locations",
    "staging/prices",
    "staging/products",
    "staging/sales_adjustments",
    "staging/sales_lines",
    "staging/sales_returns",
    "staging/tickets",
]
