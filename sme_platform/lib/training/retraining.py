"""When the demand model is trained again: the retraining policy of `forecasting.yaml`.

A night with new data does not by itself make a new model. The model is trained again when
- no version was trained yet, or the training code, the feature definition, the forecast
  settings or the sources changed since the newest version (a price plan that arrives is a new
  source: a new recipe is judged at once);
- the data reaches `every_days` days past the newest version's (the scheduled cadence, counted
  in days of data, so a late delivery of a week counts as a week);
- the history the newest version learned from changed by `history_change_share` or more of its
  units (a late file for a month it had seen as empty, a replaced export): the units sold over
  its history days, counted again on tonight's events, against the count kept with its feature
  set. Without this a model trained while a month was missing forecast from that gap until
  the cadence came round, while the new data showed a 44 % higher level;
- the gate configuration changed since the newest version was refused;
- or a run carries a trigger: the monitoring found the serving model's inputs drifted or its live
  error grown past the thresholds (the `retrain_demand_forecast_on_drift` sensor), or a person
  asked for it (`sme-platform retrain --reason`).
Otherwise the serving model keeps forecasting from tonight's features and the run says why it
was not trained. Between scheduled retrainings a drift is what brings the next model forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
from pydantic import BaseModel, ConfigDict, Field

from sme_platform.lib.audit.log import read_events, record_event, run_actor
from sme_platform.lib.features.demand import definition_hash
from sme_platform.lib.features.gaps import filled_gaps
from sme_platform.lib.features.learned_history import (
    HISTORY_FROM,
    HISTORY_GAPS,
    HISTORY_UNITS,
    history_units,
)
from sme_platform.lib.features.settings import ForecastSettings
from sme_platform.lib.features.store import FeatureSetVersion, stored_version
from sme_platform.lib.release.gate import GateConfig
from sme_platform.lib.release.registry import ModelVersion, champion, list_versions

# A run tag naming why the model must be trained now, whatever the cadence says.
RETRAIN_TRIGGER_TAG = "sme_platform/retrain_trigger"


class RetrainingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    every_days: int = Field(
        7,
        ge=1,
        description="train a new version once the data is this many days newer than the newest "
        "version's (1: every night with a new day)",
    )
    on_drift: bool = Field(
        True,
        description="retrain when the feature_drift or prediction_drift check fails",
    )
    on_live_error: bool = Field(
        True, description="retrain when the live_accuracy check fails (live WAPE grown)"
    )
    history_change_share: float = Field(
        0.03,
        gt=0,
        description="retrain when the units sold over the history the newest version learned "
        "from changed by this share or more since (a late or replaced file)",
    )
    cooldown_hours: float = Field(
        24,
        ge=0,
        description="after a triggered retraining, the sensor waits this long before the next",
    )


@dataclass(frozen=True)
class RetrainingDecision:
    train: bool
    reason: str
    triggered_by: str | None = None  # the run's trigger, when that is what decided


def retraining_decision(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    feature_set: FeatureSetVersion,
    settings: ForecastSettings,
    code_version: str,
    policy: RetrainingConfig,
    trigger: str | None,
    gate: GateConfig | None = None,
) -> RetrainingDecision:
    """Whether tonight's run trains a new version of `model_name` on `feature_set`."""
    if trigger:
        return RetrainingDecision(True, f"triggered: {trigger}", trigger)
    versions = list_versions(con, model_name)
    if not versions:
        return RetrainingDecision(True, "no version trained yet")
    newest = versions[-1]
    if gate is not None and refused_under_another_gate(con, model_name, newest.version, gate):
        # A data team that changes the gate expects the next run to judge by it.
        return RetrainingDecision(
            True, f"the gate configuration changed since {newest.version} was refused"
        )
    changed = _recipe_change(con, newest, feature_set, settings, code_version)
    if changed:
        return RetrainingDecision(True, f"{changed} since {newest.version}")
    trained_on = stored_version(con, newest.feature_set_version)
    if trained_on is None:
        return RetrainingDecision(True, f"{newest.version}'s feature set is not recorded")
    history = _history_change(con, newest, trained_on, policy)
    if history:
        return RetrainingDecision(True, history)
    new_days = (feature_set.calendar.newest_day - trained_on.calendar.newest_day).days
    if new_days >= policy.every_days:
        return RetrainingDecision(
            True,
            f"{new_days} new days of data since {newest.version} "
            f"(retraining every {policy.every_days})",
        )
    return RetrainingDecision(
        False,
        f"not retrained: {newest.version} learned from data up to "
        f"{trained_on.calendar.newest_day}, {new_days} day(s) older than tonight's; retraining "
        f"every {policy.every_days} days of new data, or sooner on drift or live error "
        "(forecasting.yaml retraining:)",
    )


def _history_change(
    con: duckdb.DuckDBPyConnection,
    newest: ModelVersion,
    trained_on: FeatureSetVersion,
    policy: RetrainingConfig,
) -> str | None:
    """Why the history `newest` learned from has moved enough to retrain, or None: a run of days
    without a sale anywhere that a late file filled (however few its units: the model learned
    those days as no demand), or the units of the whole history by `history_change_share`."""
    counts = trained_on.counts
    recorded, first = counts.get(HISTORY_UNITS), counts.get(HISTORY_FROM)
    if recorded is None or first is None:  # a feature set stored before they were kept
        return None
    filled = filled_gaps(con, counts.get(HISTORY_GAPS, []))
    if filled:
        gap, units = filled[0]
        more = f" and {len(filled) - 1} more" if len(filled) > 1 else ""
        return (
            f"the history {newest.version} learned from changed: {gap.describe()}{more} had no "
            f"sale anywhere when it was trained and holds {units:,.0f} units now (a late file)"
        )
    day = trained_on.calendar.newest_day
    now = history_units(con, date.fromisoformat(first), day)
    if now == recorded:
        return None
    share = (now - recorded) / recorded if recorded > 0 else float("inf")
    if abs(share) < policy.history_change_share:
        return None
    return (
        f"the history {newest.version} learned from changed: {now:,.0f} units sold from "
        f"{first} to {day} now, {recorded:,.0f} when it was trained ({share:+.1%}: a late or "
        f"replaced file; retraining from {policy.history_change_share:.0%}, forecasting.yaml "
        "retraining: history_change_share)"
    )


def _recipe_change(
    con: duckdb.DuckDBPyConnection,
    newest: ModelVersion,
    feature_set: FeatureSetVersion,
    settings: ForecastSettings,
    code_version: str,
) -> str | None:
    trained_on = newest.training_data_versions
    known = trained_on.get("raw", {}) if isinstance(trained_on, dict) else {}
    new_sources = sorted(set(feature_set.input_versions.get("raw", {})) - set(known))
    if new_sources:
        return f"a new source ({', '.join(new_sources)})"
    if newest.code_version != code_version:
        return "the training code changed"
    if newest.parameters.get("settings") != settings.model_dump():
        return "the forecast settings changed"
    definitions = dict(
        con.execute(
            "select version, definition_hash from features.feature_set_versions "
            "where version in (?, ?)",
            [newest.feature_set_version, feature_set.version],
        ).fetchall()
    )
    # A feature set not stored yet (the features step asking whether to build training rows)
    # is built by this code.
    tonight = definitions.get(feature_set.version, definition_hash())
    if definitions.get(newest.feature_set_version) != tonight:
        return "the feature definition changed"
    return None


def record_trigger(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    trigger: str,
    feature_set_version: str,
    run_id: str,
) -> None:
    """The audit log says why this version was trained before its cadence: the event names the
    serving model whose monitoring (or whose person) asked for it."""
    serving = champion(con, model_name)
    record_event(
        con,
        event="retraining_triggered",
        model_name=model_name,
        model_version=serving.version if serving else None,
        actor=run_actor(run_id),
        reason=trigger,
        details={"feature_set_version": feature_set_version},
        run_id=run_id,
    )


def refused_under_another_gate(
    con: duckdb.DuckDBPyConnection, model_name: str, version: str, gate: GateConfig
) -> bool:
    """Whether the gate's last refusal of `version` was made under another configuration."""
    refusals = [
        event
        for event in read_events(con, model_name)
        if event.event == "gate_refused" and event.model_version == version
    ]
    if not refusals:
        return False
    judged_under = refusals[-1].details.get("figures", {}).get("config")
    return judged_under != gate.model_dump()
