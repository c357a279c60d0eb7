"""The alert sensors as the daemon runs them: a failed blocking check in a run that succeeded,
and a failed run, each posted to the webhook of the environment (a local server here)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from sme_platform.defs.alerts import alert_on_failed_check, alert_on_run_failure
from sme_platform.defs.resources import ProjectResource
from sme_platform_tests.lib.test_alerts import SECRET, Hook

RUN_FAILURE = dg.DagsterEventType.RUN_FAILURE


@dg.asset(
    check_specs=[
        dg.AssetCheckSpec("gate", asset="model_release", blocking=True),
        dg.AssetCheckSpec("rows_present", asset="model_release"),
        dg.AssetCheckSpec("drift", asset="model_release"),
    ]
)
def model_release():
    yield dg.MaterializeResult()
    # A blocking check whose failure is a warning (a refused model): the run goes on.
    yield dg.AssetCheckResult(
        check_name="gate",
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description="v5 refused; champion v4 serves",
    )
    yield dg.AssetCheckResult(
        check_name="rows_present", passed=False, description="0 rows for 2025-12-30"
    )
    yield dg.AssetCheckResult(check_name="drift", passed=False, severity=dg.AssetCheckSeverity.WARN)


@dg.asset(check_specs=[dg.AssetCheckSpec("complete", asset="daily_sales", blocking=True)])
def daily_sales():
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(check_name="complete", passed=False, description="12 days missing")


@dg.asset
def broken_export():
    raise ValueError("sales_2025-12-30.csv: no header row")


@pytest.fixture
def hook(monkeypatch, tmp_path):
    (tmp_path / "automation.yaml").write_text(
        "alerts:\n  webhook_env: ACME_ALERT_HOOK\n  ui_url: http://ops.acme.example:3000\n",
        encoding="utf-8",
    )
    server = Hook()
    monkeypatch.setenv("ACME_ALERT_HOOK", server.url)
    yield server
    server.close()


def context_for(result, instance, sensor, event, project):
    return dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"project": ProjectResource(project_dir=str(project))},
    )


def assert_secret_not_stored(root: str) -> None:
    """The webhook's token is read from the environment when an alert is sent: it is in no
    file of the run history (event log, run storage, compute logs), as text or JSON-escaped."""
    files = [path for path in Path(root).rglob("*") if path.is_file()]
    assert files
    leaking = [str(path) for path in files if SECRET.encode() in path.read_bytes()]
    assert leaking == []


def test_checks_that_failed_in_a_green_run_are_alerted_once_each(hook, tmp_path, caplog):
    with dg.instance_for_test() as instance:
        result = dg.materialize([model_release], instance=instance, raise_on_error=False)
        assert result.success  # the checks failed, the run did not: hence this sensor
        with context_for(
            result, instance, alert_on_failed_check, result.get_run_success_event(), tmp_path
        ) as context:
            alert_on_failed_check(context)
        assert_secret_not_stored(instance.root_directory)
    alerts = {body["check"]: body for _, body in hook.received}
    assert sorted(alerts) == ["gate", "rows_present"]  # not the plain warning
    assert alerts["gate"]["description"] == "v5 refused; champion v4 serves"
    assert (alerts["rows_present"]["kind"], alerts["rows_present"]["asset"]) == (
        "check_failed",
        "model_release",
    )
    assert alerts["gate"]["link"] == f"http://ops.acme.example:3000/runs/{result.run_id}"
    assert SECRET not in caplog.text


def test_a_blocking_check_of_error_severity_fails_the_run_and_the_alert_names_it(hook, tmp_path):
    with dg.instance_for_test() as instance:
        result = dg.materialize([daily_sales], instance=instance, raise_on_error=False)
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type == RUN_FAILURE)
        with context_for(result, instance, alert_on_run_failure, failure, tmp_path) as context:
            alert_on_run_failure(context.for_run_failure())
    ((_, body),) = hook.received
    assert body["kind"] == "run_failed"
    assert body["description"] == "daily_sales:complete failed: 12 days missing"


def test_a_failed_run_is_alerted_with_its_error(hook, tmp_path, caplog):
    with dg.instance_for_test() as instance:
        result = dg.materialize([broken_export], instance=instance, raise_on_error=False)
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type == RUN_FAILURE)
        with context_for(result, instance, alert_on_run_failure, failure, tmp_path) as context:
            alert_on_run_failure(context.for_run_failure())
        assert_secret_not_stored(instance.root_directory)
    ((_, body),) = hook.received
    assert body["kind"] == "run_failed" and body["run_id"] == result.run_id
    assert body["summary"].startswith(f"run {result.run_id[:8]} of __ephemeral_asset_job__ failed")
    assert SECRET not in caplog.text
