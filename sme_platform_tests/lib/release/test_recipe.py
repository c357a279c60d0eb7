"""When the champion is judged on a candidate's holdout, and when only the canary can judge it."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from sme_platform.lib.release.recipe import champion_judged_live
from sme_platform.lib.release.registry import ModelVersion

PARAMETERS = {
    "lightgbm": {"objective": "poisson", "seed": 42},
    "num_boost_round": 150,
    "recent_mean_weight": 0.4,
    "recent_mean_windows": [28, 182],
    "settings": {"active_days": 56},
    "horizon_days": 14,
    "holiday_country": "DE",
    "level_factor": 1.07,  # learned from the data: not part of the recipe
}
HOLDOUT_ORIGIN = date(2025, 12, 7)


def version(name: str, **changes) -> ModelVersion:
    made = datetime(2025, 12, 21)
    base = ModelVersion(
        "demand_forecast", name, "champion", made, "run", "fs", {}, "a1b2c3d4e5f6a7b8",
        PARAMETERS, {}, {}, {}, f"demand_forecast/{name}/model.txt", "0" * 64, False, None,
        None, None, None, made, None,
    )  # fmt: skip
    return replace(base, **changes)


def test_the_same_recipe_on_newer_data_is_left_to_the_canary():
    v1 = version("v1")
    v2 = version("v2", status="candidate", parameters={**PARAMETERS, "level_factor": 1.1})
    reason = champion_judged_live(v2, v1, date(2025, 12, 20), HOLDOUT_ORIGIN, 14)
    assert reason == (
        "v2 is the champion v1's recipe (training code a1b2c3d4e5f6, the same parameters and "
        "settings) on newer data; the champion learned from 14 of the holdout's 14 days, so it "
        "is not judged there: the canary compares the two on days neither has seen"
    )
    assert "learned from 3 of" in champion_judged_live(
        v2, v1, date(2025, 12, 9), HOLDOUT_ORIGIN, 14
    )


def test_the_holdout_judges_a_champion_that_never_saw_it_or_another_recipe():
    v1, v2 = version("v1"), version("v2", status="candidate")
    assert champion_judged_live(v2, v1, date(2025, 12, 6), HOLDOUT_ORIGIN, 14) is None
    assert champion_judged_live(v2, v1, None, HOLDOUT_ORIGIN, 14) is None
    newer_code = replace(v2, code_version="ffff00001111")
    assert champion_judged_live(newer_code, v1, date(2025, 12, 20), HOLDOUT_ORIGIN, 14) is None
    for key, value in [
        ("lightgbm", {"objective": "tweedie", "seed": 42}),
        ("recent_mean_weight", 0.0),
        ("recent_mean_windows", [28]),
        ("settings", {"active_days": 28}),
        ("holiday_country", "GB"),
    ]:
        other = replace(v2, parameters={**PARAMETERS, key: value})
        assert champion_judged_live(other, v1, date(2025, 12, 20), HOLDOUT_ORIGIN, 14) is None
