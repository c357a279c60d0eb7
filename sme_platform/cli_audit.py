"""`sme-platform audit verify`: walk the audit log's hash chain and check it against the heads
recorded in the project's Dagster event log; name the first entry edited, deleted or inserted."""

# No `from __future__ import annotations`: typer reads the commands' annotations.
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from sme_platform.cli_output import console, report_busy_warehouse
from sme_platform.lib.project import REPO_ROOT, ProjectPaths

SHOWN_FINDINGS = 20


def add_audit_commands(
    app: typer.Typer, project_dir_option: Any, activate: Callable[[Path], ProjectPaths]
) -> None:
    audit = typer.Typer(help="The audit trail (governance.audit_log).", no_args_is_help=True)
    app.add_typer(audit, name="audit")

    @audit.command()
    def verify(project_dir: project_dir_option = REPO_ROOT) -> None:
        """Verify the audit log's hash chain; exit status 1 if it was tampered with."""
        import dagster as dg
        import duckdb

        from sme_platform.defs.governance.audit import verify_audit_log
        from sme_platform.lib.warehouse import connect

        paths = activate(project_dir)
        if not paths.warehouse.exists():
            console.print(f"{paths.warehouse} does not exist yet: no audit log to verify")
            raise typer.Exit(1)
        try:
            with (
                connect(paths.warehouse, read_only=True) as con,
                dg.DagsterInstance.get() as instance,
            ):
                verification = verify_audit_log(instance, con)
        except duckdb.IOException as error:
            report_busy_warehouse(
                error, paths, "verify again when it ends (its last step verifies the chain too)"
            )
            raise typer.Exit(1) from None
        console.print(verification.summary(), markup=False)
        for finding in verification.findings[:SHOWN_FINDINGS]:
            console.print(
                f"  entry {finding.event_id} {finding.kind}: {finding.message}", markup=False
            )
        if len(verification.findings) > SHOWN_FINDINGS:
            console.print(f"  ... and {len(verification.findings) - SHOWN_FINDINGS} more")
        raise typer.Exit(0 if verification.intact else 1)
