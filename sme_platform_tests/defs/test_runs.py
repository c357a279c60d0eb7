"""The project resource takes a run's turn for the warehouse; sensors never do; an existing
instance gains run monitoring."""

# No `from __future__ import annotations`: Dagster reads the test asset's parameter types.
import os
import re
import subprocess
import time

import dagster as dg
import pytest
import yaml

from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.runs import PID_TAG, TAGGED_RUN_TAG, mark_dead_runs_failed
from sme_platform.defs.sensors import new_export_files
from sme_platform.lib.monitoring.drift_worker import MEASURING_STEP, DriftWorker, started_early
from sme_platform.lib.project import ProjectPaths
from sme_platform.lib.run_lock import LOCK_TIMEOUT_ENV, WarehouseLockError
from sme_platform.lib.sources import SourcesConfigError
from sme_platform_tests.conftest import SALES_HEADER
from sme_platform_tests.lib.test_run_lock import OtherProcess


@dg.asset(key=["test", "writes_the_warehouse"])
def writes_the_warehouse(project: ProjectResource) -> None:
    with project.warehouse() as con:
        con.execute("create or replace table main.written_by_a_test as select 1 as x")


def test_a_run_waits_for_the_holder_then_fails_naming_it_after_the_timeout(project, monkeypatch):
    paths = ProjectPaths.at(project.root)
    other = OtherProcess(paths.warehouse_lock, origin="by schedule nightly_materialize_all")
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "1")
    instance = dg.DagsterInstance.ephemeral()
    try:
        result = dg.materialize(
            [writes_the_warehouse],
            instance=instance,
            resources={"project": ProjectResource(project_dir=str(project.root))},
            raise_on_error=False,
        )
    finally:
        other.release()
    assert not result.success
    holder = (
        rf"run feedface \(started by schedule nightly_materialize_all at \d\d:\d\d:\d\d UTC, "
        rf"pid {other.process.pid}\)"
    )
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any(
        re.fullmatch(f"waiting for {holder} to release data/warehouse.duckdb", m) for m in messages
    )
    failure = next(event for event in result.all_events if event.is_failure)
    error_text = str(failure.event_specific_data.error)
    assert re.search(f"gave up after waiting 1 s for {holder}", error_text), error_text
    assert not paths.warehouse.exists()  # nothing was written

    # Its turn comes once the holder has gone: the same run succeeds, tagged with its process.
    result = dg.materialize(
        [writes_the_warehouse],
        instance=instance,
        resources={"project": ProjectResource(project_dir=str(project.root))},
    )
    assert result.success
    tags = instance.get_run_by_id(result.run_id).tags
    assert tags["sme_platform/pid"] == str(os.getpid())
    assert ProjectPaths.at(project.root).warehouse_lock.read_text(encoding="utf-8") == ""


def test_a_sensor_evaluates_while_a_run_holds_the_warehouse(project):
    project.write("sales_1.csv", SALES_HEADER + "\nO1,1,2024-01-01 10:00:00,A,2,1.50,SALE\n")
    project.sales_source()
    other = OtherProcess(ProjectPaths.at(project.root).warehouse_lock)
    try:
        started = time.monotonic()
        with dg.build_sensor_context(
            resources={"project": ProjectResource(project_dir=str(project.root))}
        ) as context:
            request = new_export_files(context)
        # Had it waited for the lock, it would still be waiting (six hours by default).
        assert time.monotonic() - started < 60
    finally:
        other.release()
    assert [key.to_user_string() for key in request.asset_selection] == ["raw/sales_lines"]


def test_the_warehouse_is_opened_by_runs_only(project):
    resources = dg.build_resources({"project": ProjectResource(project_dir=str(project.root))})
    with (
        resources as built,
        pytest.raises(WarehouseLockError, match="was not set up by a run"),
        built.project.warehouse(),
    ):
        pass
    assert not ProjectPaths.at(project.root).warehouse.exists()


def test_an_existing_instance_gains_run_monitoring_and_keeps_its_settings(tmp_path):
    paths = ProjectPaths.at(tmp_path)
    paths.dagster_home.mkdir()
    config = paths.dagster_home / "dagster.yaml"
    # What sme-platform wrote before run monitoring, plus a setting of the user's.
    config.write_text(
        "telemetry:\n  enabled: false\nrun_queue:\n  max_concurrent_runs: 1\n"
        "python_logs:\n  python_log_level: INFO",  # no newline at the end
        encoding="utf-8",
    )
    paths.ensure_dagster_home()
    written = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert written["python_logs"] == {"python_log_level": "INFO"}
    assert written["run_queue"] == {"max_concurrent_runs": 1}
    assert written["run_monitoring"]["enabled"] is True
    with dg.DagsterInstance.from_config(str(paths.dagster_home)) as instance:
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_start_timeout_seconds == 180
        assert instance.get_settings("freshness") == {"enabled": True}  # for the policies
    # Idempotent: a second start appends nothing.
    text = config.read_text(encoding="utf-8")
    paths.ensure_dagster_home()
    assert config.read_text(encoding="utf-8") == text


def test_the_sensor_marks_failed_a_started_run_whose_process_died():
    finished = subprocess.Popen(["true"])
    finished.wait()
    instance = dg.DagsterInstance.ephemeral()
    runs = (
        ("dead-run", finished.pid, "dead-run"),
        ("alive-run", os.getpid(), "alive-run"),
        # re-executed from the UI: its parent's tags copied, its own process not tagged yet
        ("re-executed-run", finished.pid, "dead-run"),
    )
    for run_id, pid, tagged_run in runs:
        instance.add_run(
            dg.DagsterRun(
                job_name="materialize_all",
                run_id=run_id,
                status=dg.DagsterRunStatus.STARTED,
                tags={PID_TAG: str(pid), TAGGED_RUN_TAG: tagged_run},
            )
        )
    with dg.build_sensor_context(instance=instance) as context:
        outcome = mark_dead_runs_failed(context)
    message = f"process {finished.pid} died; marked failed by sensor mark_dead_runs_failed"
    assert outcome.skip_message == f"run dead-run (materialize_all): {message}"
    assert instance.get_run_by_id("dead-run").status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id("alive-run").status == dg.DagsterRunStatus.STARTED
    assert instance.get_run_by_id("re-executed-run").status == dg.DagsterRunStatus.STARTED
    failures = instance.all_logs("dead-run", of_type=dg.DagsterEventType.RUN_FAILURE)
    assert [entry.dagster_event.message for entry in failures] == [message]
    with dg.build_sensor_context(instance=instance) as context:
        assert mark_dead_runs_failed(context).skip_message == "no run whose process died"


@dg.multi_asset(specs=[dg.AssetSpec(["test", "measures_drift"])], name=MEASURING_STEP)
def measures_drift(project: ProjectResource):
    assert project.drift_worker is not None, "a run that measures drift has a worker"
    assert project.drift_worker._process.poll() is None
    yield dg.MaterializeResult()


def test_only_a_run_whose_plan_measures_drift_starts_the_evidently_worker(project, monkeypatch):
    started = []

    class CountedWorker(DriftWorker):
        def __init__(self):
            super().__init__()
            started.append(self)

    monkeypatch.setattr("sme_platform.lib.monitoring.drift_worker.DriftWorker", CountedWorker)
    resources = {"project": ProjectResource(project_dir=str(project.root))}
    instance = dg.DagsterInstance.ephemeral()
    assets = [writes_the_warehouse, measures_drift]
    dg.materialize(
        assets, selection="test/writes_the_warehouse", resources=resources, instance=instance
    )
    assert started == []
    dg.materialize(assets, resources=resources, instance=instance)
    (worker,) = started
    assert worker._process.poll() is not None  # ended with the run
    # A worker this process started before the run (the CLI does) is the one the run takes.
    with started_early():
        (early,) = started[1:]
        dg.materialize(assets, resources=resources, instance=instance)
        assert len(started) == 2, "the run took the early worker instead of starting one"
        assert early._process.poll() is not None  # ended with the run


@dg.asset(key=["test", "reads_the_mapping"])
def reads_the_mapping(project: ProjectResource) -> dict:
    first = project.sources()
    project.paths.sources_file.write_text("sources: [not, a, mapping", encoding="utf-8")
    assert project.sources() is first, "a run maps the files as it first read sources.yaml"
    return {"tables": sorted(first.sources)}


def test_a_run_reads_sources_yaml_once_and_an_edit_counts_from_the_next_run(project):
    project.sales_source()
    resource = ProjectResource(project_dir=str(project.root))
    result = dg.materialize([reads_the_mapping], resources={"project": resource})
    assert result.success
    assert result.output_for_node("test__reads_the_mapping") == {"tables": ["sales_lines"]}
    with pytest.raises(SourcesConfigError, match="not valid YAML"):
        resource.sources()  # outside a run: read again, with the edit
