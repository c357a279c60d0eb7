"""Approve and roll back models as Dagster jobs: launchable from the UI with config, run by
`sme-platform approve|rollback` in process, and in the run history either way. Each takes the
warehouse's turn like every run (through the project resource) and writes the registry and the
audit log in one transaction (lib/release/)."""

# No `from __future__ import annotations`: Dagster reads the ops' parameter types.
import dagster as dg
from pydantic import Field

from sme_platform.defs.jobs import all_assets_job
from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.release.approvals import approve
from sme_platform.lib.release.rollback import rollback

# The batch forecasts, defined with the training stage: after a rollback they are scored again
# by the reinstated champion.
DEMAND_FORECAST_KEY = dg.AssetKey(["ml", "demand_forecast"])
# The analyst database (defs/governance/assets.py), which holds the registry, the audit log and
# the forecasts: published again after an approval or a rollback so analysts see them.
ANALYST_DATABASE_KEY = dg.AssetKey(["governance", "analyst_database"])
# The release decision (defs/release/assets.py): run after an approval, it releases the approved
# challenger at once (champion, or a canary) instead of at the next night's run.
RELEASE_DECISION_KEY = dg.AssetKey(["release", "demand_forecast_release"])
# What follows an approval: the release, the forecasts of whoever serves then, the analyst
# database with the registry and the audit log as they are.
AFTER_APPROVAL = [RELEASE_DECISION_KEY, DEMAND_FORECAST_KEY, ANALYST_DATABASE_KEY]
# A rollback or approval run carrying this tag has its follow-up run (re-scoring, publishing)
# started by whoever launched it (the CLI does it in the same command), so the sensors leave it
# alone.
RESCORED_BY_LAUNCHER_TAG = "sme_platform/rescored_by_launcher"


class ApproveModelConfig(dg.Config):
    model_name: str = Field(description="Registered model name, e.g. demand_forecast.")
    version: str = Field(description="The challenger's version, e.g. v3.")
    by: str = Field(description="Full name of the person approving.")
    note: str = Field(description="Why it is approved: what was reviewed.")


class RollbackModelConfig(dg.Config):
    model_name: str = Field(description="Registered model name, e.g. demand_forecast.")
    to_version: str | None = Field(
        default=None,
        description="Former champion to reinstate (default: the one the champion replaced).",
    )
    by: str = Field(description="Full name of the person rolling back.")
    reason: str = Field(description="Why the champion is taken out of service.")


@dg.op(description="Record a named person's approval of a challenger (registry + audit log).")
def approve_model(
    context: dg.OpExecutionContext, config: ApproveModelConfig, project: ProjectResource
) -> None:
    with project.warehouse() as con:
        approved = approve(
            con,
            config.model_name,
            config.version,
            by=config.by,
            note=config.note,
            run_id=context.run_id,
        )
    context.log.info(
        f"{approved.model_name} {approved.version} approved by {approved.approved_by}: "
        f"{approved.approval_note}"
    )


@dg.op(description="Reinstate the previous (or a named former) champion; audited.")
def rollback_model(
    context: dg.OpExecutionContext, config: RollbackModelConfig, project: ProjectResource
) -> None:
    with project.warehouse() as con:
        result = rollback(
            con,
            config.model_name,
            to_version=config.to_version,
            by=config.by,
            reason=config.reason,
            run_id=context.run_id,
            models_dir=project.paths.models_dir,
        )
    ended = f"; the canary of {result.ended_canary} ended" if result.ended_canary else ""
    context.log.info(
        f"{result.model_name}: {result.rolled_back} rolled back, {result.reinstated} is "
        f"champion again (by {config.by}: {config.reason}){ended}"
    )


@dg.job(
    description="Approve a challenger: a named person and a note, kept in the registry and "
    "the audit log (sme-platform approve MODEL VERSION --by NAME --note TEXT)."
)
def approve_model_job() -> None:
    approve_model()


@dg.job(
    description="Roll a model back to its previous (or a named former) champion; the forecasts "
    "are then re-scored (sme-platform rollback MODEL [--to VERSION] --by NAME --reason TEXT)."
)
def rollback_model_job() -> None:
    rollback_model()


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[rollback_model_job],
    request_job=all_assets_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a successful rollback, scores the forecasts again with the reinstated "
    "champion and publishes the analyst database.",
)
def rescore_forecasts_after_rollback(context: dg.RunStatusSensorContext):
    return _follow_up(
        context.dagster_run,
        "rollback",
        "rescore",
        [DEMAND_FORECAST_KEY, ANALYST_DATABASE_KEY],
        "re-scores the forecasts itself",
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[approve_model_job],
    request_job=all_assets_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After an approval, releases the approved challenger (the release step), scores "
    "the forecasts and publishes the analyst database (its registry and audit log).",
)
def publish_after_approval(context: dg.RunStatusSensorContext):
    return _follow_up(
        context.dagster_run,
        "approval",
        "release",
        AFTER_APPROVAL,
        "releases and publishes itself",
    )


def _follow_up(run, trigger: str, action: str, assets: list, launcher_does: str):
    """The run that follows a release job's run, unless its launcher started it already."""
    if run.tags.get(RESCORED_BY_LAUNCHER_TAG) == "true":
        return dg.SkipReason(f"run {run.run_id}: its launcher {launcher_does}")
    return dg.RunRequest(
        run_key=f"{action}-after-{run.run_id}",
        asset_selection=assets,
        tags={"trigger": trigger, f"{trigger}_run": run.run_id},
    )


RELEASE_JOBS = [approve_model_job, rollback_model_job]
RELEASE_SENSORS = [rescore_forecasts_after_rollback, publish_after_approval]


def approve_run_config(model_name: str, version: str, by: str, note: str) -> dict:
    return {
        "ops": {
            "approve_model": {
                "config": {"model_name": model_name, "version": version, "by": by, "note": note}
            }
        }
    }


def rollback_run_config(model_name: str, to_version: str | None, by: str, reason: str) -> dict:
    config = {"model_name": model_name, "to_version": to_version, "by": by, "reason": reason}
    return {"ops": {"rollback_model": {"config": config}}}
