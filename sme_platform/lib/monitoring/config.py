"""The monitoring settings of the demand forecast: the `monitoring:` section of
`forecasting.yaml` (every key optional)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MonitoringConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drift_method: str = Field(
        "wasserstein",
        description="Evidently's drift method per feature (wasserstein, psi, ks, ...)",
    )
    drift_threshold: float = Field(
        0.1, gt=0, description="a feature drifts at this score (a distance; a p-value below it)"
    )
    drift_share: float = Field(
        0.3,
        gt=0,
        le=1,
        description="the feature_drift check fails when this share of the features drifted",
    )
    reference_rows: int = Field(
        20_000,
        ge=100,
        description="most rows of the drift reference (the champion's first "
        "scoring rows), sampled by series",
    )
    live_window_days: int = Field(
        7, ge=1, description="the newest days with actuals judged by the live_accuracy check"
    )
    max_live_wape_increase: float = Field(
        0.25,
        ge=0,
        description="live_accuracy fails when the live WAPE exceeds the model's holdout WAPE "
        "by more than this share",
    )
