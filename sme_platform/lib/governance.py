"""The governance schema: every check result of every run, queryable next to the data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb


@dataclass(frozen=True)
class CheckOutcome:
    """One check's result, as every stage reports it (contracts, SQL tests, GX, publishing)."""

    name: str
    passed: bool
    severity: str  # error | warn: how bad a failure is
    description: str
    metadata: dict = field(default_factory=dict)  # the observed values


@dataclass(frozen=True)
class CheckRecord:
    asset: str  # the asset key as a path, e.g. marts/sales_daily
    check: str
    passed: bool
    severity: str  # error | warn
    observed: dict
    description: str = ""


def ensure_check_results(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists governance")
    con.execute(
        """create table if not exists governance.check_results (
            asset varchar, check_name varchar, passed boolean, severity varchar,
            observed json, description varchar, run_id varchar, checked_at timestamp
        )"""
    )


def record_check_results(
    con: duckdb.DuckDBPyConnection, records: list[CheckRecord], run_id: str
) -> None:
    """Append one row per check. Called by every stage that evaluates checks, in the run."""
    ensure_check_results(con)
    if not records:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    con.executemany(
        "insert into governance.check_results values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                r.asset,
                r.check,
                r.passed,
                r.severity,
                json.dumps(r.observed, default=str),
                r.description,
                run_id,
                now,
            )
            for r in records
        ],
    )
