"""Approvals: a named person signs off a challenger (required for a high-impact model before it
is released). The approval is kept on the registry row and in the audit log."""

from __future__ import annotations

import duckdb

from sme_platform.lib.audit.log import record_event
from sme_platform.lib.release.registry import (
    ModelVersion,
    RegistryError,
    ensure_registry,
    get_version,
    utc_now,
)
from sme_platform.lib.release.status import set_fields
from sme_platform.lib.warehouse import transaction


class ApprovalError(RegistryError):
    pass


def approve(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    version: str | int,
    *,
    by: str,
    note: str,
    run_id: str | None = None,
) -> ModelVersion:
    """Record `by`'s approval of a challenger, with `note` saying why; an `approved` event."""
    by, note = (by or "").strip(), (note or "").strip()
    ensure_registry(con)
    row = get_version(con, model_name, version)
    label = f"{model_name} {row.version}"
    if not by:
        raise ApprovalError(
            f"approval of {label}: name the person approving "
            "(--by NAME; `by` in the approve job's config)"
        )
    if not note:
        raise ApprovalError(
            f"approval of {label}: say why it is approved (--note TEXT; `note` in the job's config)"
        )
    if row.status != "challenger":
        raise ApprovalError(
            f"approval of {label}: only a challenger (a version that passed the gate) can be "
            f"approved; {row.version} is {row.status}"
        )
    if row.approved_by:
        raise ApprovalError(
            f"approval of {label}: already approved by {row.approved_by} at "
            f"{row.approved_at:%Y-%m-%d %H:%M} UTC ({row.approval_note})"
        )
    with transaction(con):
        set_fields(
            con,
            model_name,
            row.version,
            approved_by=by,
            approved_at=utc_now(),
            approval_note=note,
        )
        record_event(
            con,
            event="approved",
            model_name=model_name,
            model_version=row.version,
            actor=by,
            reason=note,
            details={"status": row.status, "high_impact": row.high_impact},
            run_id=run_id,
        )
    return get_version(con, model_name, row.version)
