"""Rollback: the previous (or a named former) champion reinstated, both moves audited."""

from __future__ import annotations

import pytest

from sme_platform.lib.audit.log import read_events
from sme_platform.lib.release.registry import (
    UnknownModelVersionError,
    champion,
    get_version,
    list_versions,
)
from sme_platform.lib.release.rollback import RollbackError, rollback
from sme_platform.lib.release.status import transition
from sme_platform_tests.lib.release.conftest import register

NAME = "demand_forecast"


def promote(con, models_dir):
    version = register(con, models_dir).version
    transition(con, NAME, version, "challenger", actor="run:r", reason="gate")
    transition(con, NAME, version, "champion", actor="run:r", reason="gate")
    return version


def statuses(con):
    return {v.version: v.status for v in list_versions(con, NAME)}


def test_the_previous_champion_is_reinstated_and_both_moves_are_audited(con, models_dir):
    for _ in range(3):
        promote(con, models_dir)
    assert statuses(con) == {"v1": "archived", "v2": "archived", "v3": "champion"}
    result = rollback(con, NAME, by="Ana Ruiz", reason="orders doubled on Monday", run_id="r7")
    assert (result.rolled_back, result.reinstated) == ("v3", "v2")
    assert result.ended_canary is None  # none was running
    assert statuses(con) == {"v1": "archived", "v2": "champion", "v3": "rolled_back"}
    events = [e for e in read_events(con, NAME) if e.run_id == "r7"]
    assert [(e.event, e.model_version, e.actor, e.reason) for e in events] == [
        ("rolled_back", "v3", "Ana Ruiz", "orders doubled on Monday"),
        (
            "promoted",
            "v2",
            "Ana Ruiz",
            "reinstated by the rollback of v3: orders doubled on Monday",
        ),
    ]
    # v2 keeps the champion it had replaced: a second rollback goes one further back
    assert get_version(con, NAME, "v2").previous_champion_version == "v1"
    again = rollback(con, NAME, by="Ana Ruiz", reason="v2 too")
    assert (again.rolled_back, again.reinstated) == ("v2", "v1")
    with pytest.raises(RollbackError, match="nothing to roll back to; champion v1 replaced no"):
        rollback(con, NAME, by="Ana Ruiz", reason="v1 too")


def test_rollback_to_a_named_former_champion(con, models_dir):
    for _ in range(3):
        promote(con, models_dir)
    result = rollback(con, NAME, to_version="1", by="Ana", reason="v1 was the last good one")
    assert (result.rolled_back, result.reinstated) == ("v3", "v1")
    assert champion(con, NAME).version == "v1"
    assert statuses(con)["v2"] == "archived"


def test_rollback_refusals_are_clear(con, models_dir):
    with pytest.raises(
        RollbackError, match="there is no champion \\(no versions; the registry is empty\\)"
    ):
        rollback(con, NAME, by="Ana", reason="x")
    promote(con, models_dir)
    with pytest.raises(RollbackError, match="no versions; models in the registry: demand_fore"):
        rollback(con, "demand_forcast", by="Ana", reason="x")
    # The only champion ever: nothing to name, and the refusal says so (an empty to_version, as
    # a Launchpad field left blank, asks for the previous champion).
    for to_version in (None, "", "  "):
        with pytest.raises(RollbackError, match="no other version ever served, so there is none"):
            rollback(con, NAME, to_version=to_version, by="Ana", reason="x")
    refused = register(con, models_dir).version  # v2: refused by the gate, never served
    transition(con, NAME, refused, "archived", actor="run:r", reason="x", event="gate_refused")
    promote(con, models_dir)  # v3
    with pytest.raises(RollbackError, match="v2 is an archived version that never served"):
        rollback(con, NAME, to_version="v2", by="Ana", reason="x")
    with pytest.raises(RollbackError, match="v3 is the champion already"):
        rollback(con, NAME, to_version="v3", by="Ana", reason="x")
    with pytest.raises(UnknownModelVersionError, match=r"v9: no such version .*: v1, v2, v3"):
        rollback(con, NAME, to_version="v9", by="Ana", reason="x")
    with pytest.raises(
        RollbackError,
        match=r"name the person rolling back \(--by NAME; `by` in the rollback job's config\)",
    ):
        rollback(con, NAME, by="", reason="x")
    with pytest.raises(
        RollbackError, match=r"say why \(--reason TEXT; `reason` in the job's config\)"
    ):
        rollback(con, NAME, by="Ana", reason=" ")
    assert statuses(con) == {"v1": "archived", "v2": "archived", "v3": "champion"}


def test_a_rollback_ends_a_running_canary(con, models_dir):
    """A rollback returns every series to a champion that served before: a canary started
    against the champion being rolled back does not go on scoring its share."""
    from sme_platform.lib.release.status import set_fields

    promote(con, models_dir)
    promote(con, models_dir)
    canary = register(con, models_dir).version
    transition(con, NAME, canary, "challenger", actor="run:r", reason="gate")
    set_fields(con, NAME, canary, canary_share=0.2)
    result = rollback(con, NAME, by="Ana Ruiz", reason="stock-outs doubled", run_id="r9")
    assert (result.rolled_back, result.reinstated, result.ended_canary) == ("v2", "v1", "v3")
    assert statuses(con) == {"v1": "champion", "v2": "rolled_back", "v3": "archived"}
    (ended,) = [e for e in read_events(con, NAME) if e.run_id == "r9" and e.model_version == "v3"]
    assert ended.actor == "Ana Ruiz"
    assert ended.reason == "its canary ended with the rollback of v2: stock-outs doubled"


def test_with_no_previous_champion_the_former_champions_are_named(con, models_dir):
    for _ in range(3):
        promote(con, models_dir)
    rollback(con, NAME, to_version="v1", by="Ana", reason="v1 was the last good one")
    # v1 reinstated replaced no earlier champion of its own; v2 served and is archived.
    assert champion(con, NAME).previous_champion_version is None
    assert statuses(con) == {"v1": "champion", "v2": "archived", "v3": "rolled_back"}
    with pytest.raises(RollbackError, match=r"name one of the former champions v2 \(--to VERSION"):
        rollback(con, NAME, by="Ana", reason="x")


def test_when_every_other_champion_was_rolled_back_the_refusal_says_so(con, models_dir):
    for _ in range(3):
        promote(con, models_dir)
    rollback(con, NAME, by="Ana", reason="v3 is worse")  # v2 champion again
    rollback(con, NAME, by="Ana", reason="v2 is worse too")  # v1 champion again
    assert statuses(con) == {"v1": "champion", "v2": "rolled_back", "v3": "rolled_back"}
    with pytest.raises(
        RollbackError, match=r"the others that served \(v2, v3\) were rolled back, so there is none"
    ):
        rollback(con, NAME, by="Ana", reason="x")
