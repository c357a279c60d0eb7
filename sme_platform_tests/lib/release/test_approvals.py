"""Approvals: a named person, a note, a challenger; kept on the row and in the audit log."""

from __future__ import annotations

import pytest

from sme_platform.lib.audit.log import read_events
from sme_platform.lib.release.approvals import ApprovalError, approve
from sme_platform.lib.release.registry import UnknownModelVersionError, get_version
from sme_platform.lib.release.status import transition
from sme_platform_tests.lib.release.conftest import register


def challenger(con, models_dir):
    register(con, models_dir, high_impact=True)
    transition(con, "demand_forecast", "v1", "challenger", actor="run:r", reason="gate passed")


def test_a_named_person_approves_a_challenger(con, models_dir):
    challenger(con, models_dir)
    approved = approve(
        con,
        "demand_forecast",
        "v1",
        by=" Ana Ruiz ",
        note="checked the dairy segment",
        run_id="r9",
    )
    assert (approved.approved_by, approved.approval_note) == (
        "Ana Ruiz",
        "checked the dairy segment",
    )
    assert approved.approved_at is not None and approved.status == "challenger"
    event = read_events(con, "demand_forecast")[-1]
    assert (event.event, event.model_version, event.actor, event.reason, event.run_id) == (
        "approved",
        "v1",
        "Ana Ruiz",
        "checked the dairy segment",
        "r9",
    )
    with pytest.raises(ApprovalError, match=r"already approved by Ana Ruiz at .* UTC"):
        approve(con, "demand_forecast", "v1", by="Bo", note="again")


def test_an_approval_needs_a_name_a_note_and_a_challenger(con, models_dir):
    challenger(con, models_dir)
    register(con, models_dir)  # v2, a candidate
    with pytest.raises(
        ApprovalError,
        match=r"name the person approving \(--by NAME; `by` in the approve job's config\)",
    ):
        approve(con, "demand_forecast", "v1", by="  ", note="fine")
    with pytest.raises(ApprovalError, match=r"say why it is approved \(--note TEXT; `note` in"):
        approve(con, "demand_forecast", "v1", by="Ana", note="")
    with pytest.raises(ApprovalError, match=r"only a challenger .*; v2 is candidate"):
        approve(con, "demand_forecast", "v2", by="Ana", note="fine")
    with pytest.raises(UnknownModelVersionError, match="demand_forecast v3: no such version"):
        approve(con, "demand_forecast", "v3", by="Ana", note="fine")
    # A misspelt model name: the registry's models are listed.
    with pytest.raises(
        UnknownModelVersionError,
        match=r"registered versions of demand_forcast: none; models in the registry: "
        r"demand_forecast\)",
    ):
        approve(con, "demand_forcast", "V1", by="Ana", note="fine")
    assert get_version(con, "demand_forecast", "v1").approved_by is None
    assert [e.event for e in read_events(con)] == ["trained", "gate_passed", "trained"]
