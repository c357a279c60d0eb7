"""What the night's monitoring asks of the retraining sensor: train the model again, and why.

The signal is computed where the checks are (the monitoring asset) and carried in that asset's
metadata, so the sensor reads Dagster's event log and never opens the warehouse a run may be
writing. Its run key names the model, the serving version and the reference window the drift was
measured against: the sensor fires once per drift of one model against one reference, however
many nights the drift lasts, until a new model (a new reference) is serving.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sme_platform.lib.governance import CheckOutcome
from sme_platform.lib.release.registry import ModelVersion
from sme_platform.lib.training.retraining import RetrainingConfig


@dataclass(frozen=True)
class RetrainingSignal:
    model_name: str
    model_version: str
    reference_window: str  # the reference rows' scoring origin and feature set version
    reasons: tuple[str, ...]  # empty: no retraining asked for

    @property
    def fires(self) -> bool:
        return bool(self.reasons)

    @property
    def run_key(self) -> str:
        return f"retrain-{self.model_name}-{self.model_version}-{self.reference_window}"

    @property
    def trigger(self) -> str:
        """The run tag's value: one line a person reads in the run list and the audit log."""
        return f"{self.model_name} {self.model_version}: " + "; ".join(self.reasons)


def reference_window(reference_feature_set: str, reference_origin: date | None) -> str:
    return f"{reference_origin or 'unknown'}.{reference_feature_set[:12]}"


DRIFT_LABELS = {"feature_drift": "feature drift", "prediction_drift": "prediction drift"}


def retraining_signal(
    model: ModelVersion,
    window: str,
    drift: list[CheckOutcome],
    live: CheckOutcome,
    policy: RetrainingConfig,
) -> RetrainingSignal:
    """`drift`: the feature and prediction drift checks (on_drift), `live`: the live accuracy
    check (on_live_error)."""
    reasons = []
    for outcome in drift:
        if policy.on_drift and not outcome.passed:
            label = DRIFT_LABELS.get(outcome.name, outcome.name)
            reasons.append(f"{label}: {_first_sentence(outcome.description)}")
    if policy.on_live_error and not live.passed:
        reasons.append(f"live error: {_first_sentence(live.description)}")
    return RetrainingSignal(model.model_name, model.version, window, tuple(reasons))


def _first_sentence(text: str) -> str:
    # The checks' descriptions end with the report's path; the trigger keeps the finding.
    return text.split(". Report:")[0]
