"""Writing the compliance report: its figures as rows of reports.compliance_* (one report id
per period, replaced when the same period is reported again) and as a self-contained HTML file,
data/reports/compliance_<from>_<to>.html."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl

from sme_platform.lib.access import AccessState
from sme_platform.lib.audit.chain import Verification
from sme_platform.lib.compliance.figures import Figures, access_frame, compute
from sme_platform.lib.compliance.pdf import print_pdf
from sme_platform.lib.compliance.render import render
from sme_platform.lib.warehouse import transaction

TABLES = {
    "sources": "reports.compliance_sources",
    "quarantine": "reports.compliance_quarantine",
    "rejected_files": "reports.compliance_rejected_files",
    "checks": "reports.compliance_checks",
    "check_failures": "reports.compliance_check_failures",
    "model_events": "reports.compliance_model_events",
    "erasures": "reports.compliance_erasures",
}
REPORTS_TABLE = "reports.compliance_reports"
ACCESS_TABLE = "reports.compliance_access"


@dataclass(frozen=True)
class ComplianceReport:
    report_id: str
    path: Path
    figures: Figures
    verification: Verification
    access: list[AccessState]
    seconds: float
    pdf: Path | None = None  # None: no Chromium here (pdf.NO_BROWSER)


def report_path(reports_dir: Path, start: date, end: date) -> Path:
    return reports_dir / f"compliance_{start}_{end}.html"


def make_report(
    con: duckdb.DuckDBPyConnection,
    reports_dir: Path,
    start: date,
    end: date,
    verification: Verification,
    access: list[AccessState],
    company: str,
    run_id: str | None = None,
) -> ComplianceReport:
    started = time.perf_counter()
    figures = compute(con, start, end)
    report_id = f"{start}_{end}"
    path = render(figures, verification, access, report_path(reports_dir, start, end), company)
    _store(con, report_id, figures, verification, access, path, run_id)
    seconds = time.perf_counter() - started
    return ComplianceReport(
        report_id, path, figures, verification, access, seconds, print_pdf(path)
    )


def _store(con, report_id, figures: Figures, verification, access, path, run_id) -> None:
    con.execute("create schema if not exists reports")
    generated = datetime.now(UTC).replace(tzinfo=None)
    summary = pl.DataFrame(
        {
            "period_start": [figures.start],
            "period_end": [figures.end],
            "generated_at": [generated],
            "run_id": [run_id],
            "audit_chain_intact": [verification.intact],
            "audit_chain": [verification.summary()],
            "access_ok": [all(state.ok for state in access)],
            "html_path": [str(path)],
        }
    )
    frames = {
        **{table: getattr(figures, name) for name, table in TABLES.items()},
        REPORTS_TABLE: summary,
        ACCESS_TABLE: access_frame(access),
    }
    with transaction(con):
        for table, frame in frames.items():
            with_id = frame.select(pl.lit(report_id).alias("report_id"), pl.all())
            con.register("_compliance_rows", with_id.to_arrow())
            try:
                con.execute(
                    f"create table if not exists {table} as "
                    "select * from _compliance_rows where false"
                )
                con.execute(f"delete from {table} where report_id = ?", [report_id])
                con.execute(f"insert into {table} by name select * from _compliance_rows")
            finally:
                con.unregister("_compliance_rows")
