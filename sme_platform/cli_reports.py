"""`sme-platform report compliance --from DATE --to DATE`: the compliance report for a period,
made by the compliance_report job through the project's instance (in the run history like the
UI's), written to data/reports/compliance_<from>_<to>.html and reports.compliance_*."""

# No `from __future__ import annotations`: typer reads the commands' annotations.
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from sme_platform.cli_output import console, print_line
from sme_platform.lib.project import REPO_ROOT, ProjectPaths

COMPLIANCE_STEP = "reports__compliance_report"


def add_report_commands(
    app: typer.Typer, project_dir_option: Any, activate: Callable[[Path], ProjectPaths]
) -> None:
    report = typer.Typer(help="Reports made on demand.", no_args_is_help=True)
    app.add_typer(report, name="report")

    @report.command()
    def compliance(
        start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
        end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (included).")],
        project_dir: project_dir_option = REPO_ROOT,
    ) -> None:
        """Loads, quarantines, rejected files, checks, model decisions, erasures, access
        controls and the audit chain's verification over a period, as a printable HTML file;
        exit status 1 if the audit chain or the access controls are not as they must be."""
        from sme_platform.cli_runs import materialize, warehouse_turn
        from sme_platform.defs.governance.compliance import ComplianceConfig
        from sme_platform.lib.compliance.pdf import NO_BROWSER
        from sme_platform.lib.compliance.report import report_path
        from sme_platform.lib.warehouse import connect

        # The job's own rule for a period, asked before a run is started for it.
        try:
            first, last = ComplianceConfig(period_start=start, period_end=end).period()
        except ValueError as error:
            print_line(
                f"--from {start} --to {end}: {error} (dates YYYY-MM-DD, --to not before --from)",
                "red",
            )
            raise typer.Exit(2) from None
        paths = activate(project_dir)
        if not paths.warehouse.exists():
            print_line(f"{paths.warehouse} does not exist yet: nothing to report on", "red")
            raise typer.Exit(1)
        config = {"period_start": str(first), "period_end": str(last)}
        with warehouse_turn(paths) as run_id:
            success = materialize(
                None,
                run_id,
                job_name="compliance_report",
                run_config={"ops": {COMPLIANCE_STEP: {"config": config}}},
            )
        path = report_path(paths.reports_dir, first, last)
        if not path.exists():
            raise typer.Exit(1)
        with connect(paths.warehouse, read_only=True) as con:
            summary = con.execute(
                "select audit_chain, access_ok, audit_chain_intact "
                "from reports.compliance_reports where report_id = ?",
                [f"{first}_{last}"],
            ).fetchone()
        console.print(f"Compliance report {first} to {last}: {path}", markup=False)
        pdf = path.with_suffix(".pdf")
        console.print(f"Printed: {pdf}" if pdf.exists() else f"No PDF: {NO_BROWSER}", markup=False)
        console.print(summary[0], markup=False)
        if not summary[1]:
            print_line("access controls: paths open to others (see the report)", "red")
        raise typer.Exit(0 if success and summary[1] and summary[2] else 1)
