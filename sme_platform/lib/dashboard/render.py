"""The KPI dashboard as one self-contained HTML file: plotly's JavaScript inline (no CDN: it
opens on a server without internet), every figure drawn from DashboardData, every string from
the data escaped, and a section the company has no data for saying why instead of a blank."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
from plotly.offline import get_plotlyjs

from sme_platform.lib.dashboard.data import DashboardData, Section
from sme_platform.lib.training.conformal import NOMINAL_COVERAGE

TITLE = "KPI dashboard"


def render(data: DashboardData, path: Path, assumptions: dict, company: str) -> Path:
    sections = [
        ("Sales and forecast", _sales_and_forecast(data.sales_and_forecast)),
        ("Stock: stock-out rate and days of inventory", _stock(data.sales_kpis)),
        ("Support: ticket response times", _support(data.support_kpis)),
        ("Forecast model: drift", _table(data.drift, _DRIFT_COLUMNS)),
        ("Checks per stage (latest result of each check)", _table(data.checks, _CHECK_COLUMNS)),
        ("Quarantine share per source", _quarantine(data.quarantine)),
        ("ROI: ordering from the model's forecasts", _roi(data.roi, assumptions)),
    ]
    body = "\n".join(
        f'<section id="{_anchor(title)}"><h2>{html.escape(title)}</h2>{content}</section>'
        for title, content in sections
    )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{TITLE}: {html.escape(company)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
section {{ margin-bottom: 2.5rem; }} table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }} .missing {{ color: #777; }}
</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<h1>{TITLE}: {html.escape(company)}</h1>
<p>Generated {generated} from the warehouse by sme_platform.</p>
{body}
</body></html>"""
    return write_page(path, page)


def write_page(path: Path, page: str) -> Path:
    """Write beside, then rename over: a reader never sees half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".html.tmp")
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(path)
    return path


def _anchor(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")[:40]


def _missing(section: Section) -> str | None:
    if section.missing or section.frame.is_empty():
        return f'<p class="missing">Not shown: {html.escape(section.missing or "no data")}.</p>'
    return None


def _figure(figure: go.Figure) -> str:
    figure.update_layout(height=360, margin={"l": 50, "r": 20, "t": 30, "b": 40})
    return figure.to_html(full_html=False, include_plotlyjs=False)


def _sales_and_forecast(section: Section) -> str:
    if (missing := _missing(section)) is not None:
        return missing
    frame = section.frame
    figure = go.Figure()
    if "interval_high" in frame.columns:
        ahead = frame.filter(pl.col("forecast").is_not_null())
        figure.add_trace(
            go.Scatter(
                x=[*ahead["date"], *ahead["date"].reverse()],
                y=[*ahead["interval_high"], *ahead["interval_low"].reverse()],
                fill="toself",
                fillcolor="rgba(31,119,180,0.15)",
                line={"width": 0},
                name=f"{NOMINAL_COVERAGE * 100:.0f} % interval",
            )
        )
        figure.add_trace(go.Scatter(x=ahead["date"], y=ahead["forecast"], name="forecast"))
    sold = frame.filter(pl.col("units_sold").is_not_null())
    figure.add_trace(go.Scatter(x=sold["date"], y=sold["units_sold"], name="units sold"))
    figure.update_layout(yaxis_title="units per day (all series)")
    note = f"<p>{html.escape(section.note)}</p>" if section.note else ""
    return _figure(figure) + note


def _stock(section: Section) -> str:
    if (missing := _missing(section)) is not None:
        return missing
    frame = section.frame
    if frame["stock_out_rate"].null_count() == frame.height:
        return '<p class="missing">Not shown: no inventory source (stock unknown).</p>'
    figure = go.Figure()
    figure.add_trace(go.Bar(x=frame["month"], y=frame["stock_out_rate"], name="stock-out rate"))
    figure.add_trace(
        go.Scatter(x=frame["month"], y=frame["days_of_inventory"], name="days of inventory",
                   yaxis="y2")
    )  # fmt: skip
    figure.update_layout(
        yaxis={"title": "stock-out rate", "tickformat": ".1%"},
        yaxis2={"title": "days of inventory", "overlaying": "y", "side": "right"},
    )
    return _figure(figure)


def _support(section: Section) -> str:
    if (missing := _missing(section)) is not None:
        return missing
    frame = section.frame
    figure = go.Figure()
    for column, label in (
        ("median_first_response_hours", "median first response (h)"),
        ("median_resolution_hours", "median resolution (h)"),
    ):
        figure.add_trace(go.Scatter(x=frame["month"], y=frame[column], name=label))
    return _figure(figure)


def _quarantine(section: Section) -> str:
    if (missing := _missing(section)) is not None:
        return missing
    frame = section.frame
    figure = go.Figure(go.Bar(x=frame["source"], y=frame["share"], name="quarantined share"))
    figure.update_layout(yaxis={"title": "rows quarantined / rows read", "tickformat": ".2%"})
    return _figure(figure) + _table(section, _QUARANTINE_COLUMNS)


def _roi(section: Section, assumptions: dict) -> str:
    if (missing := _missing(section)) is not None:
        return missing
    stated = ", ".join(
        f"{html.escape(str(k))} {html.escape(str(v))}" for k, v in assumptions.items()
    )
    note = f"<p>{html.escape(section.note)}</p>" if section.note else ""
    return (
        _table(section, _ROI_COLUMNS)
        + note
        + (
            "<p>Money: lost margin for units short plus holding cost, per series, simulated "
            "with one reorder policy for every method. Baseline period: the backtest the "
            "champion was released on, against the cheapest baseline or statistical peer on "
            "the same days. Current period: the forecasts that drove orders (the champion's, "
            "and a canary's on its series), one order per review period, the newest 8, "
            "against the cheaper of the seasonal naive and the 28-day mean at the same origins, "
            "once the lead time and review period have been sold; prices and costs of the "
            f"forecasts' feature rows. Assumptions (forecasting.yaml): {html.escape(stated)}.</p>"
        )
    )


_DRIFT_COLUMNS = {
    "model_name": "model",
    "model_version": "version",
    "measured_on": "measured on",
    "features": "features",
    "drifted": "drifted",
    "drifted_features": "which",
    "report": "Evidently report",
}
_CHECK_COLUMNS = {"stage": "stage", "passed": "passed", "failed": "failed", "failing": "failing"}
_QUARANTINE_COLUMNS = {
    "source": "source",
    "rows_read": "rows read",
    "rows_quarantined": "quarantined",
    "share": "share",
    "files_rejected": "files rejected",
}
_ROI_COLUMNS = {
    "period": "period",
    "window": "window",
    "version": "champion",
    "model_cost": "model's cost",
    "baseline": "cheapest alternative",
    "baseline_cost": "its cost",
    "saving": "saving",
    "saving_share": "saving share",
}


def _table(section: Section, columns: dict[str, str]) -> str:
    if (missing := _missing(section)) is not None:
        return missing
    head = "".join(f"<th>{html.escape(label)}</th>" for label in columns.values())
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(name, row[name])}</td>" for name in columns) + "</tr>"
        for row in section.frame.iter_rows(named=True)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _cell(name: str, value) -> str:
    if value is None:
        return "-"
    if name == "share":
        return f"{value:.3%}"
    if name == "saving_share":
        return f"{value:+.1%}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    if name == "report":
        return f'<a href="{html.escape(Path(str(value)).as_uri(), quote=True)}">report</a>'
    return html.escape(str(value))
