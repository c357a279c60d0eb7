"""The sensor that closes the loop: a model whose monitoring found drifted inputs or a grown live
error is trained again (features -> training -> gate), once per drift, with a cooldown."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core.storage.tags import RUN_KEY_TAG

from sme_platform.defs.jobs import retrain_demand_forecast_job
from sme_platform.defs.monitoring.assets import MONITORING_KEY, RETRAIN_RUN_KEY, RETRAIN_SIGNAL
from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.training.config import load_forecasting_config
from sme_platform.lib.training.retraining import RETRAIN_TRIGGER_TAG


@dg.sensor(
    job=retrain_demand_forecast_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Trains the demand model again when its monitoring found its inputs drifted or "
    "its live error grown past forecasting.yaml's thresholds: once per serving version and "
    "reference window (the run key), at most once per cooldown (retraining.cooldown_hours).",
)
def retrain_demand_forecast_on_drift(context: dg.SensorEvaluationContext, project: ProjectResource):
    event = context.instance.get_latest_materialization_event(MONITORING_KEY)
    if event is None or event.asset_materialization is None:
        return dg.SkipReason("the demand forecast has not been monitored yet")
    metadata = event.asset_materialization.metadata
    trigger = _text(metadata.get(RETRAIN_SIGNAL))
    run_key = _text(metadata.get(RETRAIN_RUN_KEY))
    if not trigger or not run_key:
        return dg.SkipReason(f"the monitoring of run {event.run_id} asks for no retraining")
    earlier = context.instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1)
    if earlier:
        return dg.SkipReason(
            f"{run_key}: retrained for this drift already, in run {earlier[0].run_id}; the next "
            "request comes with a new serving model, a new reference or the cadence"
        )
    cooldown = timedelta(
        hours=load_forecasting_config(project.paths.root).retraining.cooldown_hours
    )
    last_fired = json.loads(context.cursor).get("last_fired") if context.cursor else None
    now = datetime.now(UTC)
    if last_fired and now - datetime.fromisoformat(last_fired) < cooldown:
        until = datetime.fromisoformat(last_fired) + cooldown
        return dg.SkipReason(
            f"{run_key}: retraining asked for ({trigger}), but the last one started at "
            f"{last_fired}; cooling down until {until.isoformat(timespec='minutes')}"
        )
    context.update_cursor(json.dumps({"last_fired": now.isoformat(), "run_key": run_key}))
    return dg.RunRequest(
        run_key=run_key,
        tags={
            "trigger": "monitoring",
            RETRAIN_TRIGGER_TAG: trigger,
            "monitoring_run": event.run_id,
        },
    )


def _text(value) -> str:
    return "" if value is None else str(value.value)


MONITORING_SENSORS = [retrain_demand_forecast_on_drift]
