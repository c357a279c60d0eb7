"""governance.audit_log: one row per event an auditor may ask about, append-only and
hash-chained.

What is recorded: the release decisions (retraining triggered, trained, gate passed or refused,
approved, promoted, canary started, promoted or rolled back, rolled back, archived), and what
every run did to the data (files loaded, rejected, rows quarantined, checks failed, snapshots and
forecasts published), each with who or what did it (a person's name, or "run:<run_id>"), why,
and its subject ("model:demand_forecast", "source:sales_lines", "asset:marts/sales_daily").

Tamper-evident: each entry stores the sha256 of its canonical content (chain.entry_hash) and the
hash of the entry before it, so an entry edited, deleted or inserted inside the DuckDB file
breaks the chain (chain.verify_chain names the first). The chain's head is also written to
Dagster's event log at the end of each run (defs/governance/audit.py), so a log rewritten
whole, hashes and all, disagrees with the heads recorded there.

The log holds no personal data, on purpose: it cannot be edited, so an erasure could not reach
it. Details name files, rules, checks and counts, never a row's values (redact_values).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from sme_platform.lib.audit import chain
from sme_platform.lib.audit.chain import GENESIS, ChainEntry, entry_hash
from sme_platform.lib.warehouse import table_exists, transaction

AUDIT_TABLE = "governance.audit_log"
MODEL_EVENTS = frozenset(
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
DATA_EVENTS = frozenset(
    {
        "files_loaded",
        "file_rejected",
        "rows_quarantined",
        "check_failed",
        "published",
        "erased",
        "purged",
        "chain_started",
    }
)
AUDIT_EVENTS = MODEL_EVENTS | DATA_EVENTS
COLUMNS = [
    "event_id",
    "occurred_at",
    "event",
    "subject",
    "model_name",
    "model_version",
    "actor",
    "reason",
    "details",
    "run_id",
    "previous_hash",
    "entry_hash",
]
# A quoted value in an error message (DuckDB's "Could not convert string 'x' to INT64"): the
# rows' values stay out of the log.
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


class AuditError(ValueError):
    """An event that cannot be recorded as given (unknown event, no actor, unserializable), or
    a log in the layout from before the hash chain, outside a run's start (migrate_audit_log)."""


@dataclass(frozen=True)
class AuditEvent:
    event_id: int
    occurred_at: datetime  # UTC, naive (DuckDB TIMESTAMP)
    event: str
    model_name: str | None  # for a model's events
    model_version: str | None
    actor: str  # a person's name, or "run:<run_id>" for a decision a run made
    reason: str
    details: dict[str, Any]
    run_id: str | None
    subject: str = ""


def run_actor(run_id: str) -> str:
    """The actor of a decision a run made (a gate, a canary), as the log names it."""
    return f"run:{run_id}"


def canonical_json(value: Any) -> str:
    """The one serialization of details (and the registry's documents): sorted keys, compact,
    NaN and infinity as null."""
    return chain.canonical_json(_finite(value))


def redact_values(message: str) -> str:
    """`message` with its quoted values replaced by '…': what a rule or reader said, not what
    the row held."""
    return QUOTED.sub("'…'", message)


def ensure_audit_log(con: duckdb.DuckDBPyConnection) -> None:
    """Create the log if absent. A log from before the chain is refused here: it is migrated
    once, in its own transaction, when a run starts (migrate_audit_log)."""
    con.execute("create schema if not exists governance")
    if table_exists(con, "governance", "audit_log") and not _chained(con):
        raise AuditError(
            f"{AUDIT_TABLE} has the layout from before the hash chain; it is migrated when a "
            "run starts (sme-platform run, or any job from the UI)"
        )
    _create(con, AUDIT_TABLE)


def migrate_audit_log(con: duckdb.DuckDBPyConnection) -> int | None:
    """Bring a log from before the hash chain into it: every entry kept as it is, with a
    subject ("model:<name>") and hashed in order, and a `chain_started` entry saying how many
    were hashed after the fact. One transaction; the number of entries hashed, or None when
    there was nothing to migrate. Call outside any transaction."""
    if not table_exists(con, "governance", "audit_log") or _chained(con):
        return None
    old = con.execute(
        f"""select event_id, occurred_at, event, 'model:' || model_name, model_name,
                   model_version, actor, reason, details::varchar, run_id
            from {AUDIT_TABLE} order by event_id"""
    ).fetchall()
    with transaction(con):
        _create(con, "governance._audit_log_chained")
        previous = GENESIS
        for row in old:
            entry = ChainEntry(*row[:8], json.loads(row[8]), row[9], previous)
            previous = _insert(con, "governance._audit_log_chained", entry)
        con.execute(f"drop table {AUDIT_TABLE}")
        con.execute("alter table governance._audit_log_chained rename to audit_log")
        record_event(
            con,
            event="chain_started",
            subject="governance:audit_log",
            actor="platform",
            reason=f"entries 1 to {len(old)} were recorded before the hash chain and hashed "
            "when it started: the chain vouches for them from this entry on",
            details={"entries_hashed": len(old)},
        )
    return len(old)


def record_event(
    con: duckdb.DuckDBPyConnection,
    *,
    event: str,
    actor: str,
    reason: str,
    model_name: str | None = None,
    model_version: str | None = None,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> AuditEvent:
    """Append one event, chained to the last. Runs inside the caller's transaction when there
    is one, so a status change (or a load) and its event are committed together. `subject`
    defaults to "model:<model_name>"."""
    subject = subject or (f"model:{model_name}" if model_name else None)
    named = f"{subject} {model_version}" if model_version else str(subject)
    if event not in AUDIT_EVENTS:
        raise AuditError(
            f"audit event {event!r} for {named}: unknown; "
            f"expected one of {', '.join(sorted(AUDIT_EVENTS))}"
        )
    if subject is None:
        raise AuditError(f"audit event {event}: no subject (model_name or subject) named")
    if not actor or not actor.strip():
        raise AuditError(f"audit event {event} for {named}: no actor named")
    try:
        details_json = canonical_json(details or {})
    except (TypeError, ValueError) as error:
        raise AuditError(
            f"audit event {event} for {named}: details are not JSON: {error}"
        ) from error
    ensure_audit_log(con)
    # One writer at a time (the warehouse lock), so the next id cannot be taken twice.
    last = con.execute(
        f"select event_id, entry_hash from {AUDIT_TABLE} order by event_id desc limit 1"
    ).fetchone()
    event_id, previous = (last[0] + 1, last[1]) if last else (1, GENESIS)
    entry = ChainEntry(
        event_id,
        datetime.now(UTC).replace(tzinfo=None),
        event,
        subject,
        model_name,
        model_version,
        actor.strip(),
        reason,
        json.loads(details_json),
        run_id,
        previous,
    )
    _insert(con, AUDIT_TABLE, entry)
    return AuditEvent(
        entry.event_id,
        entry.occurred_at,
        event,
        model_name,
        model_version,
        entry.actor,
        reason,
        entry.details,
        run_id,
        subject,
    )


def read_events(
    con: duckdb.DuckDBPyConnection, model_name: str | None = None, *, subject: str | None = None
) -> list[AuditEvent]:
    """Every event (of one model, or one subject), oldest first; none before the first is
    recorded (read-only connections can call it: it creates nothing)."""
    if not table_exists(con, "governance", "audit_log"):
        return []
    subject_column = "subject" if _chained(con) else "'model:' || model_name"
    rows = con.execute(
        f"""select event_id, occurred_at, event, model_name, model_version, actor, reason,
                   details, run_id, {subject_column}
            from {AUDIT_TABLE}
            where (? is null or model_name = ?) and (? is null or {subject_column} = ?)
            order by event_id""",
        [model_name, model_name, subject, subject],
    ).fetchall()
    return [AuditEvent(*row[:7], json.loads(row[7]), row[8], row[9]) for row in rows]


def read_chain(con: duckdb.DuckDBPyConnection) -> list[ChainEntry]:
    """The log as stored, oldest first, to verify (empty before the first entry)."""
    if not table_exists(con, "governance", "audit_log") or not _chained(con):
        return []
    rows = con.execute(
        f"""select event_id, occurred_at, event, subject, model_name, model_version, actor,
                   reason, details::varchar, run_id, previous_hash, entry_hash
            from {AUDIT_TABLE} order by event_id"""
    ).fetchall()
    return [ChainEntry(*row[:8], json.loads(row[8]), *row[9:]) for row in rows]


def chain_head(con: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
    """The last entry's id and hash, or None before the first (or before the chain)."""
    if not table_exists(con, "governance", "audit_log") or not _chained(con):
        return None
    return con.execute(
        f"select event_id, entry_hash from {AUDIT_TABLE} order by event_id desc limit 1"
    ).fetchone()


def _create(con: duckdb.DuckDBPyConnection, table: str) -> None:
    con.execute(
        f"""create table if not exists {table} (
            event_id bigint not null primary key,
            occurred_at timestamp not null,
            event varchar not null,
            subject varchar not null,
            model_name varchar,
            model_version varchar,
            actor varchar not null,
            reason varchar not null,
            details json not null,
            run_id varchar,
            previous_hash varchar not null,
            entry_hash varchar not null
        )"""
    )


def _insert(con: duckdb.DuckDBPyConnection, table: str, entry: ChainEntry) -> str:
    """Store `entry` with its hash; the hash."""
    digest = entry_hash(entry)
    values = [*entry.content_values(), digest]
    values[COLUMNS.index("details")] = canonical_json(entry.details)
    con.execute(f"insert into {table} values ({', '.join('?' * len(COLUMNS))})", values)
    return digest


def _chained(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_columns() where database_name = current_database() "
            "and schema_name = 'governance' and table_name = 'audit_log' "
            "and column_name = 'entry_hash'"
        ).fetchone()[0]
    )


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
