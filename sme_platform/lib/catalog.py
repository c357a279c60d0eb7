"""governance.catalog: every asset of the graph, with what an auditor or a new colleague asks
first: what it is (description, grain), who owns it, which of its columns are personal data and
how analysts see them, which checks guard it, how fresh it must be, where it comes from and
goes to, and when it was last built, with how many rows. One row per asset, replaced each run
(the history of builds is Dagster's). An asset without an owner, a description or a check is a
governance failure (`completeness`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from sme_platform.lib.governance import CheckOutcome
from sme_platform.lib.warehouse import insert_rows, transaction

CATALOG_TABLE = "governance.catalog"
GRAIN = re.compile(r"\bgrain:\s*(.+?)(?:\.(?:\s|$)|$)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class CatalogEntry:
    asset: str  # its key as a path, e.g. marts/sales_daily
    group_name: str | None
    description: str | None
    owners: list[str]
    pii: list[str] = field(default_factory=list)  # "column (mask)"
    checks: list[str] = field(default_factory=list)  # "name" or "name (blocking)"
    freshness: str | None = None
    upstream: list[str] = field(default_factory=list)
    downstream: list[str] = field(default_factory=list)
    last_materialized_at: datetime | None = None
    last_run_id: str | None = None
    row_count: int | None = None

    @property
    def grain(self) -> str | None:
        found = GRAIN.search(self.description or "")
        return " ".join(found.group(1).split()) if found else None

    def problems(self) -> list[str]:
        missing = [
            ("owner", not self.owners),
            ("description", not (self.description or "").strip()),
            ("check", not self.checks),
        ]
        return [f"no {what}" for what, lacking in missing if lacking]


COLUMNS = {
    "asset": "varchar not null primary key",
    "group_name": "varchar",
    "description": "varchar",
    "grain": "varchar",
    "owners": "varchar[]",
    "pii_columns": "varchar[]",
    "checks": "varchar[]",
    "freshness": "varchar",
    "upstream": "varchar[]",
    "downstream": "varchar[]",
    "last_materialized_at": "timestamp",
    "last_run_id": "varchar",
    "row_count": "bigint",
    "problems": "varchar[]",
    "run_id": "varchar",
    "cataloged_at": "timestamp",
}


def write_catalog(con: duckdb.DuckDBPyConnection, entries: list[CatalogEntry], run_id: str) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for entry in sorted(entries, key=lambda e: e.asset):
        rows.append(
            (
                entry.asset,
                entry.group_name,
                entry.description,
                entry.grain,
                entry.owners,
                entry.pii,
                entry.checks,
                entry.freshness,
                entry.upstream,
                entry.downstream,
                entry.last_materialized_at,
                entry.last_run_id,
                entry.row_count,
                entry.problems(),
                run_id,
                now,
            )
        )
    con.execute("create schema if not exists governance")
    with transaction(con):
        con.execute(f"drop table if exists {CATALOG_TABLE}")
        columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        con.execute(f"create table {CATALOG_TABLE} ({columns})")
        insert_rows(con, CATALOG_TABLE, list(COLUMNS), rows)


def completeness(entries: list[CatalogEntry]) -> CheckOutcome:
    lacking = {entry.asset: entry.problems() for entry in entries if entry.problems()}
    listed = "; ".join(
        f"{asset}: {', '.join(problems)}" for asset, problems in sorted(lacking.items())
    )
    return CheckOutcome(
        "catalog_complete",
        not lacking,
        "error",
        (
            f"{len(entries)} assets, each with an owner, a description and at least one check"
            if not lacking
            else f"{len(lacking)} of {len(entries)} assets lack what governance asks: {listed}"
        ),
        {"assets": len(entries), "incomplete": len(lacking), "incomplete_assets": sorted(lacking)},
    )
