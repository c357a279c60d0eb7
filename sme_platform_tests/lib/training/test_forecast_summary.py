"""What the run summary says the model saves: on the holdout, and over every backtest window."""

from __future__ import annotations

from sme_platform.lib.training.forecast_summary import ForecastSummary, MethodFigures


def summary(window_costs, windows=5):
    methods = [
        MethodFigures("lightgbm", 990.0, 1.4, 0.02, 0.8),
        MethodFigures("statsforecast.CrostonOptimized", 1000.0, 1.5, 0.05, 0.8),
        MethodFigures("champion", 900.0, 1.4, 0.0, 0.8),  # not an alternative to itself
    ]
    return ForecastSummary(
        "demand_forecast", "v1", "fs", 14, 10, methods, window_costs=window_costs, windows=windows
    )


def test_savings_on_the_holdout_and_over_every_window_name_the_cheapest_alternative():
    figures = summary(
        {
            "lightgbm": 4820.0,
            "moving_average_28": 5140.0,
            "statsforecast.CrostonOptimized": 5300.0,
            "champion": 100.0,
        }
    )
    assert figures.saving_against_best_alternative == ("statsforecast.CrostonOptimized", 10.0)
    assert figures.saving_over_windows == ("moving_average_28", 320.0)


def test_a_model_dearer_over_the_windows_shows_a_negative_saving_and_one_window_shows_none():
    dearer = summary({"lightgbm": 5200.0, "moving_average_28": 5140.0})
    assert dearer.saving_over_windows == ("moving_average_28", -60.0)
    assert (
        summary({"lightgbm": 990.0, "seasonal_naive": 1200.0}, windows=1).saving_over_windows
        is None
    )
    assert summary({}).saving_over_windows is None
