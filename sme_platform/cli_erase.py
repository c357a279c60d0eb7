"""`sme-platform erase customer ID --by NAME --reason TEXT`: one person's right to erasure,
served by the erase_customer job through the project's instance (in the run history like the
UI's): their personal data removed everywhere the platform keeps it, their sales and tickets
kept under a pseudonym, audited."""

# No `from __future__ import annotations`: typer reads the commands' annotations.
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from sme_platform.cli_output import console, print_line
from sme_platform.lib.project import REPO_ROOT, ProjectPaths

ERASURE_STEP = "governance__erasures"


def add_erase_commands(
    app: typer.Typer, project_dir_option: Any, activate: Callable[[Path], ProjectPaths]
) -> None:
    erase = typer.Typer(help="The right to erasure.", no_args_is_help=True)
    app.add_typer(erase, name="erase")

    @erase.command()
    def customer(
        customer_id: Annotated[str, typer.Argument(help="The customer id in the exports.")],
        by: Annotated[str, typer.Option("--by", help="Your full name.")],
        reason: Annotated[
            str,
            typer.Option(
                "--reason",
                help="Why (e.g. the request's ticket number); not the person's name, email or "
                "phone: the audit log keeps it for ever.",
            ),
        ],
        project_dir: project_dir_option = REPO_ROOT,
    ) -> None:
        """Erase a customer's name, email, phone and messages from the warehouse, quarantine,
        the analyst database and the files under data/; their sales and tickets stay, under a
        pseudonym. Audited (erased) and listed in governance.erasures."""
        from sme_platform.cli_runs import materialize, warehouse_turn
        from sme_platform.lib.warehouse import connect

        if not customer_id.strip() or not by.strip() or not reason.strip():
            print_line("erase needs a customer id, a name (--by) and a reason (--reason)", "red")
            raise typer.Exit(2)
        paths = activate(project_dir)
        if not paths.warehouse.exists():
            print_line(f"{paths.warehouse} does not exist yet: nothing to erase", "red")
            raise typer.Exit(1)
        config = {"customer_id": customer_id, "requested_by": by, "reason": reason}
        with warehouse_turn(paths) as run_id:
            success = materialize(
                None,
                run_id,
                job_name="erase_customer",
                run_config={"ops": {ERASURE_STEP: {"config": config}}},
            )
        with connect(paths.warehouse, read_only=True) as con:
            served = con.execute(
                """select e.details->>'$.summary', c.passed, c.description
                   from governance.audit_log e
                   left join governance.check_results c
                     on c.run_id = e.run_id and c.check_name = 'no_trace_left'
                   where e.event = 'erased' and e.run_id = ?""",
                [run_id],
            ).fetchone()
        if served is None:
            raise typer.Exit(1)  # refused: the run's error says why, nothing was changed
        summary, passed, traces = served
        console.print(summary, markup=False)
        console.print(traces or "no trace check recorded", markup=False)
        raise typer.Exit(0 if success and passed else 1)
