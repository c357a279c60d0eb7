"""The project's forecasting configuration, `forecasting.yaml`: one pydantic model.

    demand_forecast: {horizon_days: 14, active_days: 56, training_row_budget: 400000, ...}
    gate: {margin: 0.02, max_abs_bias: 0.1, high_impact: false, canary_share: 0.2, ...}
    business: {lead_time_days: 2, review_period_days: 7, holding_cost_rate_per_year: 0.25, ...}
    monitoring: {drift_method: wasserstein, drift_threshold: 0.1, drift_share: 0.3, ...}
    retraining: {every_days: 7, on_drift: true, on_live_error: true, cooldown_hours: 24}

Every section and key is optional (defaults suit a small company); an unknown key is an error
naming the file and the key, so a typo never silently keeps a default.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from sme_platform.lib.config.settings_file import load_settings_file
from sme_platform.lib.features.settings import ForecastSettings
from sme_platform.lib.monitoring.config import MonitoringConfig
from sme_platform.lib.release.gate import GateConfig
from sme_platform.lib.training.business import BusinessAssumptions
from sme_platform.lib.training.forecast_summary import DEMAND_MODEL_NAME
from sme_platform.lib.training.retraining import RetrainingConfig

CONFIG_FILE = "forecasting.yaml"
MODEL_NAME = DEMAND_MODEL_NAME


class ForecastingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    demand_forecast: ForecastSettings = Field(default_factory=ForecastSettings)
    gate: GateConfig = Field(default_factory=GateConfig)
    business: BusinessAssumptions = Field(default_factory=BusinessAssumptions)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    retraining: RetrainingConfig = Field(default_factory=RetrainingConfig)
    autoets_series: int = Field(
        20, ge=0, description="series (top by units) the AutoETS peer runs on; ADIDA on the rest"
    )


class ForecastingConfigError(ValueError):
    pass


def load_forecasting_config(project_dir: Path) -> ForecastingConfig:
    return load_settings_file(
        Path(project_dir) / CONFIG_FILE, ForecastingConfig, ForecastingConfigError
    )
