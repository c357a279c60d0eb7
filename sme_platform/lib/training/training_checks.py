"""The training stage's checks, from its backtest results."""

from __future__ import annotations

import polars as pl

from sme_platform.lib.governance import CheckOutcome
from sme_platform.lib.training.backtest import LIGHTGBM

COVERAGE_TOLERANCE = 0.05


def training_checks(results: pl.DataFrame, nominal: float) -> list[CheckOutcome]:
    overall = results.filter(pl.col("segment_type") == "overall")
    folds = sorted(overall["fold"].unique().to_list())
    methods = sorted(overall["model"].unique().to_list())
    missing = [
        f"{method} on {fold}"
        for method in methods
        for fold in folds
        if overall.filter(
            (pl.col("model") == method)
            & (pl.col("fold") == fold)
            & pl.col("business_cost").is_not_null()
        ).is_empty()
    ]
    complete = CheckOutcome(
        "backtest_complete",
        bool(folds) and LIGHTGBM in methods and len(methods) > 1 and not missing,
        "error",
        f"{len(methods)} methods x {len(folds)} folds"
        + (f"; missing: {', '.join(missing)}" if missing else ": all with results"),
        {"methods": methods, "folds": folds, "missing": missing},
    )
    coverage = overall.filter(pl.col("model") == LIGHTGBM)["interval_coverage"].mean()
    within = coverage is not None and abs(coverage - nominal) <= COVERAGE_TOLERANCE
    calibrated = CheckOutcome(
        "interval_coverage",
        within,
        "warn",
        f"mean coverage {coverage:.3f} against nominal {nominal:.2f}"
        if coverage is not None
        else "no coverage measured",
        {"mean_coverage": coverage, "nominal": nominal, "tolerance": COVERAGE_TOLERANCE},
    )
    return [complete, calibrated]
