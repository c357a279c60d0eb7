"""The compliance report on demand: a Dagster asset with the period as config (launched from
the UI's compliance_report job or by `sme-platform report compliance --from --to`), not part of
the nightly graph. It verifies the audit chain itself and says what it found: a report on a
tampered log says so rather than not being written."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
from pydantic import Field

from sme_platform.defs.governance.audit import AUDIT_LOG_KEY, verify_audit_log
from sme_platform.defs.governance.checks import report_checks
from sme_platform.defs.jobs import COMPLIANCE_REPORT_KEY
from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.access import inspect
from sme_platform.lib.asset_code_versions import compliance_code_version
from sme_platform.lib.compliance.pdf import NO_BROWSER
from sme_platform.lib.compliance.report import make_report
from sme_platform.lib.governance import DEFAULT_OWNER, CheckOutcome

DEFAULT_DAYS = 30


class ComplianceConfig(dg.Config):
    period_start: str | None = Field(
        default=None, description=f"First day, YYYY-MM-DD (default: {DEFAULT_DAYS} days ago)."
    )
    period_end: str | None = Field(default=None, description="Last day (default: today, UTC).")

    def period(self) -> tuple[date, date]:
        end = date.fromisoformat(self.period_end) if self.period_end else _today()
        start = (
            date.fromisoformat(self.period_start)
            if self.period_start
            else end - timedelta(days=DEFAULT_DAYS - 1)
        )
        if end < start:
            raise ValueError(f"the period ends ({end}) before it starts ({start})")
        return start, end


@dg.asset(
    key=COMPLIANCE_REPORT_KEY,
    # governance, not reports: made on demand, so no nightly freshness policy applies
    group_name="governance",
    owners=[DEFAULT_OWNER],
    code_version=compliance_code_version(),
    description=(
        "data/reports/compliance_<from>_<to>.html and reports.compliance_*: per source, files "
        "and rows loaded, quarantined by rule, rejected files; check pass rates and every "
        "failure with its run; model versions trained, promoted, refused (why), approved (by "
        "whom), rolled back; erasures served; access-control state; the audit chain's "
        "verification. On demand (sme-platform report compliance). Grain: one report per period."
    ),
    deps=[AUDIT_LOG_KEY],
    check_specs=[
        dg.AssetCheckSpec(
            "compliance_clean",
            asset=COMPLIANCE_REPORT_KEY,
            description="The report found the audit chain intact and every protected path "
            "closed to others (it is written either way, saying what it found).",
        )
    ],
    kinds={"html"},
    tags={"stage": "reports"},
)
def compliance_report(
    context: dg.AssetExecutionContext, config: ComplianceConfig, project: ProjectResource
):
    start, end = config.period()
    with project.warehouse() as con:
        verification = verify_audit_log(context.instance, con)
        access = inspect(project.paths)
        made = make_report(
            con,
            project.paths.reports_dir,
            start,
            end,
            verification,
            access,
            project.paths.root.name,
            context.run.run_id,
        )
        open_paths = [state.describe() for state in access if not state.ok]
        outcome = CheckOutcome(
            "compliance_clean",
            verification.intact and not open_paths,
            "error",
            "; ".join([verification.summary(), *open_paths]),
            {"audit_chain_intact": verification.intact, "paths_open_to_others": len(open_paths)},
        )
        results = report_checks(con, COMPLIANCE_REPORT_KEY, [outcome], context.run.run_id)
    yield dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(made.path)),
            "pdf": str(made.pdf) if made.pdf else NO_BROWSER,
            "period": f"{start} to {end}",
            "seconds": round(made.seconds, 2),
            "audit_chain_intact": verification.intact,
            "files_rejected": made.figures.rejected_files.height,
            "check_failures": made.figures.check_failures.height,
        }
    )
    yield from results


def _today() -> date:
    return datetime.now(UTC).date()
