"""Whether the champion can be judged on a candidate's holdout, or only live by the canary.

The champion is scored on the holdout with its own final model, which learned from every day
up to its data's newest day. A candidate trained a night or a week later has a holdout (its
last 14 days) that the champion mostly learned from: scored there, the champion is judged in
sample. On the demo's release story (`sme-platform demo --release-story`) v1 scored 8 % cheaper
than v2 on v2's holdout, though v2 knew the price plan and v1 had trained on those very days.
When the candidate is the champion's recipe (the same training code, parameters and settings) on
newer data, the holdout can only measure that in-sample advantage, so the champion is not judged
there: the canary compares the two live, on days neither has seen. A different recipe, or a
champion whose data ended before the holdout, is still compared on the holdout (a new recipe
must win despite the champion's advantage).
"""

from __future__ import annotations

from datetime import date

from sme_platform.lib.release.registry import ModelVersion

# Everything in a version's parameters that is chosen, not learned from the data.
RECIPE_KEYS = (
    "lightgbm",
    "num_boost_round",
    "recent_mean_weight",
    "recent_mean_windows",
    "offset_windows",
    "settings",
    "horizon_days",
    "holiday_country",
)


def champion_judged_live(
    candidate: ModelVersion,
    champion: ModelVersion,
    champion_newest_day: date | None,
    holdout_origin: date,
    horizon_days: int,
) -> str | None:
    """The reason the champion is left to the canary, or None when the holdout judges it."""
    if champion_newest_day is None or champion_newest_day < holdout_origin:
        return None  # the champion has not seen the holdout: compared there, fairly
    if candidate.code_version != champion.code_version:
        return None
    if any(candidate.parameters.get(k) != champion.parameters.get(k) for k in RECIPE_KEYS):
        return None
    seen = min((champion_newest_day - holdout_origin).days + 1, horizon_days)
    return (
        f"{candidate.version} is the champion {champion.version}'s recipe (training code "
        f"{candidate.code_version[:12]}, the same parameters and settings) on newer data; the "
        f"champion learned from {seen} of the holdout's {horizon_days} days, so it is not "
        "judged there: the canary compares the two on days neither has seen"
    )
