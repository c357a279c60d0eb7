"""governance.audit_log: events appended in order, details kept as canonical JSON."""

from __future__ import annotations

import math

import pytest

from sme_platform.lib.audit.log import AuditError, read_events, record_event


def test_events_are_appended_in_order_and_read_back_per_model(con):
    assert read_events(con) == []  # before the first event: nothing, and nothing created
    first = record_event(
        con,
        event="trained",
        model_name="demand_forecast",
        model_version="v1",
        actor="run:abc",
        reason="trained",
        details={"b": 1, "a": [1.5, math.nan]},
        run_id="abc",
    )
    record_event(
        con,
        event="approved",
        model_name="ticket_router",
        model_version="v1",
        actor="  Ana Ruiz ",
        reason="reviewed the backtest",
    )
    record_event(
        con,
        event="rolled_back",
        model_name="demand_forecast",
        model_version="v1",
        actor="Ana Ruiz",
        reason="bad week",
    )
    events = read_events(con)
    assert [(e.event_id, e.event, e.model_name) for e in events] == [
        (1, "trained", "demand_forecast"),
        (2, "approved", "ticket_router"),
        (3, "rolled_back", "demand_forecast"),
    ]
    assert [e.event for e in read_events(con, "demand_forecast")] == ["trained", "rolled_back"]
    assert events[1].actor == "Ana Ruiz"
    assert first.details == {"a": [1.5, None], "b": 1}
    # stored with sorted keys, compact, NaN as null: what a hash chain can hash as it is
    (stored,) = con.execute(
        "select details::varchar from governance.audit_log where event_id = 1"
    ).fetchone()
    assert stored == '{"a":[1.5,null],"b":1}'


def test_an_unknown_event_or_a_missing_actor_is_refused(con):
    with pytest.raises(
        AuditError, match=r"audit event 'deployed' for model:demand_forecast v1: unknown"
    ):
        record_event(
            con,
            event="deployed",
            model_name="demand_forecast",
            model_version="v1",
            actor="x",
            reason="",
        )
    with pytest.raises(AuditError, match="no actor named"):
        record_event(
            con,
            event="approved",
            model_name="demand_forecast",
            model_version="v1",
            actor=" ",
            reason="",
        )
    assert read_events(con) == []
