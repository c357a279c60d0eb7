"""The dashboard's check: every section drawn or saying why not, nothing fetched from the
network, and its money reconciled with the run summary's (computed from ml.backtest_results by
another path: lib/training/forecast_summary.py)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from sme_platform.lib.dashboard.data import SECTION_NAMES, DashboardData
from sme_platform.lib.governance import CheckOutcome
from sme_platform.lib.training.forecast_summary import summarize_forecasting

EXTERNAL = re.compile(r"<(?:script|link|img|iframe)[^>]+(?:src|href)=[\"']?https?:", re.I)


def dashboard_complete(
    con: duckdb.DuckDBPyConnection, data: DashboardData, page: Path, model_name: str
) -> CheckOutcome:
    problems = []
    text = page.read_text(encoding="utf-8")
    if EXTERNAL.search(text):
        problems.append("the page loads something from the network")
    sections = {name: getattr(data, name) for name in SECTION_NAMES}
    silent = [n for n, s in sections.items() if s.frame.is_empty() and not s.missing]
    if silent:
        problems.append(f"sections empty without a reason: {', '.join(silent)}")
    summary = summarize_forecasting(con, model_name)
    expected = summary.saving_over_windows if summary else None
    shown = [r for r in data.roi.frame.iter_rows(named=True) if r["window"].startswith("all ")]
    if expected is not None and shown:
        method, money = expected
        if shown[0]["baseline"] != method or abs(shown[0]["saving"] - money) > 0.01:
            problems.append(
                f"ROI shows {shown[0]['saving']:,.2f} against {shown[0]['baseline']}, the run "
                f"summary {money:,.2f} against {method}"
            )
    drawn = [n for n, s in sections.items() if not s.frame.is_empty()]
    return CheckOutcome(
        "dashboard_complete",
        not problems,
        "error",
        "; ".join(problems)
        if problems
        else f"{len(drawn)} of {len(sections)} sections drawn, the others say why; "
        "self-contained; its money matches the run summary",
        {
            "drawn": drawn,
            "not_shown": {n: s.missing for n, s in sections.items() if s.frame.is_empty()},
            "problems": problems,
        },
    )
