"""The purge of expired data as a job on a schedule (automation.yaml `retention:`): quarantined
rows, kept copies of rejected files, monitoring reports (lib/retention.py) and the run history
(Dagster's runs and their event logs), each purge audited."""

# No `from __future__ import annotations`: Dagster reads the op's parameter types.
import dagster as dg

from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.automation import RetentionConfig, load_automation_config
from sme_platform.lib.retention import Purge, audit_purge, cutoff, purge_expired

FINISHED = [
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
]


def purge_run_history(instance: dg.DagsterInstance, days: int, keep: str) -> Purge:
    """Delete the finished runs created more than `days` ago (never `keep`, the purging run)."""
    before = cutoff(days)
    purge = Purge("retention:run_history", before)
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=FINISHED, created_before=before)
    )
    for record in records:
        if record.dagster_run.run_id != keep:
            instance.delete_run(record.dagster_run.run_id)
            purge.removed += 1
    return purge


@dg.op(description="Purge what is older than automation.yaml's retention periods; audited.")
def purge_expired_data(context: dg.OpExecutionContext, project: ProjectResource) -> None:
    config: RetentionConfig = load_automation_config(project.paths.root).retention
    with project.warehouse() as con:
        purges = purge_expired(con, project.paths, config, context.run_id)
        history = purge_run_history(context.instance, config.run_history_days, context.run_id)
        audit_purge(con, history, context.run_id)
    for purge in [*purges, history]:
        context.log.info(
            f"{purge.what}: {purge.removed} removed (older than {purge.cutoff:%Y-%m-%d})"
        )


@dg.job(
    description="Purge quarantined rows, rejected-file copies, monitoring reports and run "
    "history older than automation.yaml's retention periods (audited)."
)
def purge_expired_job() -> None:
    purge_expired_data()


def purge_schedule_for(config: RetentionConfig, timezone: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="purge_expired_weekly",
        job=purge_expired_job,
        cron_schedule=config.cron,
        execution_timezone=timezone,
        description=f"Purge expired data ({config.cron}, {timezone}; retention: in "
        "automation.yaml).",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
