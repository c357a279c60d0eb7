"""The model registry: versions and artifacts, the status machine, tamper refusal."""

from __future__ import annotations

import hashlib
import json

import pytest
from pydantic import ValidationError

from sme_platform.lib.audit.log import read_events
from sme_platform.lib.release.registry import (
    ArtifactIntegrityError,
    RegistryError,
    UnknownModelVersionError,
    champion,
    get_version,
    list_versions,
    load_model_text,
)
from sme_platform.lib.release.status import IllegalTransitionError, transition
from sme_platform_tests.lib.release.conftest import MODEL_TEXT, metadata, register


def test_versions_count_up_per_model_with_artifact_and_metadata(con, models_dir):
    first = register(con, models_dir)
    second = register(con, models_dir, text=MODEL_TEXT + "x\n", run_id="run-2", high_impact=True)
    other = register(con, models_dir, name="ticket_router")
    assert (first.version, second.version, other.version) == ("v1", "v2", "v1")
    assert first.status == "candidate" and first.run_id == "run-1"
    assert second.high_impact and not first.high_impact
    artifact = models_dir / "demand_forecast" / "v1" / "model.txt"
    assert artifact.read_text(encoding="utf-8") == MODEL_TEXT
    assert first.artifact_path == "demand_forecast/v1/model.txt"
    assert first.artifact_sha256 == hashlib.sha256(MODEL_TEXT.encode()).hexdigest()
    written = json.loads((models_dir / "demand_forecast" / "v1" / "metadata.json").read_text())
    assert written["artifact_sha256"] == first.artifact_sha256
    assert written["feature_set_version"] == "fs-abc123"
    assert written["metrics"]["business_cost"] == 1234.5
    assert first.metrics == {"wape": 0.91, "bias": -0.04, "business_cost": 1234.5}
    assert first.training_data_versions == {"raw/sales_lines": "load-1"}
    assert [v.version for v in list_versions(con, "demand_forecast")] == ["v1", "v2"]
    assert [(v.model_name, v.version) for v in list_versions(con)] == [
        ("demand_forecast", "v1"),
        ("demand_forecast", "v2"),
        ("ticket_router", "v1"),
    ]
    assert load_model_text(con, models_dir, "demand_forecast", "v1") == MODEL_TEXT
    assert load_model_text(con, models_dir, "demand_forecast", 2) == MODEL_TEXT + "x\n"
    trained = read_events(con, "demand_forecast")
    assert [(e.event, e.model_version, e.actor) for e in trained] == [
        ("trained", "v1", "run:run-1"),
        ("trained", "v2", "run:run-2"),
    ]


def test_ten_versions_sort_by_number(con, models_dir):
    for _ in range(10):
        register(con, models_dir)
    assert [v.version for v in list_versions(con, "demand_forecast")][-2:] == ["v9", "v10"]
    assert register(con, models_dir).version == "v11"


def test_bad_metadata_is_refused_naming_the_field(con, models_dir):
    from sme_platform.lib.release.registry import register_version

    with pytest.raises(ValidationError, match="code_version"):
        bad = metadata()
        del bad["code_version"]
        register_version(con, models_dir, "demand_forecast", MODEL_TEXT, bad, run_id="r")
    with pytest.raises(ValidationError, match="metrix"):
        register_version(
            con, models_dir, "demand_forecast", MODEL_TEXT, metadata(metrix={}), run_id="r"
        )
    with pytest.raises(RegistryError, match=r"model name '\.\./x'"):
        register_version(con, models_dir, "../x", MODEL_TEXT, metadata(), run_id="r")
    assert list_versions(con) == []


def test_a_changed_artifact_is_refused_at_load_naming_path_and_both_hashes(con, models_dir):
    version = register(con, models_dir)
    artifact = models_dir / "demand_forecast" / "v1" / "model.txt"
    artifact.write_text(MODEL_TEXT.replace("v4", "v5"), encoding="utf-8")
    tampered = hashlib.sha256(artifact.read_bytes()).hexdigest()
    with pytest.raises(ArtifactIntegrityError) as caught:
        load_model_text(con, models_dir, "demand_forecast", "v1")
    message = str(caught.value)
    assert str(artifact) in message
    assert version.artifact_sha256 in message and tampered in message
    artifact.unlink()
    with pytest.raises(ArtifactIntegrityError, match="the file is missing"):
        load_model_text(con, models_dir, "demand_forecast", "v1")


def test_the_status_machine_and_its_audit_events(con, models_dir):
    register(con, models_dir)
    register(con, models_dir)
    transition(
        con, "demand_forecast", "v1", "challenger", actor="run:r1", reason="gate", run_id="r1"
    )
    promoted = transition(
        con, "demand_forecast", "v1", "champion", actor="run:r1", reason="first model", run_id="r1"
    )
    assert promoted.status == "champion" and promoted.previous_champion_version is None
    assert champion(con, "demand_forecast").version == "v1"

    transition(
        con, "demand_forecast", "v2", "challenger", actor="run:r2", reason="gate", run_id="r2"
    )
    transition(
        con,
        "demand_forecast",
        "v2",
        "champion",
        actor="run:r2",
        reason="canary won",
        run_id="r2",
        event="canary_promoted",
    )
    assert champion(con, "demand_forecast").version == "v2"
    assert get_version(con, "demand_forecast", "v2").previous_champion_version == "v1"
    assert get_version(con, "demand_forecast", "v1").status == "archived"
    events = [
        (e.event, e.model_version, e.details.get("from"), e.details.get("to"))
        for e in read_events(con, "demand_forecast")
        if e.event != "trained"
    ]
    assert events == [
        ("gate_passed", "v1", "candidate", "challenger"),
        ("promoted", "v1", "challenger", "champion"),
        ("gate_passed", "v2", "candidate", "challenger"),
        ("archived", "v1", "champion", "archived"),
        ("canary_promoted", "v2", "challenger", "champion"),
    ]


def test_an_illegal_transition_names_model_version_and_both_statuses(con, models_dir):
    register(con, models_dir)
    with pytest.raises(IllegalTransitionError) as caught:
        transition(con, "demand_forecast", "v1", "champion", actor="Ana", reason="skip the gate")
    assert str(caught.value).startswith(
        "demand_forecast v1: cannot change status from candidate to champion"
    )
    transition(
        con,
        "demand_forecast",
        "v1",
        "archived",
        actor="run:r",
        reason="refused",
        event="gate_refused",
    )
    with pytest.raises(IllegalTransitionError, match="from archived to challenger"):
        transition(con, "demand_forecast", "v1", "challenger", actor="Ana", reason="")
    with pytest.raises(RegistryError, match="only by a rollback"):
        transition(con, "demand_forecast", "v1", "champion", actor="Ana", reason="")
    assert get_version(con, "demand_forecast", "v1").status == "archived"
    # refused transitions leave no audit event
    assert [e.event for e in read_events(con)] == ["trained", "gate_refused"]


def test_an_unknown_version_lists_the_known_ones(con, models_dir):
    register(con, models_dir)
    with pytest.raises(
        UnknownModelVersionError, match=r"demand_forecast v7: no such version .*: v1\)"
    ):
        get_version(con, "demand_forecast", "v7")
    with pytest.raises(RegistryError, match="'latest' is not a model version"):
        get_version(con, "demand_forecast", "latest")
