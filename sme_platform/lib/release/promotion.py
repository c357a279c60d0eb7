"""What the gate's and the canary's decisions do to the registry: the status changes and the
audit events, so the release assets only decide and call these.

Gate (on a candidate, or on a challenger judged again, e.g. once approved):
- refused: archived, event gate_refused with the reasons;
- awaiting_approval: challenger, event gate_passed saying it waits for an approval;
- promote_to_champion (no champion yet): challenger, then champion (promoted);
- start_canary: challenger with its canary share, event canary_started.
Canary (on a challenger): promote -> champion (canary_promoted, the old champion archived);
roll_back -> rolled_back (canary_rolled_back); wait -> nothing.
"""

from __future__ import annotations

import duckdb

from sme_platform.lib.audit.log import record_event, run_actor
from sme_platform.lib.release.canary import CanaryDecision
from sme_platform.lib.release.gate import GateDecision
from sme_platform.lib.release.registry import ModelVersion, ensure_registry, get_version
from sme_platform.lib.release.status import change_status, set_fields, transition
from sme_platform.lib.warehouse import transaction


def apply_gate_decision(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    version: str,
    decision: GateDecision,
    *,
    run_id: str,
    canary_share: float,
) -> ModelVersion:
    ensure_registry(con)
    row = get_version(con, model_name, version)
    actor, reason = run_actor(run_id), "; ".join(decision.reasons)
    details = {"outcome": decision.outcome, "figures": decision.figures}
    with transaction(con):
        if decision.outcome == "refused":
            change_status(
                con,
                model_name,
                row.version,
                "archived",
                actor=actor,
                reason=reason,
                run_id=run_id,
                event="gate_refused",
                details=details,
            )
        elif row.status == "candidate":
            change_status(
                con,
                model_name,
                row.version,
                "challenger",
                actor=actor,
                reason=reason,
                run_id=run_id,
                event="gate_passed",
                details=details,
            )
        if decision.outcome == "promote_to_champion":
            change_status(
                con,
                model_name,
                row.version,
                "champion",
                actor=actor,
                reason="first model to pass the gate: champion without a canary",
                run_id=run_id,
                event="promoted",
                details=details,
            )
        elif decision.outcome == "start_canary":
            set_fields(con, model_name, row.version, canary_share=canary_share)
            record_event(
                con,
                event="canary_started",
                model_name=model_name,
                model_version=row.version,
                actor=actor,
                reason=f"canary on {canary_share:.0%} of the business after: {reason}",
                details={**details, "canary_share": canary_share},
                run_id=run_id,
            )
    return get_version(con, model_name, row.version)


def apply_canary_decision(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    version: str,
    decision: CanaryDecision,
    *,
    run_id: str,
) -> ModelVersion:
    if decision.outcome == "wait":
        return get_version(con, model_name, version)
    to, event = (
        ("champion", "canary_promoted")
        if decision.outcome == "promote"
        else ("rolled_back", "canary_rolled_back")
    )
    return transition(
        con,
        model_name,
        version,
        to,
        actor=run_actor(run_id),
        reason=decision.reason,
        run_id=run_id,
        event=event,
        details={"metric": decision.metric, "figures": decision.figures},
    )
