"""The training step's cost intervals over series, as the gate reads them
(lib/training/cost_uncertainty: the challenger's cost over another method's minus 1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def segment_intervals(
    cost_intervals: Mapping[str, Any] | None, window: str, method: str
) -> dict[tuple[str, str], Mapping[str, Any]]:
    """{(segment_type, segment): interval} against `method` on `window` ("all_windows" or
    "holdout"); {} for the champion (scored at release, not in the training step) or a version
    registered before the segments' intervals."""
    by_type = (((cost_intervals or {}).get("segments") or {}).get(window)) or {}
    return {
        (segment_type, segment): methods[method]
        for segment_type, segments in by_type.items()
        for segment, methods in segments.items()
        if method in methods and methods[method].get("low") is not None
    }


def overall_interval(
    cost_intervals: Mapping[str, Any] | None, window: str, method: str
) -> Mapping[str, Any] | None:
    """The interval against `method` on `window` over every series, or None (a version
    registered before the intervals, or a method that cost nothing there)."""
    interval = ((cost_intervals or {}).get(window) or {}).get(method)
    return interval if interval and interval.get("low") is not None else None
