"""The purge job as the schedule runs it: the run history older than its period is deleted
(never the purging run), and the purge of each kind is audited."""

from __future__ import annotations

import dagster as dg

from sme_platform.defs.governance.retention import purge_expired_job
from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.audit.log import read_events
from sme_platform.lib.warehouse import connect


@dg.asset
def scratch():
    return 1


def test_old_runs_are_deleted_and_every_purge_is_audited(tmp_path):
    (tmp_path / "automation.yaml").write_text(
        "retention:\n  run_history_days: 0\n  quarantine_days: 30\n", encoding="utf-8"
    )
    with dg.instance_for_test() as instance:
        earlier = dg.materialize([scratch], instance=instance)
        assert instance.get_run_by_id(earlier.run_id) is not None
        purge = purge_expired_job.execute_in_process(
            instance=instance,
            resources={"project": ProjectResource(project_dir=str(tmp_path))},
        )
        assert purge.success
        assert instance.get_run_by_id(earlier.run_id) is None
        assert instance.get_run_by_id(purge.run_id) is not None
    with connect(tmp_path / "data" / "warehouse.duckdb", read_only=True) as con:
        events = read_events(con)
    assert [(e.event, e.subject) for e in events] == [
        ("purged", "retention:quarantine"),
        ("purged", "retention:rejected_files"),
        ("purged", "retention:monitoring_reports"),
        ("purged", "retention:forecast_log"),
        ("purged", "retention:run_history"),
    ]
    assert events[-1].details["removed"] == 1 and events[-1].actor == f"run:{purge.run_id}"
