"""Feature set versions: same inputs, same version (reused); new data, new version with its
provenance; the training frame of a stored version rebuilt; old versions pruned, not those a
serving model uses; the model trained twice on it is the same, byte for byte."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from sme_platform.lib.features.demand import SKU_LEVEL_COLUMNS
from sme_platform.lib.features.settings import ForecastSettings
from sme_platform.lib.features.store import KEEP_VERSIONS, materialize_feature_set, prune_versions
from sme_platform.lib.training import model as model_module
from sme_platform.lib.training.backtest import backtest_model
from sme_platform.lib.training.frames import categorical_codes, expand
from sme_platform.lib.training.model import (
    OFFSET_FLOOR,
    OFFSET_WINDOWS,
    RECENT_MEAN_WEIGHT,
    RECENT_MEAN_WEIGHT_ACROSS_LOCATIONS,
    RECENT_MEAN_WINDOWS,
    load,
    train,
)
from sme_platform.lib.warehouse import connect
from sme_platform_tests.ml.synthetic_company import add_days, write_company

SETTINGS = ForecastSettings(training_row_budget=20_000)


def training_frame(tmp_path) -> pl.DataFrame:
    """The training frame of a learnable synthetic company's first feature set version."""
    project = tmp_path / "company"
    write_company(project, days=300, pattern="learnable")
    with connect(project / "data" / "warehouse.duckdb") as con:
        version = materialize_feature_set(con, SETTINGS, {}, "run-1").version
        return expand(con, version, "for_training", 14, [])


def test_versions_are_reused_traced_rebuilt_and_pruned(tmp_path):
    project = tmp_path / "company"
    write_company(project, days=300, pattern="learnable")
    warehouse = project / "data" / "warehouse.duckdb"
    with connect(warehouse) as con:
        first = materialize_feature_set(con, SETTINGS, {"staging.sales_lines": "abc"}, "run-1")
        again = materialize_feature_set(con, SETTINGS, {"staging.sales_lines": "abc"}, "run-2")
        assert not first.reused and again.reused and again.version == first.version
        # A changed model's code is a new version too.
        changed = materialize_feature_set(con, SETTINGS, {"staging.sales_lines": "def"}, "run-3")
        assert changed.version != first.version
        training_rows = expand(con, first.version, "for_training", 14, []).height
    add_days(project, first_day=300, days=7, pattern="learnable", run=4)
    with connect(warehouse) as con:
        newer = materialize_feature_set(con, SETTINGS, {"staging.sales_lines": "abc"}, "run-4")
        assert newer.version not in (first.version, changed.version)
        assert newer.calendar.newest_day > first.calendar.newest_day
        inputs, counts, run_id = con.execute(
            "select input_versions, counts, run_id from features.feature_set_versions "
            "where version = ?",
            [newer.version],
        ).fetchone()
        inputs = json.loads(inputs)
        assert inputs["raw"]["sales_lines"]["files"] == 307
        assert inputs["models"] == {"staging.sales_lines": "abc"}
        assert json.loads(counts)["scoring_series"] == 12 and run_id == "run-4"
        # The units its features could see (from the oldest origin's lookback: here all 307
        # days) and the gaps in them, kept so a late file that changes them later retrains
        # the model (lib/training/retraining.py).
        sold = con.execute("select sum(units) from features.demand_events").fetchone()[0]
        first_sale = con.execute("select min(date) from features.demand_events").fetchone()[0]
        history = json.loads(counts)
        assert history["history_units"] == sold > 0
        assert history["history_from"] < str(first_sale) and history["history_gaps"] == []
        # The first version's training frame is still there, row for row.
        assert expand(con, first.version, "for_training", 14, []).height == training_rows

        # Beyond the newest KEEP_VERSIONS, rows go, unless a serving model uses the version.
        con.execute("create schema if not exists ml")
        con.execute(
            "create table ml.model_registry as select 'demand_forecast' as model_name, "
            "'champion' as status, ? as feature_set_version",
            [first.version],
        )
        for n in range(KEEP_VERSIONS):
            materialize_feature_set(con, SETTINGS, {"staging.sales_lines": f"x{n}"}, f"r{n}")
        prune_versions(con)
        kept = {
            r[0]
            for r in con.execute(
                "select distinct feature_set_version from features.demand_features"
            ).fetchall()
        }
        assert first.version in kept  # the champion's
        assert changed.version not in kept and newer.version not in kept
        assert len(kept) == KEEP_VERSIONS + 1
        # Provenance is never deleted.
        assert (
            con.execute("select count(*) from features.feature_set_versions").fetchone()[0]
            == 3 + KEEP_VERSIONS
        )


def test_training_twice_gives_the_same_model_bytes(tmp_path):
    frame = training_frame(tmp_path)
    first, second = train(frame, seed=42), train(frame.clone(), seed=42)
    assert first.text() == second.text() and first.sha256() == second.sha256()
    assert train(frame, seed=43).sha256() != first.sha256()
    assert frame.filter(pl.col("censored")).height == 0


def test_forecast_leans_on_the_recent_level_and_old_versions_score_as_trained(tmp_path):
    frame = training_frame(tmp_path)
    # One location: no SKU level across locations, no offset, a share of the recent level.
    frame = frame.filter(pl.col("location_id") == frame["location_id"].min())
    model = train(frame, seed=42)
    assert model.recent_mean_weight == RECENT_MEAN_WEIGHT > 0 and model.offset_windows == ()
    assert model.recent_mean_windows == RECENT_MEAN_WINDOWS == (28, 182)
    model.level_factor = 1.1
    lightgbm_alone = model.raw_predict(frame)
    weight = RECENT_MEAN_WEIGHT
    # The level: the mean of the 28-day and the 182-day means (they differ on this company).
    level = (frame["mean_28"].to_numpy() + frame["mean_182"].to_numpy()) / 2
    assert not np.allclose(level, frame["mean_28"].to_numpy())
    expected = ((1 - weight) * lightgbm_alone + weight * level) * 1.1
    assert np.allclose(model.predict(frame), expected)
    assert not np.allclose(model.predict(frame), lightgbm_alone * 1.1)
    # A version registered with the weight but before the windows were recorded: the 28-day mean.
    former = load(model.text(), model.categories, model.parameters, 1.1, weight)
    recent_mean = frame["mean_28"].to_numpy()
    assert np.allclose(
        former.predict(frame), ((1 - weight) * lightgbm_alone + weight * recent_mean) * 1.1
    )
    # One registered before the blend has no weight recorded: pure LightGBM, as trained.
    old = load(model.text(), model.categories, model.parameters, level_factor=1.1)
    assert np.allclose(old.predict(frame), lightgbm_alone * 1.1)


def test_across_locations_the_trees_learn_a_day_against_the_series_own_level(tmp_path):
    frame = training_frame(tmp_path)
    assert frame["location_id"].n_unique() > 1
    model = train(frame, seed=42)
    assert model.offset_windows == OFFSET_WINDOWS == (28, 182)
    assert model.recent_mean_weight == RECENT_MEAN_WEIGHT_ACROSS_LOCATIONS == 0.0
    model.level_factor = 1.1
    # The forecast: exp(the trees' raw score + log of the level), the level at least the floor
    # (a series that sold nothing in 182 days), capped as every forecast is, then corrected.
    coded, _ = categorical_codes(frame, model.categories)
    scores = model.booster.predict(
        coded.select(model.inputs()).to_numpy().astype(np.float64), raw_score=True
    )
    level = (frame["mean_28"].to_numpy() + frame["mean_182"].to_numpy()) / 2
    expected = np.minimum(
        np.exp(scores) * np.maximum(level, OFFSET_FLOOR), model_module.ceiling(frame)
    )
    assert np.allclose(model.predict(frame), expected * 1.1)
    # The trees alone are not the forecast: scored without its offset, the version would be wrong.
    unoffset = load(model.text(), model.categories, model.parameters, 1.1, 0.0, (28, 182))
    assert not np.allclose(unoffset.predict(frame), model.predict(frame), rtol=0.05)
    reloaded = load(
        model.text(), model.categories, model.parameters, 1.1, 0.0, (28, 182), (28, 182)
    )
    assert np.array_equal(reloaded.predict(frame), model.predict(frame))


def test_a_night_that_trains_nothing_builds_the_scoring_rows_alone(tmp_path):
    """Training and backtest rows only when a model is trained on them; a scoring-only version
    trained on later is built again in full, under the same version, its scoring rows unchanged."""
    project = tmp_path / "company"
    write_company(project, days=300, pattern="learnable")
    warehouse = project / "data" / "warehouse.duckdb"
    asked = []

    def trains(answer):
        def trains_on(candidate):
            asked.append(candidate)
            return answer

        return trains_on

    def rows(con, version):
        return con.execute(
            """select count(*) filter (where for_scoring), count(*) filter (where for_training),
                      count(*) filter (where fold is not null),
                      (select count(*) from features.demand_targets
                       where feature_set_version = $v)
               from features.demand_features where feature_set_version = $v""",
            {"v": version},
        ).fetchone()

    def scoring_rows(con, version):
        return con.execute(
            "select * exclude (feature_set_version) from features.demand_features "
            "where feature_set_version = ? and for_scoring order by sku, location_id",
            [version],
        ).pl()

    with connect(warehouse) as con:
        scoring = materialize_feature_set(con, SETTINGS, {}, "run-1", trains_on=trains(False))
        (candidate,) = asked
        assert (candidate.version, candidate.calendar) == (scoring.version, scoring.calendar)
        assert not candidate.reused and candidate.input_versions == scoring.input_versions
        assert scoring.scoring_only and scoring.target_rows == 0
        assert rows(con, scoring.version) == (12, 0, 0, 0)
        assert scoring.row_count == 12 and scoring.counts["training_series"] == 0
        served = scoring_rows(con, scoring.version)

        # The same inputs, still no training: the stored version stands.
        again = materialize_feature_set(con, SETTINGS, {}, "run-2", trains_on=trains(False))
        assert again.reused and again.scoring_only and again.run_id == "run-1"

        # Now a model is to be trained on it: every row, the same version, the same scoring rows.
        full = materialize_feature_set(con, SETTINGS, {}, "run-3", trains_on=trains(True))
        assert (full.version, full.reused, full.scoring_only) == (scoring.version, False, False)
        scoring_count, training, folds, targets = rows(con, full.version)
        assert scoring_count == 12 and training > 100 and folds > 0 and targets > 0
        assert (
            full.row_count
            == con.execute(
                "select count(*) from features.demand_features where feature_set_version = ?",
                [full.version],
            ).fetchone()[0]
        )
        assert scoring_rows(con, full.version).equals(served)
        (provenance,) = con.execute(
            "select scoring_only, run_id from features.feature_set_versions where version = ?",
            [full.version],
        ).fetchall()
        assert provenance == (False, "run-3")
        # And it stands for whoever asks next, training or not.
        assert materialize_feature_set(con, SETTINGS, {}, "run-4", trains_on=trains(True)).reused
        assert materialize_feature_set(con, SETTINGS, {}, "run-5").reused


def test_a_variant_trains_with_its_own_parameters_and_weight(tmp_path):
    """benchmarks/model_variants.py: another objective and recent-level weight, as asked."""
    frame = training_frame(tmp_path)
    tweedie = {"objective": "tweedie", "tweedie_variance_power": 1.5}
    variant = train(frame, seed=42, parameters=tweedie, recent_mean_weight=0.25)
    assert variant.parameters["objective"] == "tweedie" and variant.parameters["seed"] == 42
    assert "\nobjective=tweedie\n" in variant.text()
    assert "[tweedie_variance_power: 1.5]" in variant.text()
    assert variant.recent_mean_weight == 0.25
    assert train(frame, seed=42).parameters["objective"] == "poisson"  # the default untouched


def test_the_backtest_without_level_correction_forecasts_what_the_model_forecasts(tmp_path):
    project = tmp_path / "company"
    write_company(project, days=300, pattern="learnable")
    with connect(project / "data" / "warehouse.duckdb") as con:
        feature_set = materialize_feature_set(con, SETTINGS, {}, "run-1")
        trained = []

        def counting_train(frame, seed):
            trained.append(frame.height)
            return train(frame, seed)

        args = (con, feature_set.version, SETTINGS, feature_set.calendar, [])
        corrected = backtest_model(*args, train_model=counting_train)
        plain = backtest_model(*args, correct_level=False)
    folds = list(feature_set.calendar.fold_origins())
    assert len(trained) == len(folds) + 2  # the warm-up, every fold, then the final model
    assert set(plain.level_factors.values()) == {1.0}
    assert plain.final_model.level_factor == 1.0
    assert any(abs(f - 1.0) > 1e-6 for f in corrected.level_factors.values())
    keys = ["fold", "sku", "location_id", "target_date"]
    both = corrected.forecasts.join(plain.forecasts, on=keys, suffix="_plain")
    assert both.height == plain.forecasts.height > 0
    factors = pl.Series([corrected.level_factors[f] for f in both["fold"]])
    assert np.allclose(both["prediction"], both["prediction_plain"] * factors)


def test_a_model_trained_before_a_feature_was_added_scores_by_its_own_inputs(tmp_path, monkeypatch):
    frame = training_frame(tmp_path)
    # The feature set of an older release: without days_since_last_sale.
    older_inputs = [c for c in model_module.MODEL_INPUTS if c != "days_since_last_sale"]
    monkeypatch.setattr(model_module, "MODEL_INPUTS", older_inputs)
    older = train(frame, seed=42, offset_windows=())  # the booster's output is the forecast
    monkeypatch.undo()
    assert older.inputs() == older_inputs
    # Scored on today's frame (every current feature present, in today's order).
    coded, _ = categorical_codes(frame, older.categories)
    by_hand = older.booster.predict(coded.select(older_inputs).to_numpy().astype(np.float64))
    assert np.allclose(older.raw_predict(frame), np.clip(by_hand, 0, None))
    # A frame without a feature the model learned from is refused, naming it.
    with pytest.raises(ValueError, match="lacks: mean_28"):
        older.raw_predict(frame.drop("mean_28"))


def test_a_feature_added_since_the_table_was_made_is_added_to_it(tmp_path):
    project = tmp_path / "company"
    write_company(project, days=120, pattern="learnable")
    with connect(project / "data" / "warehouse.duckdb") as con:
        first = materialize_feature_set(con, SETTINGS, {"staging.sales_lines": "a"}, "run-1")
        # As if the table had been created by a release without this feature.
        con.execute("alter table features.demand_features drop column days_since_last_sale")
        second = materialize_feature_set(con, SETTINGS, {"staging.sales_lines": "b"}, "run-2")
        counts = dict(
            con.execute(
                "select feature_set_version, count(days_since_last_sale) "
                "from features.demand_features group by all"
            ).fetchall()
        )
        rows = dict(
            con.execute(
                "select feature_set_version, count(*) from features.demand_features group by all"
            ).fetchall()
        )
    assert counts[first.version] == 0 and rows[first.version] > 0
    assert counts[second.version] == rows[second.version] > 0


class ExplodingBooster:
    """What the long-tail demo's model did for one rare series after a bulk order: exp() of
    leaves that never met in training."""

    def feature_name(self):
        return ["mean_28", "mean_182"]

    def predict(self, matrix, num_threads):
        return np.array([2.7e6, 0.5, 30.0, -0.1])


def test_a_forecast_that_explodes_is_capped_at_twenty_times_the_series_level():
    frame = pl.DataFrame(
        {
            "mean_7": [0.0, 0.5, 0.0, 1.0],
            "mean_28": [3.43, 0.5, 0.0, 1.0],
            "mean_182": [0.92, 0.9, 0.0, 1.0],
        }
    )
    exploding = model_module.DemandModel(ExplodingBooster(), {"category": ["a"]}, {})
    frame = frame.with_columns(category=pl.lit("a"))
    # 20 x 3.43; an ordinary forecast untouched; a series with no recent level at most 20 x
    # 0.05 = 1 unit a day; never below zero.
    assert exploding.raw_predict(frame).tolist() == pytest.approx([68.6, 0.5, 1.0, 0.0])
    # A series launched a week ago: its 28-day mean counts the days before the launch; its
    # 7-day mean is its level (2 a day: up to 40).
    launched = frame.with_columns(mean_7=pl.Series([2.0, 0.5, 0.0, 1.0]), mean_28=0.5)
    assert exploding.raw_predict(launched).tolist()[0] == pytest.approx(40.0)


def test_the_skus_level_across_locations_is_learned_only_where_there_are_locations(tmp_path):
    frame = training_frame(tmp_path)
    assert frame["location_id"].n_unique() > 1
    across = train(frame, seed=42)
    assert set(SKU_LEVEL_COLUMNS) <= set(across.inputs())
    # One location: the SKU's level is the series' own history, so not an input.
    one = frame.filter(pl.col("location_id") == frame["location_id"].min())
    alone = train(one, seed=42)
    assert alone.inputs() == [c for c in across.inputs() if c not in SKU_LEVEL_COLUMNS]
    # Without them the trees lean on a rare series' own sales: a share of its recent level in
    # the forecast, and no offset (with one location it cost more: model.OFFSET_WINDOWS).
    assert (across.recent_mean_weight, alone.recent_mean_weight) == (
        RECENT_MEAN_WEIGHT_ACROSS_LOCATIONS,
        RECENT_MEAN_WEIGHT,
    )
    assert (across.offset_windows, alone.offset_windows) == (OFFSET_WINDOWS, ())
    assert np.all(np.isfinite(alone.predict(one)))
    assert alone.predict(one).shape == (one.height,)
