"""benchmarks/model_variants.py: how variants are read and how they are compared."""

import importlib.util
import sys
from pathlib import Path

import polars as pl
import pytest

PATH = Path(__file__).parents[1] / "benchmarks" / "model_variants.py"
spec = importlib.util.spec_from_file_location("model_variants", PATH)
model_variants = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = model_variants  # its dataclasses look their module up
spec.loader.exec_module(model_variants)


def test_a_variant_reads_lightgbm_parameters_and_the_platform_options():
    variant = model_variants.parse_variant(
        "tw:objective=tweedie,tweedie_variance_power=1.5,num_leaves=63,"
        "recent_mean_weight=0.25,rounds=300,level_correction=off"
    )
    assert variant.label == "tw"
    assert variant.parameters == {
        "objective": "tweedie",
        "tweedie_variance_power": 1.5,
        "num_leaves": 63,
    }
    assert (variant.recent_mean_weight, variant.rounds, variant.level_correction) == (
        0.25,
        300,
        False,
    )
    unlabelled = model_variants.parse_variant("objective=tweedie")
    assert unlabelled.label == "objective=tweedie" and unlabelled.level_correction
    # The Poisson offset's windows; none: no offset; unset: the platform's for the inputs.
    assert model_variants.parse_variant("offset_windows=28+182").offset_windows == (28, 182)
    assert model_variants.parse_variant("offset_windows=none").offset_windows == ()
    assert model_variants.parse_variant("offset_windows=none").retrains()
    assert unlabelled.offset_windows is None
    # Another seed: the same model on the same rows, retrained.
    seeded = model_variants.parse_variant("seed=7")
    assert seeded.seed == 7 and seeded.retrains() and unlabelled.seed is None


def test_a_scale_alone_reuses_the_platform_forecasts_scaled():
    scaled = model_variants.parse_variant("more:scale=1.1")
    assert scaled.scale == 1.1 and not scaled.retrains()
    assert model_variants.parse_variant("scale=1.1,rounds=300").retrains()
    assert model_variants.parse_variant("level_correction=off").retrains()
    forecasts = pl.DataFrame(
        {"model": ["lightgbm"] * 2, "prediction": [2.0, 0.0], "low": [1.0, 0.0], "high": [4.0, 1.0]}
    )
    result = model_variants._scaled(forecasts, 1.5)
    assert result["prediction"].to_list() == [3.0, 0.0]
    assert result["low"].to_list() == [1.5, 0.0] and result["high"].to_list() == [6.0, 1.5]
    assert model_variants._scaled(forecasts, 1.0) is forecasts


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("objective", "'objective' is not key=value"),
        ("x:rounds=", "'rounds=' is not key=value"),
        ("level_correction=maybe", "level_correction is on or off, not 'maybe'"),
        ("offset_windows=28+x", "offset_windows is days joined by '\\+' .* not '28\\+x'"),
        ("seed=x", "seed is a whole number, not 'x'"),
        ("rounds=1.5", "rounds is a whole number, not '1.5'"),
    ],
)
def test_a_malformed_variant_is_refused_naming_the_pair(text, message):
    with pytest.raises(ValueError, match=message):
        model_variants.parse_variant(text)


def rows(model, folds):
    return [
        {
            "model": model,
            "fold": fold,
            "wape": w,
            "bias": b,
            "interval_coverage": 0.8,
            "business_cost": c,
        }
        for fold, (w, b, c) in folds.items()
    ]


def test_the_variant_is_compared_with_the_best_unbiased_and_the_cheapest_others():
    ours = pl.DataFrame(rows("lightgbm", {"fold_1": (1.0, 0.02, 100), "holdout": (0.9, 0.0, 50)}))
    others = pl.DataFrame(
        # The lowest WAPE is too biased to count; the 28-day mean is the best unbiased one.
        rows("l1", {"fold_1": (0.5, -0.6, 400), "holdout": (0.5, -0.6, 300)})
        + rows("ma28", {"fold_1": (1.25, -0.05, 90), "holdout": (1.0, 0.0, 80)})
        + rows("adida", {"fold_1": (1.3, -0.1, 160), "holdout": (1.2, 0.0, 40)})
    )
    summary = model_variants.summarize("v", ours, others)
    assert summary["best_unbiased"] == "ma28"
    assert summary["wape_vs_best_unbiased"] == pytest.approx(1.0 / 1.25 - 1)
    assert (summary["cheapest_windows"], summary["cost_windows"]) == ("ma28", 150)
    assert summary["cost_windows_vs_cheapest"] == pytest.approx(150 / 170 - 1)
    assert summary["cheapest_holdout"] == "adida"
    assert summary["cost_holdout_vs_cheapest"] == pytest.approx(50 / 40 - 1)
