"""What the run summary says the model saves: on the holdout, and over every backtest window."""

from __future__ import annotations

from sme_platform.cli_output import console, print_forecasting
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


def test_a_service_level_far_below_the_cost_optimal_one_is_said_with_what_it_rewards():
    figures = summary({})
    figures.service_level, figures.cost_optimal_service_level = 0.9, 0.9912
    note = figures.service_level_note
    assert "service level 0.90 is below 0.991" in note
    assert "units short dominate" in note and "forecasts more" in note
    assert "business.service_level" in note


def test_a_service_level_far_above_the_cost_optimal_one_says_holding_dominates():
    figures = summary({})
    figures.service_level, figures.cost_optimal_service_level = 0.98, 0.6
    note = figures.service_level_note
    assert "0.98 is above 0.600" in note and "holding costs dominate" in note
    assert "forecasts less" in note


def test_no_note_near_the_cost_optimal_level_or_for_a_version_that_recorded_none():
    figures = summary({})
    figures.service_level, figures.cost_optimal_service_level = 0.97, 0.985
    assert figures.service_level_note is None
    figures.cost_optimal_service_level = None  # registered before it was recorded
    assert figures.service_level_note is None


def test_the_last_runs_decisions_in_order_and_at_most_a_screenful(tmp_path):
    from sme_platform.lib.audit.log import record_event
    from sme_platform.lib.training.forecast_summary import MAX_RUN_EVENTS, summarize_forecasting
    from sme_platform.lib.warehouse import connect
    from sme_platform_tests.lib.release.conftest import register

    with connect(tmp_path / "warehouse.duckdb") as con:
        register(con, tmp_path / "models", run_id="night-1")  # audits v1 trained in night-1
        for event, reason in [
            ("trained", "night 2"),
            ("gate_passed", "cheaper"),
            ("canary_started", "20 %"),
            ("published", "rows"),
        ]:
            record_event(
                con,
                event=event,
                actor="run",
                reason=reason,
                model_name="demand_forecast",
                model_version="v2",
                run_id="night-2",
            )
        events = summarize_forecasting(con, "demand_forecast").last_run_events
        assert events == [
            "v2 trained: night 2",
            "v2 gate_passed: cheaper",
            "v2 canary_started: 20 %",
            "v2 published: rows",
        ]
        # An event written outside any run (no run id) is not a run's decision; a long run
        # shows its newest few.
        record_event(
            con,
            event="approved",
            actor="Ana",
            reason="by hand",
            model_name="demand_forecast",
            model_version="v2",
        )
        for index in range(MAX_RUN_EVENTS + 3):
            record_event(
                con,
                event="approved",
                actor="Ana",
                reason=f"note {index}",
                model_name="demand_forecast",
                model_version="v2",
                run_id="night-3",
            )
        events = summarize_forecasting(con, "demand_forecast").last_run_events
    assert events[0] == "... 3 earlier" and len(events) == MAX_RUN_EVENTS + 1
    assert events[-1] == f"v2 approved: note {MAX_RUN_EVENTS + 2}"


def test_each_saving_says_how_sure_it_is_over_series():
    figures = summary({"lightgbm": 4820.0, "moving_average_28": 5140.0})
    figures.cost_intervals = {
        "holdout": {
            "statsforecast.CrostonOptimized": {"ratio": -0.01, "low": -0.062, "high": 0.048}
        },
        "all_windows": {"moving_average_28": {"ratio": -0.0623, "low": -0.114, "high": 0.021}},
    }
    assert figures.interval_note("moving_average_28", "all_windows") == (
        " (-6.2 %; 90 % interval over series -11.4 % to +2.1 %)"
    )
    assert figures.interval_note("seasonal_naive", "all_windows") == ""
    with console.capture() as printed:
        print_forecasting(figures)
    said = " ".join(printed.get().split())
    assert (
        "Over the holdout, ordering from the model's forecasts would save 10 in lost margin and "
        "holding cost against statsforecast.CrostonOptimized, the cheapest alternative there "
        "(-1.0 %; 90 % interval over series -6.2 % to +4.8 %)"
    ) in said
    assert (
        "against moving_average_28, the cheapest alternative there (-6.2 %; 90 % interval over "
        "series -11.4 % to +2.1 %)"
    ) in said
    # A version registered before the intervals: the savings alone.
    figures.cost_intervals = {}
    with console.capture() as printed:
        print_forecasting(figures)
    assert "interval over series" not in printed.get()
