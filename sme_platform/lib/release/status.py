"""The status machine of model versions: which status may follow which, and every change of
status written with its audit event in the same transaction.

candidate (just trained) -> challenger (passed the gate) -> champion (serves forecasts) ->
archived (replaced), or rolled_back (taken out of service as worse); an archived former champion
comes back only by a rollback (rollback.py). Other columns a decision sets (approval, canary
share) are changed here too, next to the event saying why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from sme_platform.lib.audit.log import record_event
from sme_platform.lib.release.registry import (
    REGISTRY_TABLE,
    STATUSES,
    ModelVersion,
    RegistryError,
    champion,
    ensure_registry,
    get_version,
    utc_now,
)
from sme_platform.lib.warehouse import transaction

# Which status may follow which. A champion is archived when another replaces it; an archived
# former champion can become champion again only by a rollback reinstating it (rollback.py).
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    "candidate": frozenset({"challenger", "archived"}),
    "challenger": frozenset({"champion", "archived", "rolled_back"}),
    "champion": frozenset({"archived", "rolled_back"}),
    "archived": frozenset({"champion"}),
    "rolled_back": frozenset(),
}
# The audit event a change of status writes unless the caller names a more precise one
# (gate_refused, canary_started, canary_promoted, canary_rolled_back).
DEFAULT_EVENTS = {
    "challenger": "gate_passed",
    "champion": "promoted",
    "archived": "archived",
    "rolled_back": "rolled_back",
}


class IllegalTransitionError(RegistryError):
    def __init__(self, model_name: str, version: str, current: str, requested: str):
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[current])) or "none (final status)"
        super().__init__(
            f"{model_name} {version}: cannot change status from {current} to {requested} "
            f"(from {current} the allowed statuses are: {allowed})"
        )
        self.model_name, self.version = model_name, version
        self.current, self.requested = current, requested


def transition(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    version: str | int,
    to: str,
    *,
    actor: str,
    reason: str,
    run_id: str | None = None,
    event: str | None = None,
    details: dict[str, Any] | None = None,
) -> ModelVersion:
    """Change a version's status and write its audit event, in one transaction. A version
    becoming champion archives the current champion (an `archived` event of its own) and
    records it as its previous champion."""
    ensure_registry(con)
    with transaction(con):
        change_status(
            con,
            model_name,
            version,
            to,
            actor=actor,
            reason=reason,
            run_id=run_id,
            event=event,
            details=details,
        )
    return get_version(con, model_name, version)


def change_status(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    version: str | int,
    to: str,
    *,
    actor: str,
    reason: str,
    run_id: str | None,
    event: str | None = None,
    details: dict[str, Any] | None = None,
    reinstate: bool = False,
) -> None:
    """`transition` inside the caller's transaction (rollback.py moves two versions in one).
    `reinstate`: the version comes back as champion by a rollback, so it keeps the previous
    champion it had and the current champion is not archived (the rollback moves it)."""
    if to not in STATUSES:
        raise RegistryError(
            f"{model_name} {version}: unknown status {to!r} (one of {', '.join(STATUSES)})"
        )
    row = get_version(con, model_name, version)
    if to not in ALLOWED_TRANSITIONS[row.status]:
        raise IllegalTransitionError(model_name, row.version, row.status, to)
    if row.status == "archived" and to == "champion" and not reinstate:
        raise RegistryError(
            f"{model_name} {row.version}: an archived version becomes champion again only by a "
            f"rollback (sme-platform rollback {model_name} --to {row.version})"
        )
    now = utc_now()
    previous_champion = row.previous_champion_version
    if to == "champion" and not reinstate:
        current = champion(con, model_name)
        if current is not None:
            _set_status(con, current, "archived", now)
            record_event(
                con,
                event="archived",
                model_name=model_name,
                model_version=current.version,
                actor=actor,
                reason=f"replaced as champion by {row.version}",
                details={"from": "champion", "to": "archived", "replaced_by": row.version},
                run_id=run_id,
            )
            previous_champion = current.version
    con.execute(
        f"""update {REGISTRY_TABLE} set status = ?, status_changed_at = ?,
               previous_champion_version = ?
            where model_name = ? and version = ?""",
        [to, now, previous_champion, model_name, row.version],
    )
    record_event(
        con,
        event=event or DEFAULT_EVENTS[to],
        model_name=model_name,
        model_version=row.version,
        actor=actor,
        reason=reason,
        details={"from": row.status, "to": to, **(details or {})},
        run_id=run_id,
    )


def _set_status(con: duckdb.DuckDBPyConnection, row: ModelVersion, to: str, now: datetime) -> None:
    if to not in ALLOWED_TRANSITIONS[row.status]:
        raise IllegalTransitionError(row.model_name, row.version, row.status, to)
    con.execute(
        f"update {REGISTRY_TABLE} set status = ?, status_changed_at = ? "
        "where model_name = ? and version = ?",
        [to, now, row.model_name, row.version],
    )


def set_fields(
    con: duckdb.DuckDBPyConnection, model_name: str, version: str, **values: Any
) -> None:
    """Update columns of a version that are not its status (approval, canary share): inside
    the caller's transaction, next to the audit event saying why."""
    unknown = set(values) - {"approved_by", "approved_at", "approval_note", "canary_share"}
    if unknown:
        raise RegistryError(f"{model_name} {version}: {sorted(unknown)} are not settable here")
    assignments = ", ".join(f"{name} = ?" for name in values)
    con.execute(
        f"update {REGISTRY_TABLE} set {assignments} where model_name = ? and version = ?",
        [*values.values(), model_name, version],
    )
