"""The retraining sensor as the daemon evaluates it: it reads the monitoring asset's latest
materialization, asks for one retraining run per drift (run key: model, serving version,
reference window), and waits out its cooldown."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from dagster._core.storage.tags import RUN_KEY_TAG

from sme_platform.defs.monitoring.assets import MONITORING_KEY, RETRAIN_RUN_KEY, RETRAIN_SIGNAL
from sme_platform.defs.monitoring.sensors import retrain_demand_forecast_on_drift
from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.training.retraining import RETRAIN_TRIGGER_TAG

KEY = "retrain-demand_forecast-v3-2025-07-01.abc123def456"
TRIGGER = "demand_forecast v3: feature drift: 5 of 11 features drifted (wasserstein >= 0.1)"


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def monitored(instance, signal=TRIGGER, run_key=KEY):
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=MONITORING_KEY,
            metadata={"model_version": "v3", RETRAIN_SIGNAL: signal, RETRAIN_RUN_KEY: run_key},
        )
    )


def evaluate(instance, project_dir, cursor=None):
    with dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"project": ProjectResource(project_dir=str(project_dir))},
    ) as context:
        return retrain_demand_forecast_on_drift(context), context.cursor


def test_a_drift_asks_for_one_retraining_run_tagged_with_why(instance, tmp_path):
    monitored(instance)
    request, cursor = evaluate(instance, tmp_path)
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == KEY
    assert request.tags[RETRAIN_TRIGGER_TAG] == TRIGGER
    assert request.tags["trigger"] == "monitoring"
    assert json.loads(cursor)["run_key"] == KEY


def test_no_signal_and_no_monitoring_are_skipped(instance, tmp_path):
    skipped, _ = evaluate(instance, tmp_path)
    assert skipped.skip_message == "the demand forecast has not been monitored yet"
    monitored(instance, signal="", run_key="")
    skipped, _ = evaluate(instance, tmp_path)
    assert "asks for no retraining" in skipped.skip_message


def test_the_same_drift_is_not_retrained_twice(instance, tmp_path):
    monitored(instance)
    instance.add_run(
        dg.DagsterRun(job_name="retrain_demand_forecast", run_id="run-41", tags={RUN_KEY_TAG: KEY})
    )
    skipped, _ = evaluate(instance, tmp_path)
    assert skipped.skip_message.startswith(
        f"{KEY}: retrained for this drift already, in run run-41"
    )


def test_a_new_drift_waits_for_the_cooldown(instance, tmp_path):
    (tmp_path / "forecasting.yaml").write_text("retraining:\n  cooldown_hours: 12\n")
    monitored(instance, run_key=KEY.replace("v3", "v4"))
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    skipped, cursor = evaluate(instance, tmp_path, json.dumps({"last_fired": an_hour_ago}))
    assert "cooling down until" in skipped.skip_message
    assert json.loads(cursor)["last_fired"] == an_hour_ago  # unchanged: nothing fired
    half_a_day_ago = (datetime.now(UTC) - timedelta(hours=12, minutes=1)).isoformat()
    request, _ = evaluate(instance, tmp_path, json.dumps({"last_fired": half_a_day_ago}))
    assert isinstance(request, dg.RunRequest)
