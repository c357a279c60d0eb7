"""The warm-up fold: forecast by the demand model alone, `horizon_days` before the calibration
fold, so the calibration fold's forecasts are level-corrected out of sample like every later
fold's; no method is judged on it, and a history too short for it leaves the calibration fold
uncorrected, saying why."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest

from sme_platform.lib.features.origins import CALIBRATION, JUDGED_FOLDS, WARMUP
from sme_platform.lib.features.settings import ForecastSettings
from sme_platform.lib.features.store import materialize_feature_set
from sme_platform.lib.training.backtest import backtest_model
from sme_platform.lib.training.level_correction import level_factor
from sme_platform.lib.training.model import train
from sme_platform.lib.training.pipeline import evaluation_history, fold_series, history_shortfall
from sme_platform.lib.warehouse import connect
from sme_platform_tests.ml.synthetic_company import write_company

SETTINGS = ForecastSettings(training_row_budget=20_000)


@contextmanager
def company_feature_set(tmp_path, settings=SETTINGS, days=300, pattern="learnable"):
    """A synthetic company's warehouse, open, with its feature set built: (con, feature_set)."""
    project = tmp_path / "company"
    write_company(project, days=days, pattern=pattern)
    with connect(project / "data" / "warehouse.duckdb") as con:
        yield con, materialize_feature_set(con, settings, {}, "run-1")


def test_the_warmup_fold_corrects_the_calibration_fold_and_is_judged_by_no_one(tmp_path):
    with company_feature_set(tmp_path) as (con, feature_set):
        calendar = feature_set.calendar
        version = feature_set.version
        assert calendar.warmup_origin == calendar.fold_origins()[CALIBRATION] - timedelta(days=14)
        assert list(calendar.model_fold_origins()) == [WARMUP, *calendar.fold_origins()]
        stored = dict(
            con.execute(
                """select fold, count(*) from features.demand_features
                   where feature_set_version = $v and fold is not null group by all""",
                {"v": version},
            ).fetchall()
        )
        judged = con.execute(
            f"""select count(*) from features.demand_features
                where feature_set_version = $v and {JUDGED_FOLDS}""",
            {"v": version},
        ).fetchone()[0]
        assert stored[WARMUP] > 0 and judged == sum(stored.values()) - stored[WARMUP]
        # The peers' history and series come from the judged folds only.
        assert WARMUP not in fold_series(con, version)
        first_day = evaluation_history(con, version)["date"].min()
        assert first_day > calendar.warmup_origin - timedelta(days=200)
        assert history_shortfall(con, version, calendar) is None

        trained = []

        def counting_train(frame, seed):
            trained.append(frame["target_date"].max())
            return train(frame, seed)

        backtest = backtest_model(con, version, SETTINGS, calendar, [], train_model=counting_train)
    # The warm-up model learned only from days before the warm-up origin.
    assert len(trained) == len(calendar.fold_origins()) + 2
    assert trained[0] < calendar.warmup_origin
    warmup = backtest.warmup
    assert warmup["origin"] == calendar.warmup_origin.isoformat()
    assert warmup["rows"] == stored[WARMUP] * 14 and "skipped" not in warmup
    assert warmup["sold"] > 0 and warmup["forecast"] > 0
    # The calibration fold is corrected by the warm-up's units sold over forecast ...
    assert backtest.level_factors[CALIBRATION] == pytest.approx(
        level_factor(warmup["sold"], warmup["forecast"]),
        rel=1e-4,  # rounded to cents
    )
    assert backtest.level_factors[CALIBRATION] != 1.0
    # ... and the warm-up's forecasts are nobody's to judge.
    assert WARMUP not in set(backtest.forecasts["fold"])
    assert set(backtest.level_factors) == {*calendar.fold_origins(), "final"}


def test_a_history_too_short_for_the_warmup_leaves_the_calibration_fold_uncorrected(tmp_path):
    # One fold of 7 days: the warm-up origin is 27 days before the newest of 35 days, and no
    # training row ends before it.
    settings = ForecastSettings(
        horizon_days=7, backtest_folds=1, training_window_days=63, active_days=7
    )
    with company_feature_set(tmp_path, settings, days=35, pattern="noise") as (con, feature_set):
        assert history_shortfall(con, feature_set.version, feature_set.calendar) is None
        backtest = backtest_model(con, feature_set.version, settings, feature_set.calendar, [])
    assert backtest.warmup["skipped"].startswith("history too short for a warm-up fold")
    assert backtest.level_factors[CALIBRATION] == 1.0
    assert set(backtest.forecasts["fold"]) == {CALIBRATION, "fold_1", "holdout"}


def test_a_feature_set_built_before_the_warmup_fold_says_so(tmp_path):
    # A version stored by code before 2026-12-04 planned no warm-up rows: its backtest (a
    # benchmark re-judging an old warehouse) skips the warm-up for that reason, not for a short
    # history.
    with company_feature_set(tmp_path) as (con, feature_set):
        version = feature_set.version
        con.execute(
            "delete from features.demand_features where feature_set_version = $v and fold = $w",
            {"v": version, "w": WARMUP},
        )
        con.execute(
            """update features.feature_set_versions
               set fold_origins = json_object('calibration', fold_origins->>'calibration')
               where version = $v""",
            {"v": version},
        )
        backtest = backtest_model(con, version, SETTINGS, feature_set.calendar, [])
    assert backtest.warmup["skipped"] == (
        f"feature set version {version} was built before the warm-up fold existed "
        "(features built again plan one)"
    )
    assert backtest.level_factors[CALIBRATION] == 1.0
