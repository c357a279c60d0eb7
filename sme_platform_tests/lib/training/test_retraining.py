"""When a night trains a new version of the demand model: the cadence, a new recipe or source,
and a trigger; and the audit row a trigger leaves."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from sme_platform.lib.audit.log import read_events
from sme_platform.lib.features.learned_history import (
    HISTORY_FROM,
    HISTORY_UNITS,
    history_counts,
    history_start,
)
from sme_platform.lib.features.origins import ForecastCalendar
from sme_platform.lib.features.settings import ForecastSettings
from sme_platform.lib.features.store import FeatureSetVersion, _ensure_versions_table
from sme_platform.lib.release.registry import register_version
from sme_platform.lib.release.status import transition
from sme_platform.lib.training.retraining import (
    RetrainingConfig,
    record_trigger,
    retraining_decision,
)
from sme_platform.lib.warehouse import connect

SETTINGS = ForecastSettings()
CODE = "code-1"
TRAINED_UP_TO = date(2025, 6, 30)
# The first day its features saw: the oldest training origin's lookback (644 days).
HISTORY_FIRST = date(2023, 9, 26)
SOURCES = {"raw": {"sales_lines": {"files": 3, "sha256": "aa"}}, "models": {}}


@pytest.fixture
def con(tmp_path):
    with connect(tmp_path / "warehouse.duckdb") as connection:
        connection.execute("create schema if not exists features")
        _ensure_versions_table(connection)
        yield connection


def feature_set(con, version, newest_day, definition="def-1", inputs=SOURCES, counts=None):
    con.execute(
        "insert into features.feature_set_versions (version, definition_hash, newest_day, "
        "settings, input_versions, counts) values (?, ?, ?, ?, ?, ?)",
        [
            version,
            definition,
            newest_day,
            json.dumps({"horizon_days": 14, "backtest_folds": 4}),
            json.dumps(inputs),
            json.dumps(counts or {}),
        ],
    )
    calendar = ForecastCalendar(newest_day, 14, 4)
    return FeatureSetVersion(version, False, 0, 0, calendar, inputs, counts or {})


def trained_version(con, tmp_path, counts=None, **parameters):
    feature_set(con, "fs-1", TRAINED_UP_TO, counts=counts)
    metadata = {
        "feature_set_version": "fs-1",
        "training_data_versions": SOURCES,
        "code_version": CODE,
        "parameters": {"settings": SETTINGS.model_dump(), **parameters},
        "metrics": {},
        "backtest": {},
        "business": {},
    }
    return register_version(
        con, tmp_path / "models", "demand_forecast", "tree\n", metadata, run_id="r1"
    )


def decide(con, tonight, trigger=None, every_days=7, settings=SETTINGS, code=CODE):
    policy = RetrainingConfig(every_days=every_days)
    return retraining_decision(con, "demand_forecast", tonight, settings, code, policy, trigger)


def test_the_first_night_trains(con):
    tonight = feature_set(con, "fs-1", TRAINED_UP_TO)
    decision = decide(con, tonight)
    assert decision.train and decision.reason == "no version trained yet"


def test_new_days_train_once_the_cadence_is_reached(con, tmp_path):
    trained_version(con, tmp_path)
    three_days = feature_set(con, "fs-2", TRAINED_UP_TO + timedelta(days=3))
    decision = decide(con, three_days)
    assert not decision.train
    assert decision.reason == (
        "not retrained: v1 learned from data up to 2025-06-30, 3 day(s) older than tonight's; "
        "retraining every 7 days of new data, or sooner on drift or live error "
        "(forecasting.yaml retraining:)"
    )
    week = feature_set(con, "fs-3", TRAINED_UP_TO + timedelta(days=7))
    assert decide(con, week).reason == "7 new days of data since v1 (retraining every 7)"
    assert decide(con, three_days, every_days=1).train  # every night with a new day


def test_a_corrected_file_without_new_days_waits_for_the_cadence(con, tmp_path):
    trained_version(con, tmp_path)
    corrected = {"raw": {"sales_lines": {"files": 3, "sha256": "bb"}}, "models": {}}
    tonight = feature_set(con, "fs-2", TRAINED_UP_TO, inputs=corrected)
    assert not decide(con, tonight).train


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"code": "code-2"}, "the training code changed since v1"),
        ({"settings": ForecastSettings(active_days=28)}, "the forecast settings changed since v1"),
        ({"definition": "def-2"}, "the feature definition changed since v1"),
        ({"inputs": {"raw": {**SOURCES["raw"], "prices": {}}}}, "a new source (prices) since v1"),
    ],
)
def test_a_new_recipe_or_source_trains_at_once(con, tmp_path, change, reason):
    trained_version(con, tmp_path)
    tonight = feature_set(
        con,
        "fs-2",
        TRAINED_UP_TO + timedelta(days=1),
        definition=change.get("definition", "def-1"),
        inputs=change.get("inputs", SOURCES),
    )
    decision = decide(
        con, tonight, settings=change.get("settings", SETTINGS), code=change.get("code", CODE)
    )
    assert decision.train and decision.reason == reason


def test_a_trigger_trains_whatever_the_cadence_and_is_audited(con, tmp_path):
    version = trained_version(con, tmp_path)
    for status in ("challenger", "champion"):
        transition(con, "demand_forecast", version.version, status, actor="run:r1", reason="ok")
    tonight = feature_set(con, "fs-2", TRAINED_UP_TO + timedelta(days=1))
    trigger = "demand_forecast v1: feature drift: 6 of 11 features drifted"
    decision = decide(con, tonight, trigger=trigger)
    assert (decision.train, decision.triggered_by) == (True, trigger)
    assert decision.reason == f"triggered: {trigger}"
    record_trigger(con, "demand_forecast", trigger, "fs-2", "run-2")
    (event,) = [e for e in read_events(con, "demand_forecast") if e.event == "retraining_triggered"]
    assert (event.model_version, event.actor, event.reason, event.run_id) == (
        "v1",
        "run:run-2",
        trigger,
        "run-2",
    )
    assert event.details == {"feature_set_version": "fs-2"}


def test_the_policy_rejects_a_cadence_below_one_day():
    with pytest.raises(ValueError, match="every_days"):
        RetrainingConfig(every_days=0)


def test_a_changed_gate_retrains_a_refused_version_without_new_days(con, tmp_path):
    from sme_platform.lib.audit.log import record_event
    from sme_platform.lib.release.gate import GateConfig

    trained_version(con, tmp_path)
    record_event(
        con,
        event="gate_refused",
        model_name="demand_forecast",
        model_version="v1",
        actor="run:r1",
        reason="bias outside ±10 %",
        details={"figures": {"config": GateConfig(max_abs_bias=0.1).model_dump()}},
    )
    tonight = feature_set(con, "fs-2", TRAINED_UP_TO)
    policy = RetrainingConfig()
    same = GateConfig(max_abs_bias=0.1)
    looser = GateConfig(max_abs_bias=0.3)
    args = (con, "demand_forecast", tonight, SETTINGS, CODE, policy, None)
    assert not retraining_decision(*args, same).train
    decision = retraining_decision(*args, looser)
    assert decision.train
    assert decision.reason == "the gate configuration changed since v1 was refused"


def sales(con, first_day, days, units_a_day):
    con.execute(
        "create table if not exists features.demand_events "
        "(sku varchar, location_id varchar, date date, units double, known_on date)"
    )
    for n in range(days):
        day = first_day + timedelta(days=n)
        con.execute(
            "insert into features.demand_events values ('A', 'S1', ?, ?, ?)",
            [day, units_a_day, day + timedelta(days=1)],
        )


def counted(con) -> dict:
    return history_counts(con, ForecastCalendar(TRAINED_UP_TO, 14, 4), SETTINGS)


def test_the_history_is_every_day_the_oldest_training_origin_looked_back_to():
    calendar = ForecastCalendar(TRAINED_UP_TO, 14, 4)
    assert history_start(calendar, SETTINGS) == HISTORY_FIRST
    assert (TRAINED_UP_TO - HISTORY_FIRST).days + 1 == 644


def test_a_late_file_that_moves_the_learned_history_trains_at_once(con, tmp_path):
    # Trained while September was missing: 60 days of 10 units, 600 units of history.
    sales(con, TRAINED_UP_TO - timedelta(days=59), 60, 10.0)
    recorded = counted(con)
    assert recorded == {
        HISTORY_FROM: "2023-09-26",
        HISTORY_UNITS: 600.0,
        "history_gaps": [],  # before the first sale is no gap
    }
    trained_version(con, tmp_path, counts=recorded)
    tonight = feature_set(con, "fs-2", TRAINED_UP_TO + timedelta(days=1))
    assert not decide(con, tonight).train
    # A late file of 2 days (20 units, 3.3 %) for days the version had seen as empty.
    sales(con, TRAINED_UP_TO - timedelta(days=99), 2, 10.0)
    decision = decide(con, tonight)
    assert decision.train
    assert decision.reason == (
        "the history v1 learned from changed: 620 units sold from 2023-09-26 to 2025-06-30 "
        "now, 600 when it was trained (+3.3%: a late or replaced file; retraining from 3%, "
        "forecasting.yaml retraining: history_change_share)"
    )
    # A company that accepts more waits for the cadence.
    policy = RetrainingConfig(history_change_share=0.05)
    assert not retraining_decision(
        con, "demand_forecast", tonight, SETTINGS, CODE, policy, None
    ).train


def test_a_replaced_export_with_fewer_units_trains_and_old_days_do_not_count(con, tmp_path):
    sales(con, TRAINED_UP_TO - timedelta(days=59), 60, 10.0)
    trained_version(con, tmp_path, counts=counted(con))
    tonight = feature_set(con, "fs-2", TRAINED_UP_TO)
    # Sales older than the 644 days a version's features see: not its history.
    sales(con, HISTORY_FIRST - timedelta(days=30), 30, 10.0)
    assert not decide(con, tonight).train
    # A month-to-date export replaced with corrected lines: 60 units fewer.
    con.execute(
        "update features.demand_events set units = 4 where date > ?",
        [TRAINED_UP_TO - timedelta(days=10)],
    )
    decision = decide(con, tonight)
    assert decision.train and "540 units sold" in decision.reason and "(-10.0%" in decision.reason


def test_a_version_stored_before_the_history_was_counted_keeps_the_cadence(con, tmp_path):
    sales(con, TRAINED_UP_TO - timedelta(days=59), 60, 10.0)
    trained_version(con, tmp_path)  # no history_units in its counts
    sales(con, TRAINED_UP_TO - timedelta(days=99), 30, 10.0)
    assert not decide(con, feature_set(con, "fs-2", TRAINED_UP_TO)).train


def test_a_late_file_for_the_oldest_origins_lookback_trains(con, tmp_path):
    # The first training origin reads 182 days back from 2024-03-26: 98 days more than the
    # training window and the lookback alone (546 days) would count.
    sales(con, TRAINED_UP_TO - timedelta(days=59), 60, 10.0)
    trained_version(con, tmp_path, counts=counted(con))
    sales(con, date(2023, 10, 1), 30, 100.0)
    decision = decide(con, feature_set(con, "fs-2", TRAINED_UP_TO))
    assert decision.train and "3,600 units sold from 2023-09-26" in decision.reason


def test_a_late_file_that_fills_a_learned_gap_trains_however_few_its_units(con, tmp_path):
    # 600 days of 10 units a day; no sale anywhere for 5 days in March.
    sales(con, TRAINED_UP_TO - timedelta(days=599), 600, 10.0)
    con.execute(
        "delete from features.demand_events where date between '2025-03-03' and '2025-03-07'"
    )
    recorded = counted(con)
    assert recorded["history_gaps"] == [["2025-03-03", "2025-03-07"]]
    trained_version(con, tmp_path, counts=recorded)
    tonight = feature_set(con, "fs-2", TRAINED_UP_TO)
    assert not decide(con, tonight).train
    # The late file brings one day of the five: 10 units, 0.2 % of the history.
    sales(con, date(2025, 3, 4), 1, 10.0)
    decision = decide(con, tonight)
    assert decision.train
    assert decision.reason == (
        "the history v1 learned from changed: 2025-03-03..2025-03-07 (5 days) had no sale "
        "anywhere when it was trained and holds 10 units now (a late file)"
    )
