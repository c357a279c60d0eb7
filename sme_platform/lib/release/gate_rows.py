"""The rows the promotion gate reads (ml.backtest_results rows as dicts): one window's rows by
method and segment, or every backtest window summed into one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

HOLDOUT_FOLD = "holdout"
CALIBRATION_FOLD = "calibration"


class GateInputError(ValueError):
    """The rows given cannot be judged (no challenger overall row, no reference)."""


def dicts(rows: Iterable[Mapping[str, Any]] | Any) -> list[Mapping[str, Any]]:
    return rows.to_dicts() if hasattr(rows, "to_dicts") else list(rows)  # a polars DataFrame


def holdout(rows: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [row for row in rows if row.get("fold", HOLDOUT_FOLD) == HOLDOUT_FOLD]


def over_windows(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per model and segment summing its backtest windows (every fold but the
    calibration fold, which the intervals were fitted on): cost and units added up, bias and
    WAPE recomputed from the sums (WAPE weighted by units sold, as one long window would)."""
    sums: dict[tuple, dict[str, float]] = {}
    for row in rows:
        if row.get("fold") == CALIBRATION_FOLD:
            continue
        for column in ("actual_units", "forecast_units"):
            if row.get(column) is None:
                raise GateInputError(
                    f"model {row.get('model')!r}, fold {row.get('fold')!r}: {column} is missing; "
                    "judging over every backtest window adds the windows' units up"
                )
        key = (row["model"], row["segment_type"], row["segment"])
        total = sums.setdefault(key, {"cost": 0.0, "actual": 0.0, "forecast": 0.0, "error": 0.0})
        total["cost"] += cost(row)
        total["actual"] += float(row["actual_units"])
        total["forecast"] += float(row["forecast_units"])
        total["error"] += float(row.get("wape") or 0.0) * float(row["actual_units"])
    return [
        {
            "model": model,
            "fold": "all_folds",
            "segment_type": segment_type,
            "segment": segment,
            "business_cost": total["cost"],
            "bias": (total["forecast"] - total["actual"]) / total["actual"]
            if total["actual"]
            else None,
            "wape": total["error"] / total["actual"] if total["actual"] else None,
        }
        for (model, segment_type, segment), total in sums.items()
    ]


def window_costs(rows: list[Mapping[str, Any]], model: str) -> dict[str, float]:
    """The overall business cost of `model` in each backtest window (the calibration fold left
    out, as in `over_windows`), by fold."""
    return {
        str(row["fold"]): cost(row)
        for row in rows
        if row["model"] == model
        and row.get("fold") != CALIBRATION_FOLD
        and row["segment_type"] == "overall"
    }


def by_segment(
    rows: list[Mapping[str, Any]], which: str
) -> dict[str, dict[tuple[str, str], Mapping[str, Any]]]:
    grouped: dict[str, dict[tuple[str, str], Mapping[str, Any]]] = {}
    for row in rows:
        key = (str(row["segment_type"]), str(row["segment"]))
        per_method = grouped.setdefault(str(row["model"]), {})
        if key in per_method:
            raise GateInputError(
                f"{which} rows: two holdout rows for model {row['model']!r}, segment {key[0]} "
                f"{key[1]!r}; expected one per model and segment"
            )
        per_method[key] = row
    return grouped


def segments(grouped: dict, method: str) -> set[tuple[str, str]]:
    return set(grouped.get(method, {}))


def cost(row: Mapping[str, Any]) -> float:
    value = row.get("business_cost")
    if value is None:
        raise GateInputError(
            f"model {row.get('model')!r}, segment {row.get('segment_type')} "
            f"{row.get('segment')!r}: business_cost is missing; the gate ranks by it"
        )
    return float(value)
