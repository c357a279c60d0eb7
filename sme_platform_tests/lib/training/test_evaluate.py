"""evaluate() joins accuracy and the simulation per model, fold and segment; end to end on a tiny
synthetic intermittent data set: baselines + peers + conformal intervals + evaluate."""

from __future__ import annotations

import polars as pl
import pytest

from sme_platform.lib.training.baselines import moving_average, seasonal_naive
from sme_platform.lib.training.business import BusinessAssumptions
from sme_platform.lib.training.conformal import with_conformal_intervals
from sme_platform.lib.training.evaluate import RESULT_COLUMNS, evaluate, rank_by_business_cost
from sme_platform.lib.training.history import TrainingInputError
from sme_platform.lib.training.metrics import summary
from sme_platform.lib.training.peers import statsforecast_peers
from sme_platform_tests.lib.training.synthetic import intermittent_history, rolling_origins

FOLDS = ["calibration", "fold_1", "fold_2", "fold_3", "fold_4", "holdout"]
MODELS = [
    "moving_average_28",
    "seasonal_naive",
    "statsforecast.ADIDA",
    "statsforecast.AutoETS",
    "statsforecast.CrostonOptimized",
]


@pytest.fixture(scope="module")
def results() -> pl.DataFrame:
    # 6 intermittent series over 120 days at 2 locations, a tenth of zero days stocked out;
    # six 14-day folds end on day 120.
    history = intermittent_history(series=6, days=120, seed=3, censor_share=0.1)
    attributes = pl.DataFrame(
        {
            "sku": ["sku_000", "sku_001"],
            "location_id": ["loc_0", "loc_1"],
            "category": ["dairy", "bakery"],
            "unit_price": [4.0, None],
            "unit_cost": [3.0, None],
        }
    )
    origins = rolling_origins(36, FOLDS)
    peers = statsforecast_peers(history, origins, attributes=attributes, autoets_series=2)
    forecasts = pl.concat(
        [
            seasonal_naive(history, origins, attributes=attributes),
            moving_average(history, origins, attributes=attributes),
            peers.forecasts,
        ]
    )
    with_intervals = with_conformal_intervals(forecasts, nominal=0.8, min_rows_per_bucket=20)
    return evaluate([with_intervals], BusinessAssumptions())


def test_one_row_per_model_fold_and_segment(results):
    assert results.columns[: len(RESULT_COLUMNS)] == RESULT_COLUMNS
    # Segments: overall, categories dairy, bakery and unknown, locations loc_0 and loc_1.
    assert results.height == len(MODELS) * len(FOLDS) * 6
    assert results.select("model", "fold", "segment_type", "segment").is_unique().all()
    assert sorted(results.get_column("model").unique()) == MODELS
    assert sorted(results.get_column("segment").unique()) == sorted(
        ["overall", "bakery", "dairy", "unknown", "loc_0", "loc_1"]
    )


def test_values_are_sane(results):
    overall = results.filter(pl.col("segment_type") == "overall")
    assert overall.get_column("series").unique().to_list() == [6]
    assert overall.get_column("days").unique().to_list() == [14]
    # Every model is judged on the same actuals.
    assert overall.group_by("fold").agg(pl.col("actual_units").n_unique()).get_column(
        "actual_units"
    ).to_list() == [1] * len(FOLDS)
    for column in ["wape", "mae", "stock_out_rate", "holding_cost", "lost_margin"]:
        assert overall.get_column(column).min() >= 0, column
    assert overall.get_column("stock_out_rate").max() <= 1
    assert overall.get_column("interval_coverage").is_between(0.5, 1.0).all()
    assert (
        overall.get_column("business_cost")
        == overall.get_column("lost_margin") + overall.get_column("holding_cost")
    ).all()
    # 5 of the 6 series have no price (only sku_000 has one): the assumptions are used and counted.
    assert overall.get_column("series_price_assumed").unique().to_list() == [5]
    assert overall.get_column("series_cost_assumed").unique().to_list() == [5]


def test_ranking_and_summary(results):
    ranking = rank_by_business_cost(results)
    assert ranking.get_column("rank").to_list() == [1, 2, 3, 4, 5]
    costs = ranking.get_column("business_cost").to_list()
    assert costs == sorted(costs)
    assert set(ranking.get_column("fold")) == {"holdout"}
    means = summary(results)
    assert means.height == 2 * len(MODELS)
    assert means.filter(pl.col("period") == "backtest_mean").get_column(
        "folds"
    ).unique().to_list() == [4]


def test_models_on_different_series_are_refused():
    history = intermittent_history(series=2, days=60, seed=1)
    origins = rolling_origins(32, ["holdout"])
    naive = seasonal_naive(history, origins)
    average = moving_average(history, origins).filter(pl.col("sku") == "sku_000")
    with pytest.raises(TrainingInputError, match="model moving_average_28 has 14 of the 28"):
        evaluate([naive, average])


def test_unknown_fold_in_ranking_is_an_error(results):
    with pytest.raises(TrainingInputError, match="no overall row for fold 'fold_9'"):
        rank_by_business_cost(results, fold="fold_9")


def test_a_repeated_forecast_row_is_refused():
    history = intermittent_history(series=1, days=60, seed=1)
    naive = seasonal_naive(history, rolling_origins(32, ["holdout"]))
    with pytest.raises(TrainingInputError, match=r"1 key\(s\) repeated, first: .*'horizon': 3"):
        evaluate([naive, naive.filter(pl.col("horizon") == 3)])
