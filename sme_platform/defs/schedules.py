"""The nightly run of the whole graph."""

import dagster as dg

from sme_platform.defs.jobs import all_assets_job

nightly_schedule = dg.ScheduleDefinition(
    name="nightly_materialize_all",
    job=all_assets_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    description="Every night at 02:00 UTC: load the day's exports and rebuild everything after.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
