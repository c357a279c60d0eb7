"""The governance schema: every check result of every run, queryable next to the data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from sme_platform.lib.audit.log import record_event, redact_values, run_actor
from sme_platform.lib.warehouse import insert_rows

# Who owns an asset whose stage names no other owner: the data team.
DEFAULT_OWNER = "team:data"


@dataclass(frozen=True)
class CheckOutcome:
    """One check's result, as every stage reports it (contracts, SQL tests, GX, publishing)."""

    name: str
    passed: bool
    severity: str  # error | warn: how bad a failure is
    description: str
    metadata: dict = field(default_factory=dict)  # the observed values


def ensure_check_results(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists governance")
    con.execute(
        """create table if not exists governance.check_results (
            asset varchar, check_name varchar, passed boolean, severity varchar,
            observed json, description varchar, run_id varchar, checked_at timestamp
        )"""
    )


CHECK_RESULT_COLUMNS = [
    "asset",
    "check_name",
    "passed",
    "severity",
    "observed",
    "description",
    "run_id",
    "checked_at",
]


def record_check_results(
    con: duckdb.DuckDBPyConnection, asset: str, outcomes: list[CheckOutcome], run_id: str
) -> None:
    """Append one row per check of `asset` (its key as a path, e.g. marts/sales_daily). Called
    by every stage that evaluates checks, in the run."""
    ensure_check_results(con)
    now = datetime.now(UTC).replace(tzinfo=None)
    insert_rows(
        con,
        "governance.check_results",
        CHECK_RESULT_COLUMNS,
        [
            (
                asset,
                o.name,
                o.passed,
                o.severity,
                json.dumps(o.metadata, default=str),
                o.description,
                run_id,
                now,
            )
            for o in outcomes
        ],
    )
    for outcome in outcomes:
        if not outcome.passed:
            audit_check_failure(con, asset, outcome, run_id)


def audit_check_failure(
    con: duckdb.DuckDBPyConnection, asset: str, outcome: CheckOutcome, run_id: str
) -> None:
    """A failed check in the audit log: its name, severity, what it said (quoted values
    redacted) and its numeric observations, never sample rows."""
    counts = {
        key: value
        for key, value in outcome.metadata.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    record_event(
        con,
        event="check_failed",
        subject=f"asset:{asset}",
        actor=run_actor(run_id),
        reason=redact_values(outcome.description)[:500],
        details={"check": outcome.name, "severity": outcome.severity, "observed": counts},
        run_id=run_id,
    )


def record_model_skip(
    con: duckdb.DuckDBPyConnection, model: str, reason: str | None, run_id: str
) -> None:
    """Keep governance.skipped_models to the models whose published version was built empty for
    want of a source (`reason`), so the summary and the catalog can say why they are empty;
    a model built from data (`reason` None) leaves the list."""
    con.execute("create schema if not exists governance")
    con.execute(
        """create table if not exists governance.skipped_models (
            model varchar, reason varchar, run_id varchar, skipped_at timestamp
        )"""
    )
    con.execute("delete from governance.skipped_models where model = ?", [model])
    if reason:
        con.execute(
            "insert into governance.skipped_models values (?, ?, ?, ?)",
            [model, reason, run_id, datetime.now(UTC).replace(tzinfo=None)],
        )
