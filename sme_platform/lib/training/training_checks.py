"""The training stage's checks, from its backtest results.

Interval coverage on whole-unit demand: an interval holding 0 covers every day that sold nothing,
whatever its nominal (lib/training/conformal, "Zero days"), so where more of the judged days
sold nothing than nominal, coverage up to that share is by construction, not miscalibration (the
long-tail demo: 97 % of its days, coverage 0.97 at nominal 0.9). The check allows coverage up to
the larger of the two, plus the tolerance, and says why.
"""

from __future__ import annotations

import polars as pl

from sme_platform.lib.governance import CheckOutcome
from sme_platform.lib.training.backtest import LIGHTGBM

COVERAGE_TOLERANCE = 0.05


def zero_day_share(forecasts: pl.DataFrame) -> float | None:
    """The share of the model's judged days (uncensored) that sold nothing, or None."""
    days = forecasts.filter((pl.col("model") == LIGHTGBM) & ~pl.col("censored"))
    return float((days["actual"] == 0).mean()) if days.height else None


def training_checks(
    results: pl.DataFrame, nominal: float, zero_days: float | None = None
) -> list[CheckOutcome]:
    """`zero_days`: zero_day_share of the backtest (None: a version registered before it was
    recorded, judged against nominal alone)."""
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
    ceiling = max(nominal, zero_days or 0.0) + COVERAGE_TOLERANCE
    within = coverage is not None and nominal - COVERAGE_TOLERANCE <= coverage <= ceiling
    description = (
        f"mean coverage {coverage:.3f} against nominal {nominal:.2f}"
        if coverage is not None
        else "no coverage measured"
    )
    if coverage is not None and zero_days is not None and zero_days > nominal:
        description += (
            f"; {zero_days * 100:.1f} % of the judged days sold nothing and an interval holding 0 "
            f"covers them: up to {ceiling - COVERAGE_TOLERANCE:.3f} by construction"
        )
    calibrated = CheckOutcome(
        "interval_coverage",
        within,
        "warn",
        description,
        {
            "mean_coverage": coverage,
            "nominal": nominal,
            "tolerance": COVERAGE_TOLERANCE,
            "zero_day_share": zero_days,
        },
    )
    return [complete, calibrated]
