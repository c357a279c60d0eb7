"""The promotion gate: each decision, with the numbers in its reasons."""

from __future__ import annotations

import polars as pl
import pytest

from sme_platform.lib.release.gate import GateConfig, GateInputError, decide


def row(
    model, cost, *, wape=0.9, bias=0.0, segment_type="overall", segment="overall", fold="holdout"
):
    return {
        "model": model,
        "fold": fold,
        "segment_type": segment_type,
        "segment": segment,
        "business_cost": cost,
        "wape": wape,
        "bias": bias,
        "mae": 1.0,
    }


def challenger(cost=1000.0, bias=-0.03, dairy=400.0, bakery_wape=0.5):
    return [
        row("lightgbm", cost, bias=bias),
        row("lightgbm", dairy, segment_type="category", segment="dairy"),
        row("lightgbm", 0.0, wape=bakery_wape, segment_type="category", segment="bakery"),
        row("lightgbm", 1.0, fold="fold_1"),  # another fold: not the gate's business
    ]


def references(champion=None, adida=1240.0):
    rows = [
        row("seasonal_naive", 1500.0, bias=-0.15),
        row("seasonal_naive", 600.0, segment_type="category", segment="dairy"),
        row("statsforecast.ADIDA", adida, bias=-0.09),
        row("statsforecast.ADIDA", 420.0, segment_type="category", segment="dairy"),
        row("statsforecast.ADIDA", 0.0, wape=0.5, segment_type="category", segment="bakery"),
    ]
    if champion is not None:
        rows += [
            row("champion", champion),
            row("champion", 410.0, segment_type="category", segment="dairy"),
        ]
    return rows


def test_a_first_model_that_beats_the_baselines_becomes_champion():
    decision = decide(challenger(), references(), GateConfig(), has_champion=False, approved=False)
    assert decision.passed and decision.criteria_met
    assert decision.outcome == "promote_to_champion"
    assert decision.reasons[0] == (
        "business cost 1,000.0 is 19.4 % below statsforecast.ADIDA's 1,240.0 "
        "(at least 2 % required)"
    )
    assert "bias -3.0 % is within ±10 %" in decision.reasons
    assert decision.figures["best_baseline"]["model"] == "statsforecast.ADIDA"
    assert decision.figures["champion"] is None
    assert set(decision.figures["baselines"]) == {"seasonal_naive", "statsforecast.ADIDA"}


def test_beating_champion_and_baselines_starts_a_canary():
    decision = decide(
        pl.DataFrame(challenger()),  # a polars frame works as well as dicts
        pl.DataFrame(references(champion=1100.0)),
        GateConfig(),
        has_champion=True,
        approved=False,
    )
    assert decision.passed and decision.outcome == "start_canary"
    assert decision.reasons[0].startswith("business cost 1,000.0 is 9.09 % below the champion's")
    assert decision.figures["champion"]["business_cost"] == 1100.0
    assert "a canary starts, scoring 20 % of the locations" in decision.reasons[-1]


def test_losing_to_a_baseline_by_the_margin_is_refused_with_the_numbers():
    decision = decide(
        challenger(cost=1230.0), references(), GateConfig(), has_champion=False, approved=False
    )
    assert not decision.passed and decision.outcome == "refused"
    assert decision.reasons == [
        "business cost 1,230.0 is not 2 % below statsforecast.ADIDA's 1,240.0 "
        "(needs at most 1,215.2)"
    ]


def test_losing_to_the_champion_is_refused():
    decision = decide(
        challenger(), references(champion=1010.0), GateConfig(), has_champion=True, approved=True
    )
    assert decision.outcome == "refused"
    assert decision.reasons == [
        "business cost 1,000.0 is not 2 % below the champion's 1,010.0 (needs at most 989.8)"
    ]


SAME_RECIPE = (
    "v2 has the champion v1's recipe (code abc123, the same parameters and settings) on newer "
    "data: the champion learned from the holdout's days, so the canary judges them instead"
)


def test_the_champions_recipe_on_newer_data_is_judged_by_the_canary_not_on_the_holdout():
    """The champion's own model learned from the days of a newer candidate's holdout: scored
    there it is judged in sample. With the same recipe, only the live canary can tell them
    apart; the baselines are still judged."""
    decision = decide(
        challenger(),
        references(),  # no champion rows: none are scored
        GateConfig(),
        has_champion=True,
        approved=False,
        champion_judged_live=SAME_RECIPE,
    )
    assert decision.passed and decision.outcome == "start_canary"
    assert decision.reasons[0].startswith("business cost 1,000.0 is 19.4 % below statsforecast")
    assert SAME_RECIPE in decision.reasons
    assert "no segment regresses by more than 10 % against statsforecast.ADIDA" in decision.reasons
    assert decision.reasons[-1].startswith("it beats the baselines: a canary starts")
    assert decision.figures["champion"] is None
    assert decision.figures["champion_judged_live"] == SAME_RECIPE

    refused = decide(
        challenger(cost=1230.0),
        references(champion=900.0),  # champion rows, if any, are not compared
        GateConfig(),
        has_champion=True,
        approved=False,
        champion_judged_live=SAME_RECIPE,
    )
    assert refused.outcome == "refused"
    assert refused.reasons == [
        "business cost 1,230.0 is not 2 % below statsforecast.ADIDA's 1,240.0 "
        "(needs at most 1,215.2)"
    ]


def test_a_bias_beyond_the_bound_is_refused():
    decision = decide(
        challenger(bias=-0.18), references(), GateConfig(), has_champion=False, approved=False
    )
    assert decision.outcome == "refused"
    assert decision.reasons == ["bias -18.0 % is outside ±10 %"]
    loose = decide(
        challenger(bias=-0.18),
        references(),
        GateConfig(max_abs_bias=0.2),
        has_champion=False,
        approved=False,
    )
    assert loose.outcome == "promote_to_champion"


def regressing(cost_intervals=None):
    """A challenger whose dairy costs 11.9 % more than ADIDA's and whose bakery's WAPE is 20 %
    worse, judged on the holdout."""
    return decide(
        challenger(dairy=470.0, bakery_wape=0.6),
        references(),
        GateConfig(),
        has_champion=False,
        approved=False,
        cost_intervals=cost_intervals,
    )


def test_a_segment_that_regresses_is_refused_on_cost_or_on_wape_where_cost_is_zero():
    decision = regressing()
    assert decision.outcome == "refused"
    assert decision.reasons == [
        "category bakery: WAPE 0.600 is 20 % worse than statsforecast.ADIDA's 0.500 "
        "(at most 10 % allowed)",
        "category dairy: business cost 470.0 is 11.9 % worse than statsforecast.ADIDA's 420.0 "
        "(at most 10 % allowed)",
    ]
    assert decision.figures["segment_regressions"] == decision.reasons


def test_a_high_impact_model_waits_for_an_approval_then_passes():
    config = GateConfig(high_impact=True)
    waiting = decide(
        challenger(), references(champion=1100.0), config, has_champion=True, approved=False
    )
    assert waiting.outcome == "awaiting_approval"
    assert not waiting.passed and waiting.criteria_met
    assert "no approval is recorded: it stays challenger" in waiting.reasons[-1]
    approved = decide(
        challenger(), references(champion=1100.0), config, has_champion=True, approved=True
    )
    assert approved.passed and approved.outcome == "start_canary"
    # an approval does not rescue a model that loses
    losing = decide(
        challenger(cost=1300.0), references(), config, has_champion=False, approved=True
    )
    assert losing.outcome == "refused"


def test_rows_the_gate_cannot_judge_are_an_error():
    with pytest.raises(GateInputError, match="no holdout row of model 'lightgbm'"):
        decide([], references(), GateConfig(), has_champion=False, approved=False)
    with pytest.raises(GateInputError, match="no holdout row of a baseline or peer"):
        decide(challenger(), [], GateConfig(), has_champion=False, approved=False)
    with pytest.raises(GateInputError, match="a champion exists but no holdout row"):
        decide(challenger(), references(), GateConfig(), has_champion=True, approved=False)
    with pytest.raises(GateInputError, match="two holdout rows for model 'lightgbm'"):
        decide(
            challenger() + challenger(),
            references(),
            GateConfig(),
            has_champion=False,
            approved=False,
        )


def test_a_segment_too_small_in_money_cannot_block_a_release():
    # Location S013 costs 11.1 against 8.4: 32 % worse, but under 1 % of the money (1,240):
    # noise on a 14-day holdout, not a regression to hold a better model back for.
    tiny = [
        row("lightgbm", 11.1, segment_type="location", segment="S013"),
        row("statsforecast.ADIDA", 8.4, segment_type="location", segment="S013"),
    ]
    rows = challenger() + tiny[:1]
    decision = decide(
        rows, references() + tiny[1:], GateConfig(), has_champion=False, approved=False
    )
    assert decision.outcome == "promote_to_champion"
    strict = GateConfig(min_segment_cost_share=0.0)
    decision = decide(rows, references() + tiny[1:], strict, has_champion=False, approved=False)
    assert decision.reasons == [
        "location S013: business cost 11.1 is 32.1 % worse than statsforecast.ADIDA's 8.4 "
        "(at most 10 % allowed)"
    ]


def fold_rows(model, costs, *, actual, forecast, segment_type="overall", segment="overall"):
    """One row per fold (fold_1.., then holdout) with the sums the window adds up."""
    folds = [*(f"fold_{k}" for k in range(1, len(costs))), "holdout"]
    return [
        {
            **row(model, cost, segment_type=segment_type, segment=segment, fold=fold),
            "bias": (f - a) / a,
            "wape": 1.0,
            "actual_units": a,
            "forecast_units": f,
        }
        for fold, cost, a, f in zip(folds, costs, actual, forecast, strict=True)
    ]


def test_baselines_can_be_judged_over_every_backtest_window_and_the_champion_on_the_holdout():
    # 1 % cheaper than ADIDA on the holdout alone, 6 % over the four folds and the holdout.
    ours = fold_rows("lightgbm", [900, 950, 980, 1000, 990], actual=[100] * 5, forecast=[101] * 5)
    theirs = fold_rows(
        "statsforecast.ADIDA", [990, 1000, 1050, 1100, 1000], actual=[100] * 5, forecast=[90] * 5
    )
    champion = [row("champion", 1030.0)]
    on_holdout = decide(ours, theirs + champion, GateConfig(), has_champion=True, approved=False)
    assert on_holdout.outcome == "refused"
    assert on_holdout.reasons == [
        "business cost 990.0 is not 2 % below statsforecast.ADIDA's 1,000.0 (needs at most 980.0)"
    ]
    every_fold = GateConfig(baseline_window="all_folds")
    decision = decide(ours, theirs + champion, every_fold, has_champion=True, approved=False)
    assert decision.outcome == "start_canary"
    assert decision.reasons[:3] == [
        "business cost 990.0 is 3.88 % below the champion's 1,030.0 (at least 2 % required)",
        "over the 5 backtest windows: business cost 4,820.0 is 6.23 % below "
        "statsforecast.ADIDA's 5,140.0 (at least 2 % required); cheaper in 5 of the 5 windows",
        "bias +1.0 % is within ±10 %",
    ]
    assert decision.figures["baseline_window"] == "all_folds"
    assert decision.figures["windows_against_best_baseline"]["fold_3"] == {
        "challenger": 980.0,
        "reference": 1050.0,
    }
    assert on_holdout.figures["windows_against_best_baseline"] is None


def test_the_window_verdict_says_in_how_many_windows_it_holds():
    # 3.5 % cheaper over the five windows, all of it from one window; dearer in three.
    ours = fold_rows(
        "lightgbm", [1000, 1000, 600, 1000, 1020], actual=[100] * 5, forecast=[101] * 5
    )
    theirs = fold_rows(
        "moving_average_28", [990, 990, 800, 1010, 1000], actual=[100] * 5, forecast=[99] * 5
    )
    every_fold = GateConfig(baseline_window="all_folds")
    decision = decide(ours, theirs, every_fold, has_champion=False, approved=False)
    assert decision.outcome == "promote_to_champion"
    assert decision.reasons[0] == (
        "over the 5 backtest windows: business cost 4,620.0 is 3.55 % below moving_average_28's "
        "4,790.0 (at least 2 % required); cheaper in 2 of the 5 windows"
    )
    refused = decide(
        ours,
        theirs,
        GateConfig(baseline_window="all_folds", margin=0.05),
        has_champion=False,
        approved=False,
    )
    assert refused.reasons[0].endswith("(needs at most 4,550.5); cheaper in 2 of the 5 windows")


def test_the_best_baseline_comparison_carries_its_interval_over_series():
    ours = fold_rows("lightgbm", [900, 950, 980, 1000, 990], actual=[100] * 5, forecast=[101] * 5)
    theirs = fold_rows(
        "statsforecast.ADIDA", [990, 1000, 1050, 1100, 1000], actual=[100] * 5, forecast=[90] * 5
    )
    intervals = {
        "all_windows": {
            "statsforecast.ADIDA": {"ratio": -0.0623, "low": -0.114, "high": 0.021},
            "seasonal_naive": {"ratio": -0.2, "low": -0.3, "high": -0.1},
        },
        "holdout": {"statsforecast.ADIDA": {"ratio": -0.01, "low": -0.09, "high": 0.07}},
    }
    every_fold = GateConfig(baseline_window="all_folds")
    decision = decide(
        ours, theirs, every_fold, has_champion=False, approved=False, cost_intervals=intervals
    )
    # Informational: 6.2 % below passes the 2 % margin though the interval crosses zero.
    assert decision.outcome == "promote_to_champion"
    assert decision.reasons[0] == (
        "over the 5 backtest windows: business cost 4,820.0 is 6.23 % below "
        "statsforecast.ADIDA's 5,140.0 (at least 2 % required); cheaper in 5 of the 5 windows; "
        "90 % interval over series -11.4 % to +2.1 %"
    )
    assert decision.figures["best_baseline_cost_interval"] == {
        "ratio": -0.0623,
        "low": -0.114,
        "high": 0.021,
    }
    # On the holdout, the holdout's interval.
    on_holdout = decide(
        ours, theirs, GateConfig(), has_champion=False, approved=False, cost_intervals=intervals
    )
    assert on_holdout.reasons[0].endswith(
        "(needs at most 980.0); 90 % interval over series -9.0 % to +7.0 %"
    )
    # A version registered before the intervals: the sentence as before.
    before = decide(ours, theirs, every_fold, has_champion=False, approved=False)
    assert before.reasons[0].endswith("cheaper in 5 of the 5 windows")
    assert before.figures["best_baseline_cost_interval"] is None


def test_a_segment_regression_carries_its_interval_over_series():
    dairy = {"statsforecast.ADIDA": {"ratio": 0.119, "low": -0.037, "high": 0.751}}
    intervals = {
        "holdout": {"statsforecast.ADIDA": {"ratio": -0.194, "low": -0.25, "high": -0.1}},
        "segments": {
            "holdout": {
                "category": {"dairy": dairy, "bakery": dairy},
                "location": {"L1": {"seasonal_naive": dairy["statsforecast.ADIDA"]}},
            }
        },
    }
    decision = regressing(intervals)
    assert decision.outcome == "refused"  # informational: the rule is the share allowed
    assert decision.reasons == [
        # WAPE compared (the cost was zero): no cost interval to say.
        "category bakery: WAPE 0.600 is 20 % worse than statsforecast.ADIDA's 0.500 "
        "(at most 10 % allowed)",
        "category dairy: business cost 470.0 is 11.9 % worse than statsforecast.ADIDA's 420.0 "
        "(at most 10 % allowed; 90 % interval over series -3.7 % to +75.1 %)",
    ]


def dairy_against_adida(low, high=0.751):
    """Intervals where the dairy category costs 11.9 % more than ADIDA on the holdout."""
    dairy = {"statsforecast.ADIDA": {"ratio": 0.119, "low": low, "high": high}}
    return {
        "holdout": {"statsforecast.ADIDA": {"ratio": -0.194, "low": -0.25, "high": -0.1}},
        "segments": {"holdout": {"category": {"dairy": dairy}}},
    }


def judged_on_the_spread(cost_intervals, **config):
    """A challenger whose dairy costs 11.9 % more than ADIDA's (bakery's WAPE as ADIDA's)."""
    return decide(
        challenger(dairy=470.0),
        references(),
        GateConfig(segment_regression_evidence="interval", **config),
        has_champion=False,
        approved=False,
        cost_intervals=cost_intervals,
    )


def test_with_the_interval_rule_a_segment_within_its_series_spread_does_not_refuse():
    decision = judged_on_the_spread(dairy_against_adida(low=-0.037))
    assert decision.outcome == "promote_to_champion"
    assert (
        "no segment regresses by more than 10 % beyond the spread of its series against "
        "statsforecast.ADIDA" in decision.reasons
    )
    within = (
        "category dairy: business cost 470.0 is 11.9 % worse than statsforecast.ADIDA's 420.0, "
        "beyond the 10 % allowed but not beyond the spread of its series (90 % interval over "
        "series -3.7 % to +75.1 %): not counted as a regression"
    )
    assert within in decision.reasons
    assert decision.figures["segment_regressions"] == []
    assert decision.figures["segments_within_spread"] == [within]
    # The same figures under the point rule (the default): refused.
    assert regressing(dairy_against_adida(low=-0.037)).outcome == "refused"


def test_with_the_interval_rule_a_segment_worse_beyond_its_spread_still_refuses():
    decision = judged_on_the_spread(dairy_against_adida(low=0.02))
    assert decision.outcome == "refused"
    assert decision.reasons == [
        "category dairy: business cost 470.0 is 11.9 % worse than statsforecast.ADIDA's 420.0 "
        "(at most 10 % allowed; 90 % interval over series +2.0 % to +75.1 %)"
    ]


def test_with_the_interval_rule_a_segment_without_an_interval_is_judged_on_its_figure():
    # No interval for the segment (a version registered before them): the point figure decides.
    assert judged_on_the_spread(None).outcome == "refused"
    # Compared on WAPE (its cost was zero): no cost interval, so the point figure decides.
    wape_only = decide(
        challenger(bakery_wape=0.6),
        references(),
        GateConfig(segment_regression_evidence="interval"),
        has_champion=False,
        approved=False,
        cost_intervals=dairy_against_adida(low=-0.5),
    )
    assert wape_only.reasons == [
        "category bakery: WAPE 0.600 is 20 % worse than statsforecast.ADIDA's 0.500 "
        "(at most 10 % allowed)"
    ]


def test_with_the_interval_rule_the_champion_is_judged_on_the_figure():
    # The champion is scored at release: no interval over series against it.
    decision = decide(
        challenger(dairy=470.0),
        references(champion=1100.0),
        GateConfig(segment_regression_evidence="interval"),
        has_champion=True,
        approved=False,
        cost_intervals=dairy_against_adida(low=-0.037),
    )
    assert decision.outcome == "refused"
    assert decision.reasons == [
        "category dairy: business cost 470.0 is 14.6 % worse than the champion's 410.0 "
        "(at most 10 % allowed)"
    ]


def test_an_unknown_segment_rule_is_refused_by_name():
    with pytest.raises(ValueError, match="segment_regression_evidence"):
        GateConfig(segment_regression_evidence="median")
