"""Alert sensors: a failed run, and a failed check in a run that succeeded. Both tell the log and
the webhook named in automation.yaml (lib/alerts.py).

In Dagster 1.13 a blocking check that fails with ERROR severity fails its step and the run (the
run-failure alert names it); every other failing check leaves the run green, so it needs a sensor
of its own: a check of ERROR severity that is not blocking, and a blocking check whose failure is a
warning by design, such as the promotion gate refusing a model while the champion serves. Plain
warnings (a drifting feature) are left to the UI and the run summary."""

import dagster as dg

from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.alerts import Alert, run_link, send
from sme_platform.lib.automation import AlertConfig, load_automation_config


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str, str]]:
    """(asset, check, description) of each check of the run that failed and was blocking or of
    ERROR severity."""
    failed = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        alerting = bool(evaluation.blocking) or evaluation.severity == dg.AssetCheckSeverity.ERROR
        if alerting and not evaluation.passed:
            failed.append(
                (
                    evaluation.asset_key.to_user_string(),
                    evaluation.check_name,
                    evaluation.description or "",
                )
            )
    return failed


def _send_all(context, config: AlertConfig, alerts: list[Alert]) -> None:
    for alert in alerts:
        send(
            alert,
            config.webhook_url(),
            context.log,
            variable=config.webhook_env,
            attempts=config.attempts,
        )


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Tells the log and the webhook of automation.yaml that a run failed (with the "
    "failing step's message and the checks that failed), linking to the run.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext, project: ProjectResource):
    run = context.dagster_run
    config = load_automation_config(project.paths.root).alerts
    message = (context.failure_event.message or "").strip().splitlines()
    alert = Alert(
        kind="run_failed",
        run_id=run.run_id,
        job=run.job_name,
        summary=f"run {run.run_id[:8]} of {run.job_name} failed"
        + (f": {message[0]}" if message else ""),
        link=run_link(config.ui_url, run.run_id),
        description="; ".join(
            f"{asset}:{check} failed: {text}"
            for asset, check, text in failed_checks(context.instance, run.run_id)
        )
        or None,
    )
    _send_all(context, config, [alert])


@dg.run_status_sensor(
    name="alert_on_failed_check",
    run_status=dg.DagsterRunStatus.SUCCESS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Tells the log and the webhook of automation.yaml about every check that failed "
    "in a run that still succeeded (blocking ones, such as a refusing promotion gate, and any of "
    "ERROR severity), one alert per check.",
)
def alert_on_failed_check(context: dg.RunStatusSensorContext, project: ProjectResource):
    run = context.dagster_run
    config = load_automation_config(project.paths.root).alerts
    failed = failed_checks(context.instance, run.run_id)
    if not failed:
        return dg.SkipReason(f"run {run.run_id[:8]}: no blocking or error check failed")
    alerts = [
        Alert(
            kind="check_failed",
            run_id=run.run_id,
            job=run.job_name,
            summary=f"check {asset}:{check} failed in run {run.run_id[:8]} of {run.job_name}",
            link=run_link(config.ui_url, run.run_id),
            asset=asset,
            check=check,
            description=text,
        )
        for asset, check, text in failed
    ]
    _send_all(context, config, alerts)
    return None


ALERT_SENSORS = [alert_on_run_failure, alert_on_failed_check]
