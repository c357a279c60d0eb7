"""The promotion gate as a check result: why it passed or refused, with the figures."""

from __future__ import annotations

from sme_platform.lib.governance import CheckOutcome
from sme_platform.lib.release.flow import ReleaseOutcome
from sme_platform.lib.release.registry import ModelVersion


def gate_outcome(released: ReleaseOutcome, serving: ModelVersion | None) -> CheckOutcome:
    """Passed when the candidate became champion or started its canary. A refusal (or a wait
    for approval) fails as a warning: a refused model is a normal night, not a broken run, and
    what follows must still run (the champion's forecasts, or, before any champion, the
    forecast asset saying there is none, and the analyst database). The check is blocking all
    the same: the forecasts wait for the decision, and an error (the gate could not judge)
    would stop them."""
    decision = released.decision
    version = released.candidate.version if released.candidate else "?"
    if decision is None:  # judged in an earlier run
        status = released.candidate.status if released.candidate else "unknown"
        return CheckOutcome(
            "promotion_gate",
            status in ("champion", "challenger"),
            "warn",
            "; ".join(released.notes),
            {"candidate": version, "status": status},
        )
    serving_text = f"champion {serving.version} serves" if serving else "no champion serves"
    return CheckOutcome(
        "promotion_gate",
        decision.passed,
        "warn",
        f"{version}: {decision.outcome.replace('_', ' ')}; {serving_text}. "
        + "; ".join(decision.reasons),
        {
            "candidate": version,
            "outcome": decision.outcome,
            "reasons": decision.reasons,
            "figures": decision.figures,
            "champion": serving.version if serving else None,
        },
    )
