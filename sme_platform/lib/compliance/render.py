"""The compliance report as one self-contained, printable HTML file: no script, no external
resource, every value from the data escaped; a section with nothing to show says so."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from sme_platform.lib.access import AccessState
from sme_platform.lib.audit.chain import Verification
from sme_platform.lib.compliance.figures import Figures, access_frame
from sme_platform.lib.dashboard.render import write_page

SECTIONS = (
    "summary",
    "intake",
    "quarantine",
    "rejected-files",
    "checks",
    "check-failures",
    "models",
    "erasures",
    "access",
    "audit-trail",
)
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 70rem; }
h1 { margin-bottom: 0.2rem; } section { margin: 2rem 0; break-inside: avoid-page; }
table { border-collapse: collapse; font-size: 0.9rem; }
td, th { border: 1px solid #bbb; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
td.n { text-align: right; } .ok { color: #1a7f37; } .bad { color: #b42318; font-weight: bold; }
.banner { padding: 0.6rem 1rem; border: 2px solid; margin: 1rem 0; }
.none { color: #666; font-style: italic; }
@media print { body { margin: 0; } a { color: inherit; } }
"""


def render(
    figures: Figures,
    verification: Verification,
    access: list[AccessState],
    path: Path,
    company: str,
) -> Path:
    counts = figures.model_counts()
    access_ok = all(state.ok for state in access)
    chain = (
        f'<p class="banner ok">Audit trail verified: {_e(verification.summary())}</p>'
        if verification.intact
        else f'<p class="banner bad">AUDIT TRAIL FINDINGS: {_e(verification.summary())}</p>'
    )
    decisions = " / ".join(
        str(n)
        for n in (
            counts["trained"],
            counts["promoted"] + counts["canary_promoted"],
            counts["gate_refused"],
            counts["approved"],
            counts["rolled_back"] + counts["canary_rolled_back"],
        )
    )
    evaluations = f"{_sum(figures.checks, 'evaluations')} ({_sum(figures.checks, 'failed')})"
    lines = [
        ("Files loaded", _sum(figures.sources, "files_loaded"), "n"),
        ("Rows loaded", _sum(figures.sources, "rows_loaded"), "n"),
        ("Rows quarantined", _sum(figures.sources, "rows_quarantined"), "n"),
        ("Files rejected", f"{figures.rejected_files.height:,}", "n"),
        ("Check evaluations (failed)", evaluations, "n"),
        ("Model versions trained / promoted / refused / approved / rolled back", decisions, "n"),
        ("Erasure requests served", f"{figures.erasures.height:,}", "n"),
        (
            "Access controls",
            "as required" if access_ok else "paths open to others: see below",
            "ok" if access_ok else "bad",
        ),
    ]
    summary = chain + (
        "<table>"
        + "".join(f'<tr><th>{_e(a)}</th><td class="{c}">{_e(b)}</td></tr>' for a, b, c in lines)
        + "</table>"
    )
    access_rows = access_frame(access).select(
        "path",
        "what",
        pl.col("mode").fill_null("absent"),
        "required",
        pl.when("ok").then(pl.lit("ok")).otherwise(pl.lit("OPEN TO OTHERS")).alias("state"),
    )
    findings = pl.DataFrame(
        {
            "entry": [f.event_id for f in verification.findings],
            "kind": [f.kind for f in verification.findings],
            "finding": [f.message for f in verification.findings],
        },
        schema={"entry": pl.Int64, "kind": pl.String, "finding": pl.String},
    )
    no_finding = (
        "no finding: every entry hashes to its stored hash, follows the one before it and "
        "agrees with the heads recorded in Dagster's event log"
    )
    sections = [
        ("summary", "Summary", summary),
        ("intake", "Data intake per source", _table(figures.sources, "no file was loaded")),
        (
            "quarantine",
            "Rows quarantined, by rule",
            _table(figures.quarantine, "no row was quarantined"),
        ),
        ("rejected-files", "Rejected files", _table(figures.rejected_files, "no file rejected")),
        ("checks", "Checks: pass rate per asset", _table(figures.checks, "no check ran")),
        (
            "check-failures",
            "Every check failure, with its run",
            _table(figures.check_failures, "no check failed"),
        ),
        (
            "models",
            "Model decisions: trained, promoted, refused (why), approved (by whom), rolled back",
            _table(figures.model_events, "no model decision"),
        ),
        (
            "erasures",
            "Erasure requests served",
            _table(figures.erasures, "no erasure request in this period"),
        ),
        ("access", "Access controls (file modes now)", _table(access_rows, "no protected path")),
        (
            "audit-trail",
            "Audit trail verification",
            f"<p>{_e(verification.summary())}</p>" + _table(findings, no_finding),
        ),
    ]
    body = "\n".join(
        f'<section id="{anchor}"><h2>{_e(title)}</h2>{content}</section>'
        for anchor, title, content in sections
    )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Compliance report {figures.start} to {figures.end}: {_e(company)}</title>
<style>{STYLE}</style></head><body>
<h1>Compliance report: {_e(company)}</h1>
<p>Period {figures.start} to {figures.end} (both days included). Generated {generated} by
sme_platform from the warehouse tables named in each section's figures.</p>
{body}
</body></html>"""
    return write_page(path, page)


def _e(value) -> str:
    return html.escape(str(value))


def _sum(frame: pl.DataFrame, column: str) -> str:
    return f"{int(frame[column].sum() or 0):,}" if frame.height else "0"


def _table(frame: pl.DataFrame, empty: str) -> str:
    if frame.is_empty():
        return f'<p class="none">None: {_e(empty)}.</p>'
    head = "".join(f"<th>{_e(c.replace('_', ' '))}</th>" for c in frame.columns)
    rows = []
    for row in frame.iter_rows():
        cells = "".join(
            f'<td class="n">{value:,}</td>'
            if isinstance(value, int) and not isinstance(value, bool)
            else f"<td>{'' if value is None else _e(value)}</td>"
            for value in row
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _cell(value) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="n">{value:,}</td>'
    return f"<td>{'' if value is None else _e(value)}</td>"
