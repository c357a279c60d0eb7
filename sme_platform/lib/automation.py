"""The project's automation settings, `automation.yaml` (every key optional):

    schedule: {cron: "0 2 * * *", timezone: "Europe/Berlin"}
    alerts: {webhook_env: SME_ALERT_WEBHOOK_URL, ui_url: "http://127.0.0.1:3000"}
    freshness: {warn_after_hours: 26, fail_after_hours: 36}
    retention: {quarantine_days: 365, rejected_files_days: 365, monitoring_reports_days: 180,
                run_history_days: 365, forecast_log_days: 400, cron: "0 4 * * 0"}

The nightly schedule and the alerts are configured here, not in code, so a company sets its
own night and time zone; the webhook's URL itself is a secret and stays in the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sme_platform.lib.config.settings_file import load_settings_file

AUTOMATION_FILE = "automation.yaml"


def five_field_cron(value: str) -> str:
    if len(value.split()) != 5:
        raise ValueError(f"{value!r} is not a cron expression of 5 fields")
    return value


class ScheduleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str = Field("0 2 * * *", description="when the nightly run starts (cron, 5 fields)")
    timezone: str = Field("UTC", description="IANA time zone of the cron, e.g. Europe/Berlin")

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        return five_field_cron(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"{value!r} is not a known time zone") from error
        return value


class AlertConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook_env: str = Field(
        "SME_ALERT_WEBHOOK_URL",
        description="the environment variable holding the webhook URL (unset: log only)",
    )
    ui_url: str = Field("http://127.0.0.1:3000", description="the UI's address, for links")
    attempts: int = Field(3, ge=1, le=10)

    def webhook_url(self) -> str | None:
        return os.environ.get(self.webhook_env) or None


class FreshnessConfig(BaseModel):
    """How old the sources (raw/*) and the KPI reports (reports/*) may be before the UI shows
    them as stale: a nightly graph is a day old at most, plus the run's length."""

    model_config = ConfigDict(extra="forbid")

    warn_after_hours: float = Field(26, gt=0)
    fail_after_hours: float = Field(36, gt=0)

    @model_validator(mode="after")
    def _warn_first(self) -> FreshnessConfig:
        if self.warn_after_hours > self.fail_after_hours:
            raise ValueError(
                f"warn_after_hours ({self.warn_after_hours:g}) is after fail_after_hours "
                f"({self.fail_after_hours:g})"
            )
        return self


# The live ROI reads up to 8 review periods of at most 14 days back, and an order cycle after
# each (lib/monitoring/live_roi): a shorter forecast log would cut it short.
FORECAST_LOG_MIN_DAYS = 130


class RetentionConfig(BaseModel):
    """How long the platform keeps what it holds about bad data and its own runs; the
    purge_expired job (on `cron`, in the schedule's time zone) removes what is older."""

    model_config = ConfigDict(extra="forbid")

    quarantine_days: int = Field(365, ge=0, description="quarantined rows (original values)")
    rejected_files_days: int = Field(
        365, ge=0, description="kept copies of rejected files, after their last rejection"
    )
    monitoring_reports_days: int = Field(180, ge=0, description="Evidently HTML reports")
    run_history_days: int = Field(365, ge=0, description="Dagster runs and their event logs")
    forecast_log_days: int = Field(
        400,
        ge=FORECAST_LOG_MIN_DAYS,
        description="published forecasts in ml.forecast_log, by when they were scored (each "
        "model's newest scoring and each version's first are kept; the live accuracy computed "
        "from them stays)",
    )
    cron: str = Field("0 4 * * 0", description="when the purge runs (cron, 5 fields)")

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        return five_field_cron(value)


class AutomationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    alerts: AlertConfig = Field(default_factory=AlertConfig)
    freshness: FreshnessConfig = Field(default_factory=FreshnessConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)


class AutomationConfigError(ValueError):
    pass


def load_automation_config(project_dir: Path | str | None) -> AutomationConfig:
    if project_dir is None:
        return AutomationConfig()
    return load_settings_file(
        Path(project_dir) / AUTOMATION_FILE, AutomationConfig, AutomationConfigError
    )
