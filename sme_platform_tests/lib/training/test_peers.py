"""statsforecast peers: the three models on the same folds and series, AutoETS on the top series."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from sme_platform.lib.training.history import FORECAST_SCHEMA, TrainingInputError
from sme_platform.lib.training.peers import (
    ADIDA_MODEL,
    AUTOETS,
    CROSTON,
    statsforecast_peers,
    training_frame,
)
from sme_platform_tests.lib.training.synthetic import (
    START,
    history_frame,
    intermittent_history,
    rolling_origins,
    series_history,
)


def test_censored_days_are_imputed_with_the_series_mean_before_the_origin():
    history = history_frame(
        series_history("a", "L1", [2, 0, 4, 9], censored=[False, True, False, False])
    )
    series_ids = pl.DataFrame({"sku": ["a"], "location_id": ["L1"], "unique_id": [0]})
    train = training_frame(history, START + dt.timedelta(days=3), series_ids)
    # Day 3 (9 units) is the origin: not known. The censored day gets mean(2, 4) = 3.
    assert train.get_column("y").to_list() == [2.0, 3.0, 4.0]


def test_a_constant_series_is_forecast_at_its_level_by_every_peer():
    history = history_frame(series_history("a", "L1", [2.0] * 70))
    peers = statsforecast_peers(
        history, [("holdout", START + dt.timedelta(days=56))], autoets_series=1
    )
    for model in (CROSTON, ADIDA_MODEL, AUTOETS):
        predictions = peers.forecasts.filter(pl.col("model") == model).get_column("prediction")
        assert predictions.to_list() == pytest.approx([2.0] * 14), model


def test_peers_on_the_same_folds_and_series_with_autoets_on_the_top_series_only():
    history = intermittent_history(series=4, days=90, seed=5)
    origins = rolling_origins(48, ["calibration", "fold_1", "holdout"])
    peers = statsforecast_peers(history, origins, autoets_series=1)
    forecasts = peers.forecasts
    assert forecasts.columns == list(FORECAST_SCHEMA)
    assert forecasts.group_by("model").len().sort("model").rows() == [
        (ADIDA_MODEL, 3 * 4 * 14),
        (AUTOETS, 3 * 4 * 14),
        (CROSTON, 3 * 4 * 14),
    ]
    assert forecasts.get_column("prediction").min() >= 0
    assert "top 1 of 4 series" in peers.notes[AUTOETS]
    assert "the other 3 carry ADIDA's forecast" in peers.notes[AUTOETS]
    # Outside the top series by units before the origin, "AutoETS" rows are ADIDA's forecast.
    holdout_origin = origins[-1][1]
    top = (
        history.filter(pl.col("date") < holdout_origin)
        .group_by("sku")
        .agg(pl.col("units").sum())
        .sort("units", descending=True)
        .get_column("sku")[0]
    )
    holdout = forecasts.filter(pl.col("fold") == "holdout").pivot(
        on="model", index=["sku", "horizon"], values="prediction"
    )
    others = holdout.filter(pl.col("sku") != top)
    assert others.get_column(AUTOETS).to_list() == others.get_column(ADIDA_MODEL).to_list()
    assert set(peers.seconds) == {CROSTON, ADIDA_MODEL, AUTOETS}


def test_peers_do_not_see_days_from_the_origin_on():
    history = intermittent_history(series=3, days=80, seed=9)
    origins = [("holdout", START + dt.timedelta(days=66))]
    honest = statsforecast_peers(history, origins, autoets_series=3).forecasts
    changed_future = history.with_columns(
        units=pl.when(pl.col("date") >= origins[0][1]).then(500.0).otherwise(pl.col("units"))
    )
    leaked = statsforecast_peers(changed_future, origins, autoets_series=3).forecasts
    assert leaked.get_column("prediction").to_list() == honest.get_column("prediction").to_list()
    assert leaked.get_column("actual").unique().to_list() == [500.0]


def test_negative_autoets_series_is_refused():
    history = history_frame(series_history("a", "L1", [1.0] * 30))
    with pytest.raises(TrainingInputError, match="autoets_series must be 0 or more, got -1"):
        statsforecast_peers(
            history, [("holdout", START + dt.timedelta(days=16))], autoets_series=-1
        )


def test_a_series_without_days_before_the_origin_is_forecast_at_zero():
    origin_day = 40
    rows = series_history("a", "L1", [1.0, 3.0] * 27)
    # Series b's first sale is after the origin: nothing is known about it at the origin.
    rows += [
        (sku, location, day + dt.timedelta(days=origin_day + 2), units, flag)
        for sku, location, day, units, flag in series_history("b", "L1", [4.0] * 12)
    ]
    peers = statsforecast_peers(
        history_frame(rows), [("holdout", START + dt.timedelta(days=origin_day))]
    )
    b = peers.forecasts.filter(pl.col("sku") == "b")
    assert b.height == 3 * 14
    assert b.get_column("prediction").unique().to_list() == [0.0]
    assert b.filter(pl.col("horizon") == 3).get_column("actual").unique().to_list() == [4.0]
