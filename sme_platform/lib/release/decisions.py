"""Why a model version has its status: the audit log's decisions about it.

The registry holds a version's status; the audit log holds why. A refused candidate and a
replaced champion are both `archived`, and a reader of the registry alone cannot tell a version
the gate refused (it never served) from one that served and was replaced. `sme-platform models`
shows each version's latest decision beside its status, and one version's whole history.
"""

from __future__ import annotations

import duckdb

from sme_platform.lib.audit.log import AuditEvent, read_events

# The events that decide (or record) a version's status, and how a listing names them (short:
# the listing is a table in a log 120 columns wide).
DECISION_LABELS = {
    "trained": "not judged yet",
    "gate_passed": "gate passed",
    "gate_refused": "gate refused",
    "approved": "approved",
    "promoted": "promoted",
    "canary_started": "canary started",
    "canary_promoted": "canary passed",
    "canary_rolled_back": "canary failed",
    "rolled_back": "rolled back",
    "archived": "withdrawn",  # a canary replaced by another, or ended by a rollback
}


def version_history(
    con: duckdb.DuckDBPyConnection, model_name: str, version: str
) -> list[AuditEvent]:
    """Every audit event about this version (its decisions, the publications of its
    forecasts, the retrainings it triggered), oldest first."""
    return [event for event in read_events(con, model_name) if event.model_version == version]


def latest_decisions(
    con: duckdb.DuckDBPyConnection, model_name: str | None = None
) -> dict[tuple[str, str], AuditEvent]:
    """Per (model, version): the newest event of DECISION_LABELS about it."""
    latest: dict[tuple[str, str], AuditEvent] = {}
    for event in read_events(con, model_name):
        if _decides(event):
            latest[(event.model_name, event.model_version)] = event
    return latest


def newest_decision(history: list[AuditEvent]) -> AuditEvent | None:
    """The newest event of DECISION_LABELS in one version's history (oldest first)."""
    return next((event for event in reversed(history) if _decides(event)), None)


def _decides(event: AuditEvent) -> bool:
    return event.event in DECISION_LABELS and bool(event.model_name and event.model_version)


def decision_label(event: AuditEvent | None) -> str:
    """'gate refused', 'replaced by v3', ... (empty without an event: a version registered
    before the audit log was kept)."""
    if event is None:
        return ""
    replaced_by = event.details.get("replaced_by") if event.event == "archived" else None
    return f"replaced by {replaced_by}" if replaced_by else DECISION_LABELS[event.event]
