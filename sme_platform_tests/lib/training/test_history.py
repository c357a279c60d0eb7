"""The history frame's checks and the target days every model is evaluated on."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from sme_platform.lib.training.history import (
    TrainingInputError,
    history_before,
    target_days,
    validate_history,
    with_series_attributes,
)
from sme_platform_tests.lib.training.synthetic import START, history_frame, series_history


def test_missing_columns_are_named():
    frame = pl.DataFrame({"sku": ["a"], "date": [START], "units": [1.0]})
    with pytest.raises(
        TrainingInputError, match=r"history is missing column\(s\) location_id, censored"
    ):
        validate_history(frame)


def test_duplicated_day_is_refused_with_the_row():
    rows = [*series_history("a", "L1", [1, 2]), ("a", "L1", START, 5.0, False)]
    with pytest.raises(TrainingInputError, match=r"2 duplicated row\(s\)") as error:
        validate_history(history_frame(rows))
    assert "'sku': 'a'" in str(error.value)


def test_negative_units_are_refused():
    with pytest.raises(TrainingInputError, match="units must not be negative"):
        validate_history(history_frame(series_history("a", "L1", [1, -2])))


def test_history_before_keeps_only_days_before_the_origin():
    history = history_frame(series_history("a", "L1", [1, 2, 3, 4]))
    cut = history_before(history, START + dt.timedelta(days=2))
    assert cut.get_column("units").to_list() == [1.0, 2.0]


def test_target_days_take_actuals_and_censoring_from_the_history():
    history = history_frame(
        series_history("a", "L1", [1, 2, 0, 4, 5], censored=[False, False, True, False, False])
    )
    frame = target_days(
        history,
        [("holdout", START + dt.timedelta(days=2))],
        pl.DataFrame({"sku": ["a"], "location_id": ["L1"]}),
        horizon=3,
    )
    assert frame.sort("horizon").select("horizon", "actual", "censored", "category").rows() == [
        (1, 0.0, True, "unknown"),
        (2, 4.0, False, "unknown"),
        (3, 5.0, False, "unknown"),
    ]


def test_target_days_beyond_the_history_are_an_error():
    history = history_frame(series_history("a", "L1", [1, 2, 3]))
    with pytest.raises(TrainingInputError, match="history ends on 2024-01-03 but fold holdout"):
        target_days(
            history,
            [("holdout", START + dt.timedelta(days=2))],
            pl.DataFrame({"sku": ["a"], "location_id": ["L1"]}),
            horizon=2,
        )


def test_series_attributes_fill_category_and_money():
    frame = pl.DataFrame({"sku": ["a", "b"], "location_id": ["L1", "L1"]})
    attributes = pl.DataFrame(
        {
            "sku": ["a"],
            "location_id": ["L1"],
            "category": ["dairy"],
            "unit_price": [2.0],
            "unit_cost": [1.5],
        }
    )
    filled = with_series_attributes(frame, attributes).sort("sku")
    assert filled.select("category", "unit_price", "unit_cost").rows() == [
        ("dairy", 2.0, 1.5),
        ("unknown", None, None),
    ]


def test_a_column_of_the_wrong_type_is_named():
    frame = history_frame(series_history("a", "L1", [1.0])).with_columns(date=pl.lit("yesterday"))
    with pytest.raises(TrainingInputError, match="history: column date is String, it must be Date"):
        validate_history(frame)
