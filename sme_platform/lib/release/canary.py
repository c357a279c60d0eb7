"""The canary: a share of the business is forecast by the challenger while the champion keeps
the rest; once enough actuals have arrived, the two are compared on the same days and series.

Who is in the canary: a share of the locations (a store runs on one model, which is how a
company would try a change), or of the series when the company has one location. Chosen by
ranking units on a salted sha256, so the same salt (the challenger's version) picks the same
units in every run, another challenger picks others, and the share is met exactly (rounded,
at least one unit).

How they are compared: on the simulated business cost of the order cycles sold since the
canary started (lib/release/canary_cost: the KPI models are ranked by, so promotion and rollback
answer the question the gate asked), with its interval over the series and the WAPE beside it;
without the simulation (a caller that passes none), on WAPE over the uncensored days with
actuals. Either way the decision says which. Until 2026-12-05 the release step passed no
simulation, so every canary was decided on WAPE alone, which rewards forecasting fewer units
on intermittent demand.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from sme_platform.lib.release.canary_cost import CanaryCost
from sme_platform.lib.release.gate import GateConfig
from sme_platform.lib.release.gate_text import money as _money
from sme_platform.lib.release.gate_text import ratio as _ratio
from sme_platform.lib.release.gate_text import signed_pct as _percent
from sme_platform.lib.training.cost_uncertainty import interval_text

CanaryOutcome = Literal["promote", "roll_back", "wait"]
# Forecast rows are matched on these (the ones present in both frames).
MATCH_COLUMNS = ("sku", "location_id", "origin_date", "target_date", "horizon")


def canary_unit(series: pl.DataFrame) -> Literal["location", "series"]:
    return "location" if series["location_id"].n_unique() > 1 else "series"


def canary_series(series: pl.DataFrame, share: float, salt: str) -> pl.DataFrame:
    """One row per series (sku, location_id) with `canary` true for those the challenger scores.
    `salt` is what makes the choice differ between canaries: pass the challenger's version,
    e.g. "demand_forecast:v3"."""
    if not 0 < share <= 1:
        raise ValueError(f"canary share {share}: expected a share in (0, 1]")
    distinct = series.select("sku", "location_id").unique().sort("location_id", "sku")
    if distinct.is_empty():
        return distinct.with_columns(canary=pl.lit(False))
    if canary_unit(distinct) == "location":
        units = distinct["location_id"].unique().to_list()
        unit_of = pl.col("location_id")
    else:
        units = [f"{sku}\x1f{location}" for sku, location in distinct.iter_rows()]
        unit_of = pl.concat_str("sku", pl.lit("\x1f"), "location_id")
    ranked = sorted(units, key=lambda unit: (_digest(salt, unit), unit))
    chosen = ranked[: min(len(units), max(1, round(share * len(units))))]
    return distinct.with_columns(canary=unit_of.is_in(chosen))


@dataclass(frozen=True)
class CanaryDecision:
    outcome: CanaryOutcome
    metric: str  # "business cost" or "WAPE": what decided
    reason: str  # one sentence with the numbers
    figures: dict[str, Any] = field(default_factory=dict)


def compare(
    canary_frame: pl.DataFrame,
    champion_frame: pl.DataFrame,
    config: GateConfig,
    cost: CanaryCost | None = None,
) -> CanaryDecision:
    """Compare the challenger's forecasts of the canary series (`canary_frame`) with the
    champion's of the same series (`champion_frame`), both forecast frames, on the rows both
    have with a known, uncensored actual. `cost` (lib/release/canary_cost: the reorder
    simulation of the order cycles sold) decides when given; without it, WAPE decides."""
    keys = [c for c in MATCH_COLUMNS if c in canary_frame.columns and c in champion_frame.columns]
    for required in ("sku", "location_id", "target_date"):
        if required not in keys:
            raise ValueError(f"canary comparison: both frames need column {required!r}")
    mine, theirs = _known(canary_frame), _known(champion_frame)
    paired_keys = mine.select(keys).join(theirs.select(keys), on=keys, how="inner")
    mine = mine.join(paired_keys, on=keys, how="semi")
    theirs = theirs.join(paired_keys, on=keys, how="semi")
    days = mine["target_date"].n_unique()
    series = mine.select("sku", "location_id").unique().height
    metric = "business cost" if cost is not None else "WAPE"
    figures: dict[str, Any] = {
        "days_with_actuals": days,
        "series": series,
        "rows_compared": mine.height,
        "canary_wape": _wape(mine),
        "champion_wape": _wape(theirs),
        "canary_bias": _bias(mine),
        "champion_bias": _bias(theirs),
        "min_days": config.canary_min_days,
        "threshold": config.canary_rollback_threshold,
    }
    if days < config.canary_min_days:
        return CanaryDecision(
            "wait",
            metric,
            f"{days} day(s) of actuals on the canary's {series} series so far; the comparison "
            f"waits for {config.canary_min_days}",
            figures,
        )
    if cost is not None:
        if cost.waiting is not None:
            return CanaryDecision("wait", metric, cost.waiting, figures)
        canary_value, champion_value = float(cost.canary), float(cost.champion)
        cycles = len(cost.origins)
        compared = (
            f"canary business cost {_money(canary_value)} against the champion's "
            f"{_money(champion_value)} on the same {cycles} order cycle(s) of {cost.cycle_days} "
            f"days (from {', '.join(str(o) for o in cost.origins)}) and {cost.series:,} series"
        )
        figures.update(
            order_cycles=[str(o) for o in cost.origins],
            cycle_days=cost.cycle_days,
            cost_series=cost.series,
            cost_interval=cost.interval,
        )
    else:
        canary_value, champion_value = figures["canary_wape"], figures["champion_wape"]
        if canary_value is None or champion_value is None:
            return CanaryDecision(
                "wait",
                metric,
                f"no units sold on the canary's {series} series in {days} day(s): "
                "WAPE cannot compare them yet",
                figures,
            )
        compared = (
            f"canary WAPE {_ratio(canary_value)} against the champion's "
            f"{_ratio(champion_value)} on the same {days} days and {series} series"
        )
    figures.update(metric=metric, canary=canary_value, champion=champion_value)
    threshold = config.canary_rollback_threshold
    if champion_value == 0:
        worse = canary_value > 0
        how = "worse than a perfect champion" if worse else "equal"
    else:
        change = (canary_value - champion_value) / champion_value
        figures["change"] = change
        worse = change > threshold
        how = (
            f"{abs(change) * 100:.3g} % {'worse' if change > 0 else 'better'}"
            if change
            else "no different"
        )
    if cost is not None and cost.interval and cost.interval.get("low") is not None:
        how += f" ({interval_text(cost.interval)})"
    verdict = (
        f"beyond the {threshold * 100:.3g} % threshold: roll back"
        if worse
        else f"within the {threshold * 100:.3g} % threshold: promote"
    )
    reason = f"{compared}: {how}, {verdict}"
    if cost is not None:
        reason += f"; {_accuracy(figures, days)}"
    return CanaryDecision("roll_back" if worse else "promote", metric, reason, figures)


def _accuracy(figures: dict[str, Any], days: int) -> str:
    """The daily accuracy beside the money: WAPE and bias of both on the days with actuals."""
    parts = []
    for key, name, shown in (("wape", "WAPE", _ratio), ("bias", "bias", _percent)):
        mine, theirs = figures[f"canary_{key}"], figures[f"champion_{key}"]
        if mine is None or theirs is None:
            parts.append(f"{name} undefined (nothing sold)")
        else:
            parts.append(f"{name} {shown(mine)} against {shown(theirs)}")
    return f"{', '.join(parts)} over the {days} days with actuals"


def _known(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows whose actual has arrived and says something about demand (not censored)."""
    known = frame.filter(pl.col("actual").is_not_null())
    if "censored" in frame.columns:
        known = known.filter(~pl.col("censored").fill_null(False))
    return known


def _wape(frame: pl.DataFrame) -> float | None:
    actual = frame["actual"].sum()
    if not actual:
        return None
    return float((frame["prediction"] - frame["actual"]).abs().sum() / actual)


def _bias(frame: pl.DataFrame) -> float | None:
    actual = frame["actual"].sum()
    if not actual:
        return None
    return float((frame["prediction"].sum() - actual) / actual)


def _digest(salt: str, unit: str) -> str:
    return hashlib.sha256(f"{salt}\x1f{unit}".encode()).hexdigest()
