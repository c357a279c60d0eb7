"""The Dagster definitions: every stage's assets, one resource, the jobs, schedule and sensor.

Thin on purpose: stages live in sme_platform/defs/<stage>/, logic in sme_platform/lib/.
Writes to the DuckDB warehouse are serialized: each run's steps run in one process
(in_process_executor), and every run, from the CLI, the UI, the schedule or a sensor, takes the
warehouse's run lock before its first step (lib/run_lock.py), so a second run waits its turn.

`defs` is the graph (the CLI runs it); workspace.yaml loads `project_definitions`, the same graph
checked against the project's sources.yaml when the code location loads.
"""

import os
import warnings
from datetime import timedelta
from functools import partial
from pathlib import Path

import dagster as dg

from sme_platform.defs.alerts import ALERT_SENSORS
from sme_platform.defs.features.assets import FEATURE_ASSETS
from sme_platform.defs.governance.assets import GOVERNANCE_ASSETS
from sme_platform.defs.governance.compliance import compliance_report
from sme_platform.defs.governance.erasure import erasures
from sme_platform.defs.governance.retention import purge_expired_job, purge_schedule_for
from sme_platform.defs.ingestion.assets import INGESTION_ASSETS
from sme_platform.defs.ingestion.source_details import with_source_details
from sme_platform.defs.jobs import (
    all_assets_job,
    compliance_report_job,
    erase_customer_job,
    ingestion_job,
    retrain_demand_forecast_job,
)
from sme_platform.defs.monitoring.assets import MONITORING_ASSETS
from sme_platform.defs.monitoring.sensors import MONITORING_SENSORS
from sme_platform.defs.release.assets import RELEASE_ASSETS
from sme_platform.defs.release.jobs import RELEASE_JOBS, RELEASE_SENSORS
from sme_platform.defs.reports.assets import REPORT_ASSETS
from sme_platform.defs.resources import project_resource
from sme_platform.defs.runs import mark_dead_runs_failed
from sme_platform.defs.schedules import nightly_schedule_for
from sme_platform.defs.sensors import new_export_files
from sme_platform.defs.sql_models.assets import SQL_MODEL_ASSETS
from sme_platform.defs.training.assets import TRAINING_ASSETS
from sme_platform.lib.automation import (
    AutomationConfig,
    FreshnessConfig,
    load_automation_config,
)
from sme_platform.lib.governance import DEFAULT_OWNER
from sme_platform.lib.run_history import keep_run_history_open
from sme_platform.lib.sources import load_sources

# Every process that loads the graph (the CLI, a run's worker, the UI's code server) writes
# the run history without an fsync per event (lib/run_history.py says why).
keep_run_history_open()

FRESHNESS_GROUPS = ("ingestion", "reports")


def apply_governance_policy(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Every asset has an owner: the data team unless the stage names another."""
    return spec if spec.owners else spec.replace_attributes(owners=[DEFAULT_OWNER])


def with_freshness_policy(spec: dg.AssetSpec, policy: FreshnessConfig) -> dg.AssetSpec:
    """The sources and the KPI reports are stale when older than automation.yaml allows."""
    if spec.group_name not in FRESHNESS_GROUPS:
        return spec
    return spec.replace_attributes(
        freshness_policy=dg.FreshnessPolicy.time_window(
            fail_window=timedelta(hours=policy.fail_after_hours),
            warn_window=timedelta(hours=policy.warn_after_hours),
        )
    )


def build_definitions(automation: AutomationConfig) -> dg.Definitions:
    """The graph with the project's schedule (automation.yaml); every asset owned."""
    definitions = dg.Definitions(
        assets=[
            *INGESTION_ASSETS,
            *SQL_MODEL_ASSETS,
            *FEATURE_ASSETS,
            *TRAINING_ASSETS,
            *RELEASE_ASSETS,
            *MONITORING_ASSETS,
            *REPORT_ASSETS,
            *GOVERNANCE_ASSETS,
            compliance_report,
            erasures,
        ],
        jobs=[
            all_assets_job,
            ingestion_job,
            retrain_demand_forecast_job,
            compliance_report_job,
            erase_customer_job,
            purge_expired_job,
            *RELEASE_JOBS,
        ],
        schedules=[
            nightly_schedule_for(automation.schedule),
            purge_schedule_for(automation.retention, automation.schedule.timezone),
        ],
        sensors=[
            new_export_files,
            mark_dead_runs_failed,
            *RELEASE_SENSORS,
            *MONITORING_SENSORS,
            *ALERT_SENSORS,
        ],
        resources={"project": project_resource()},
        executor=dg.in_process_executor,
    )
    with warnings.catch_warnings():
        # map_asset_specs is marked "preview" in dagster 1.13; the warning would print on every
        # command and in every run log, and the pinned version's behaviour is what the tests
        # check.
        warnings.simplefilter("ignore", category=dg.PreviewWarning)
        return definitions.map_asset_specs(func=apply_governance_policy).map_asset_specs(
            func=partial(with_freshness_policy, policy=automation.freshness)
        )


defs = build_definitions(AutomationConfig())


@dg.definitions
def project_definitions() -> dg.Definitions:
    """What the UI, the daemon and every run launched from them load (workspace.yaml).

    A mistake in sources.yaml fails the code location with one line per problem (the SQL headers
    fail it already at import, when the model graph is read), so no run, scheduled or launched
    from the UI, starts on a broken configuration. Read here, when Dagster loads the location,
    not at import; without SME_PLATFORM_DIR (`sme-platform ui` sets it) there is no project to
    read and the graph is served as it is.
    """
    project_dir = os.environ.get("SME_PLATFORM_DIR")
    if not project_dir:
        return defs
    sources = load_sources(Path(project_dir))
    project = build_definitions(load_automation_config(Path(project_dir)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=dg.PreviewWarning)
        return project.map_asset_specs(func=partial(with_source_details, sources=sources))
