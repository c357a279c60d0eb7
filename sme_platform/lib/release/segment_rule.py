"""The gate's segment rule: does the challenger regress in a category or a location?

A segment regresses when its business cost (WAPE where that cost is zero) is more than
`max_segment_regression` above the same segment of the reference, among the segments worth at
least `min_segment_cost_share` of the reference's money.

With `segment_regression_evidence: interval` a segment beyond that share counts only when the
90 % interval over series of its cost against the reference lies above zero: worse beyond what
its series' spread explains. Why: the gate tests every category and location at once, and one
segment's cost swings far more from one window to the next than the whole (on the demo one
category went from +48 % against the 28-day mean in one window to -48 % in another). A rule on
the point figure alone refused a model 7.6 % cheaper overall (interval -11.7 to -3.4 %) for one
category 30.3 % dearer than ADIDA whose interval was -0.7 to +74.5 %: no evidence it was worse
at all. Where there is no interval (the champion, scored at release; a segment compared on
WAPE; a version registered before the intervals) the point figure decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sme_platform.lib.release.gate_rows import cost
from sme_platform.lib.release.gate_text import money, pct, ratio
from sme_platform.lib.training.cost_uncertainty import interval_text

if TYPE_CHECKING:  # gate.py imports this module: the config's type only, for the reader
    from sme_platform.lib.release.gate import GateConfig

POINT = "point"
INTERVAL = "interval"


@dataclass
class SegmentVerdict:
    # One sentence per segment that regresses: each refuses the challenger.
    regressions: list[str] = field(default_factory=list)
    # Beyond the share on the point figure, not beyond the spread over series (interval rule).
    within_spread: list[str] = field(default_factory=list)


def segment_verdict(
    challenger: dict[tuple[str, str], Mapping[str, Any]],
    reference: dict[tuple[str, str], Mapping[str, Any]],
    label: str,
    config: GateConfig,
    intervals: Mapping[tuple[str, str], Mapping[str, Any]],
) -> SegmentVerdict:
    """`intervals`: the challenger's cost against the reference's
    per segment with its interval over series (lib/release/gate_intervals)."""
    verdict = SegmentVerdict()
    allowed = config.max_segment_regression
    overall = reference.get(("overall", "overall"))
    material = config.min_segment_cost_share * (cost(overall) if overall else 0.0)
    for key in sorted(challenger):
        if key[0] == "overall" or key not in reference:
            continue  # a segment the reference was not scored on cannot regress against it
        ours, theirs = challenger[key], reference[key]
        metric, mine, other = "business cost", cost(ours), cost(theirs)
        if 0 < max(mine, other) < material:
            continue  # too small a share of the money to tell a regression from noise
        if other == 0:
            metric, mine, other = "WAPE", ours.get("wape"), theirs.get("wape")
            if mine is None or other is None:
                continue  # no units sold in the segment: neither cost nor WAPE to compare
        if mine <= other * (1 + allowed):
            continue
        shown = money if metric == "business cost" else ratio
        worse = f"{pct((mine - other) / other)} worse" if other else "worse"
        interval = intervals.get(key) if metric == "business cost" else None
        compared = f"{key[0]} {key[1]}: {metric} {shown(mine)} is {worse} than {label}'s "
        compared += shown(other)
        if config.segment_regression_evidence == INTERVAL and interval and interval["low"] <= 0:
            verdict.within_spread.append(
                f"{compared}, beyond the {pct(allowed)} allowed but not beyond the spread of "
                f"its series ({interval_text(interval)}): not counted as a regression"
            )
            continue
        verdict.regressions.append(
            f"{compared} (at most {pct(allowed)} allowed"
            + (f"; {interval_text(interval)})" if interval else ")")
        )
    return verdict
