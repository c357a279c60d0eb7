"""Decisions applied to the registry, end to end through the library: a first model promoted,
a challenger's canary promoted, another refused, a high-impact one approved, a canary rolled
back, then a manual rollback; the audit log tells the whole story."""

from __future__ import annotations

from sme_platform.lib.audit.log import read_events
from sme_platform.lib.release.approvals import approve
from sme_platform.lib.release.canary import compare
from sme_platform.lib.release.gate import GateConfig, decide
from sme_platform.lib.release.promotion import apply_canary_decision, apply_gate_decision
from sme_platform.lib.release.registry import champion, get_version, list_versions
from sme_platform.lib.release.rollback import rollback
from sme_platform_tests.lib.release.conftest import register
from sme_platform_tests.lib.release.test_canary import forecasts
from sme_platform_tests.lib.release.test_gate import challenger, references

NAME = "demand_forecast"


def gate(con, version, *, cost, config=GateConfig(), run_id):
    current = champion(con, NAME)
    row = get_version(con, NAME, version)
    decision = decide(
        challenger(cost=cost),
        references(champion=1100.0 if current else None),
        config,
        has_champion=current is not None,
        approved=row.approved_by is not None,
    )
    return apply_gate_decision(
        con, NAME, version, decision, run_id=run_id, canary_share=config.canary_share
    )


def test_a_models_life_in_the_registry_and_the_audit_log(con, models_dir):
    v1 = register(con, models_dir, run_id="r1").version
    assert gate(con, v1, cost=1000.0, run_id="r1").status == "champion"

    v2 = register(con, models_dir, run_id="r2").version
    started = gate(con, v2, cost=1000.0, run_id="r2")
    assert (started.status, started.canary_share) == ("challenger", 0.2)
    won = compare(forecasts(7, 11.0), forecasts(7, 11.0), GateConfig())
    assert apply_canary_decision(con, NAME, v2, won, run_id="r3").status == "champion"
    assert get_version(con, NAME, v1).status == "archived"

    v3 = register(con, models_dir, run_id="r4").version
    assert gate(con, v3, cost=1300.0, run_id="r4").status == "archived"  # refused

    high = GateConfig(high_impact=True)
    v4 = register(con, models_dir, run_id="r5", high_impact=True).version
    assert gate(con, v4, cost=1000.0, config=high, run_id="r5").status == "challenger"
    approve(con, NAME, v4, by="Ana Ruiz", note="reviewed the segments")
    assert gate(con, v4, cost=1000.0, config=high, run_id="r6").canary_share == 0.2
    waiting = compare(forecasts(3, 12.0), forecasts(3, 11.0), GateConfig())
    assert apply_canary_decision(con, NAME, v4, waiting, run_id="r7").status == "challenger"
    lost = compare(forecasts(7, 12.0), forecasts(7, 11.0), GateConfig())
    assert apply_canary_decision(con, NAME, v4, lost, run_id="r8").status == "rolled_back"
    assert champion(con, NAME).version == v2

    rollback(con, NAME, by="Bo Chen", reason="v2 over-orders dairy", run_id="r9")
    assert {v.version: v.status for v in list_versions(con, NAME)} == {
        "v1": "champion",
        "v2": "rolled_back",
        "v3": "archived",
        "v4": "rolled_back",
    }
    story = [
        (e.event, e.model_version, e.actor) for e in read_events(con, NAME) if e.event != "trained"
    ]
    assert story == [
        ("gate_passed", "v1", "run:r1"),
        ("promoted", "v1", "run:r1"),
        ("gate_passed", "v2", "run:r2"),
        ("canary_started", "v2", "run:r2"),
        ("archived", "v1", "run:r3"),
        ("canary_promoted", "v2", "run:r3"),
        ("gate_refused", "v3", "run:r4"),
        ("gate_passed", "v4", "run:r5"),
        ("approved", "v4", "Ana Ruiz"),
        ("canary_started", "v4", "run:r6"),
        ("canary_rolled_back", "v4", "run:r8"),
        ("rolled_back", "v2", "Bo Chen"),
        ("promoted", "v1", "Bo Chen"),
    ]
    refused = next(e for e in read_events(con, NAME) if e.event == "gate_refused")
    assert refused.reason.startswith("business cost 1,300.0 is not 2 % below the champion's")
    assert refused.details["figures"]["challenger"]["business_cost"] == 1300.0
    awaiting = [e for e in read_events(con, NAME) if e.event == "gate_passed"][-1]
    assert "no approval is recorded: it stays challenger" in awaiting.reason
