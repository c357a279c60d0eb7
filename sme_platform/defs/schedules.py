"""The nightly run of the whole graph, at the time and in the time zone of automation.yaml."""

import dagster as dg

from sme_platform.defs.jobs import all_assets_job
from sme_platform.lib.automation import ScheduleConfig

NIGHTLY_SCHEDULE_NAME = "nightly_materialize_all"


def nightly_schedule_for(config: ScheduleConfig) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=NIGHTLY_SCHEDULE_NAME,
        job=all_assets_job,
        cron_schedule=config.cron,
        execution_timezone=config.timezone,
        description=f"Every night ({config.cron}, {config.timezone}; set in automation.yaml): "
        "load the day's exports and rebuild everything after.",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )


nightly_schedule = nightly_schedule_for(ScheduleConfig())
