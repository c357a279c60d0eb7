"""governance.audit_log: one row per release decision (retraining triggered, trained, gate passed
or refused, approved, promoted, canary started, promoted or rolled back, rolled back, archived),
who or what made it, and why.

Append-only: the platform inserts rows and never updates or deletes them. Each row's content is
kept canonical-JSON-friendly (details serialized with sorted keys, no NaN, timestamps in UTC to
the microsecond) so that a later hash chain can hash every row exactly as stored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from sme_platform.lib.warehouse import table_exists

AUDIT_TABLE = "governance.audit_log"
AUDIT_EVENTS = frozenset(
    {
        "trained",
        "gate_passed",
        "gate_refused",
        "approved",
        "promoted",
        "canary_started",
        "canary_promoted",
        "canary_rolled_back",
        "rolled_back",
        "archived",
        "retraining_triggered",
    }
)


class AuditError(ValueError):
    """An event that cannot be recorded as given (unknown event, no actor, unserializable)."""


@dataclass(frozen=True)
class AuditEvent:
    event_id: int
    occurred_at: datetime  # UTC, naive (DuckDB TIMESTAMP)
    event: str
    model_name: str
    model_version: str | None
    actor: str  # a person's name, or "run:<run_id>" for a decision a run made
    reason: str
    details: dict[str, Any]
    run_id: str | None


def ensure_audit_log(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists governance")
    con.execute(
        f"""create table if not exists {AUDIT_TABLE} (
            event_id bigint not null primary key,
            occurred_at timestamp not null,
            event varchar not null,
            model_name varchar not null,
            model_version varchar,
            actor varchar not null,
            reason varchar not null,
            details json not null,
            run_id varchar
        )"""
    )


def run_actor(run_id: str) -> str:
    """The actor of a decision a run made (a gate, a canary), as the log names it."""
    return f"run:{run_id}"


def canonical_json(value: Any) -> str:
    """The one serialization of details: sorted keys, compact, no NaN or infinity (JSON has
    none, and a hash of the row must not depend on how a reader prints them)."""
    return json.dumps(
        _finite(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def record_event(
    con: duckdb.DuckDBPyConnection,
    *,
    event: str,
    model_name: str,
    model_version: str | None,
    actor: str,
    reason: str,
    details: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> AuditEvent:
    """Append one event. Runs inside the caller's transaction when there is one, so a status
    change and its event are committed together."""
    if event not in AUDIT_EVENTS:
        raise AuditError(
            f"audit event {event!r} for {model_name} {model_version}: unknown; "
            f"expected one of {', '.join(sorted(AUDIT_EVENTS))}"
        )
    if not actor or not actor.strip():
        raise AuditError(f"audit event {event} for {model_name} {model_version}: no actor named")
    try:
        details_json = canonical_json(details or {})
    except (TypeError, ValueError) as error:
        raise AuditError(
            f"audit event {event} for {model_name} {model_version}: details are not JSON: {error}"
        ) from error
    ensure_audit_log(con)
    occurred_at = datetime.now(UTC).replace(tzinfo=None)
    # One writer at a time (the warehouse lock), so the next id cannot be taken twice.
    (event_id,) = con.execute(
        f"select coalesce(max(event_id), 0) + 1 from {AUDIT_TABLE}"
    ).fetchone()
    con.execute(
        f"insert into {AUDIT_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            event_id,
            occurred_at,
            event,
            model_name,
            model_version,
            actor.strip(),
            reason,
            details_json,
            run_id,
        ],
    )
    return AuditEvent(
        event_id,
        occurred_at,
        event,
        model_name,
        model_version,
        actor.strip(),
        reason,
        json.loads(details_json),
        run_id,
    )


def read_events(con: duckdb.DuckDBPyConnection, model_name: str | None = None) -> list[AuditEvent]:
    """Every event (of one model), oldest first; none before the first is recorded (read-only
    connections can call it: it creates nothing)."""
    if not table_exists(con, "governance", "audit_log"):
        return []
    rows = con.execute(
        f"""select event_id, occurred_at, event, model_name, model_version, actor, reason,
                   details, run_id
            from {AUDIT_TABLE} where ? is null or model_name = ? order by event_id""",
        [model_name, model_name],
    ).fetchall()
    return [
        AuditEvent(
            row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]), row[8]
        )
        for row in rows
    ]


def _finite(value: Any) -> Any:
    """NaN and infinity become None: a metric that could not be computed, said as JSON can."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
