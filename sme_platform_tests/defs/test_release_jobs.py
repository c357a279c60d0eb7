"""Approve and roll back as Dagster jobs: they take the warehouse's turn, write the registry and
the audit log, fail with the library's message, and a rollback asks for the forecasts again."""

import dagster as dg
import pytest

from sme_platform.defs.release.jobs import (
    ANALYST_DATABASE_KEY,
    DEMAND_FORECAST_KEY,
    RELEASE_JOBS,
    RELEASE_SENSORS,
    RESCORED_BY_LAUNCHER_TAG,
    approve_model_job,
    approve_run_config,
    publish_after_approval,
    rescore_forecasts_after_rollback,
    rollback_model_job,
    rollback_run_config,
)
from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.audit.log import read_events
from sme_platform.lib.project import ProjectPaths
from sme_platform.lib.release.registry import list_versions
from sme_platform.lib.release.status import transition
from sme_platform.lib.warehouse import connect
from sme_platform_tests.lib.release.conftest import register

NAME = "demand_forecast"


def make_registry(root, champions=2, challenger=True):
    """v1..v<champions> promoted in turn, then (optionally) one more version as challenger."""
    with connect(ProjectPaths.at(root).warehouse) as con:
        models = ProjectPaths.at(root).data_dir / "models"
        for _ in range(champions):
            version = register(con, models).version
            transition(con, NAME, version, "challenger", actor="run:t", reason="gate")
            transition(con, NAME, version, "champion", actor="run:t", reason="gate")
        if challenger:
            version = register(con, models, high_impact=True).version
            transition(con, NAME, version, "challenger", actor="run:t", reason="gate")


def execute(job, root, run_config, instance=None, tags=None):
    return job.execute_in_process(
        run_config=run_config,
        resources={"project": ProjectResource(project_dir=str(root))},
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags=tags,
        raise_on_error=False,
    )


def registry_state(root):
    with connect(ProjectPaths.at(root).warehouse, read_only=True) as con:
        return {v.version: (v.status, v.approved_by) for v in list_versions(con, NAME)}, [
            (e.event, e.model_version, e.actor, e.run_id) for e in read_events(con, NAME)
        ]


def test_the_approve_job_records_the_approval_under_its_run(tmp_path):
    make_registry(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    result = execute(
        approve_model_job,
        tmp_path,
        approve_run_config(NAME, "v3", "Ana Ruiz", "reviewed"),
        instance=instance,
    )
    assert result.success
    versions, events = registry_state(tmp_path)
    assert versions["v3"] == ("challenger", "Ana Ruiz")
    assert events[-1] == ("approved", "v3", "Ana Ruiz", result.run_id)
    # the turn was taken and given back
    assert ProjectPaths.at(tmp_path).warehouse_lock.read_text(encoding="utf-8") == ""
    # launched from the UI: the sensor asks for the release at once (the approved challenger
    # becomes champion or starts its canary), the forecasts and the analyst database
    request = evaluate_sensor(instance, result, publish_after_approval)
    assert isinstance(request, dg.RunRequest)
    assert request.asset_selection == [
        dg.AssetKey(["release", "demand_forecast_release"]),
        DEMAND_FORECAST_KEY,
        ANALYST_DATABASE_KEY,
    ]
    assert request.run_key == f"release-after-{result.run_id}"
    # the CLI publishes it itself and tags its run: the sensor leaves it alone
    make_registry(tmp_path / "other")
    config = approve_run_config(NAME, "v3", "Ana Ruiz", "reviewed")
    assert_a_tagged_run_is_left_alone(
        approve_model_job, tmp_path / "other", config, instance, publish_after_approval
    )


def test_a_refused_approval_fails_the_run_with_the_reason(tmp_path):
    make_registry(tmp_path)
    result = execute(
        approve_model_job, tmp_path, approve_run_config(NAME, "v2", "Ana Ruiz", "reviewed")
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "only a challenger (a version that passed the gate) can be approved; v2 is champion" in (
        failure.event_specific_data.error.to_string()
    )
    versions, _ = registry_state(tmp_path)
    assert versions["v2"] == ("champion", None)


def test_the_rollback_job_reinstates_and_the_sensor_asks_for_new_forecasts(tmp_path):
    make_registry(tmp_path, challenger=False)
    instance = dg.DagsterInstance.ephemeral()
    result = execute(
        rollback_model_job,
        tmp_path,
        rollback_run_config(NAME, None, "Ana Ruiz", "stock-outs doubled"),
        instance=instance,
    )
    assert result.success
    versions, events = registry_state(tmp_path)
    assert {v: status for v, (status, _) in versions.items()} == {
        "v1": "champion",
        "v2": "rolled_back",
    }
    assert events[-2:] == [
        ("rolled_back", "v2", "Ana Ruiz", result.run_id),
        ("promoted", "v1", "Ana Ruiz", result.run_id),
    ]

    request = evaluate_sensor(instance, result)
    assert isinstance(request, dg.RunRequest)
    assert request.asset_selection == [DEMAND_FORECAST_KEY, ANALYST_DATABASE_KEY]
    assert request.run_key == f"rescore-after-{result.run_id}"

    # a launcher that re-scores itself (the CLI) tags its run: the sensor leaves it alone
    make_registry(tmp_path / "other", challenger=False)
    config = rollback_run_config(NAME, "v1", "Ana Ruiz", "again")
    assert_a_tagged_run_is_left_alone(
        rollback_model_job, tmp_path / "other", config, instance, rescore_forecasts_after_rollback
    )


def assert_a_tagged_run_is_left_alone(job, root, run_config, instance, sensor):
    tagged = execute(
        job, root, run_config, instance=instance, tags={RESCORED_BY_LAUNCHER_TAG: "true"}
    )
    assert tagged.success
    assert isinstance(evaluate_sensor(instance, tagged, sensor), dg.SkipReason)


def evaluate_sensor(instance, result, sensor=rescore_forecasts_after_rollback):
    run = instance.get_run_by_id(result.run_id)
    (success,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS]
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=success,
        dagster_instance=instance,
        dagster_run=run,
    )
    return sensor(context)


def test_a_failed_rollback_changes_nothing(tmp_path):
    make_registry(tmp_path, champions=1, challenger=False)
    result = execute(rollback_model_job, tmp_path, rollback_run_config(NAME, None, "Ana", "x"))
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "nothing to roll back to; champion v1 replaced no earlier champion" in (
        failure.event_specific_data.error.to_string()
    )
    versions, _ = registry_state(tmp_path)
    assert versions == {"v1": ("champion", None)}


@pytest.mark.parametrize("job", RELEASE_JOBS, ids=lambda job: job.name)
def test_the_jobs_and_sensor_load_with_the_platforms_definitions(job):
    from sme_platform.definitions import defs

    merged = dg.Definitions.merge(defs, dg.Definitions(jobs=RELEASE_JOBS, sensors=RELEASE_SENSORS))
    repository = merged.get_repository_def()
    assert repository.get_job(job.name).name == job.name
    assert repository.get_sensor_def(rescore_forecasts_after_rollback.name)
