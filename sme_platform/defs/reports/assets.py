"""The KPI dashboard: one self-contained HTML page the business reads (data/reports/kpi.html)."""

import dagster as dg

from sme_platform.defs.governance.checks import report_checks
from sme_platform.defs.monitoring.assets import MONITORING_KEY
from sme_platform.defs.release.jobs import DEMAND_FORECAST_KEY
from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.asset_code_versions import dashboard_code_version
from sme_platform.lib.dashboard.check import dashboard_complete
from sme_platform.lib.dashboard.data import SECTION_NAMES, collect
from sme_platform.lib.dashboard.render import render as render_dashboard
from sme_platform.lib.training.config import MODEL_NAME, load_forecasting_config

KPI_DASHBOARD_KEY = dg.AssetKey(["reports", "kpi_dashboard"])
DASHBOARD_FILE = "kpi.html"


@dg.asset(
    key=KPI_DASHBOARD_KEY,
    check_specs=[
        dg.AssetCheckSpec(
            "dashboard_complete",
            asset=KPI_DASHBOARD_KEY,
            description="Every section drawn or saying why not, nothing loaded from the "
            "network, and the money it shows equal to the run summary's.",
        )
    ],
    group_name="reports",
    description=(
        "data/reports/kpi.html: sales against the published forecast with its interval, "
        "stock-out rate and days of inventory, ticket response times, the forecast model's "
        "drift, check status per stage, quarantine share per source, and the money the "
        "model's forecasts save against the cheapest baseline (with the assumptions). One "
        "self-contained file (plotly inline, no CDN). Grain: one page per run."
    ),
    deps=[
        dg.AssetKey(["reports", "sales_kpis_monthly"]),
        dg.AssetKey(["reports", "support_kpis_monthly"]),
        DEMAND_FORECAST_KEY,
        MONITORING_KEY,
    ],
    code_version=dashboard_code_version(),
    kinds={"html", "plotly"},
    tags={"stage": "reports"},
)
def kpi_dashboard(context: dg.AssetExecutionContext, project: ProjectResource):
    business = load_forecasting_config(project.paths.root).business
    with project.warehouse() as con:
        collected = collect(con, MODEL_NAME)
        path = render_dashboard(
            collected,
            project.paths.reports_dir / DASHBOARD_FILE,
            business.model_dump(),
            project.paths.root.name,
        )
        results = report_checks(
            con,
            KPI_DASHBOARD_KEY,
            [dashboard_complete(con, collected, path, MODEL_NAME)],
            context.run.run_id,
        )
    sections = {name: getattr(collected, name).missing or "shown" for name in SECTION_NAMES}
    context.log.info(f"KPI dashboard written to {path}")
    yield dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "size_mib": round(path.stat().st_size / 2**20, 1),
            "sections": sections,
        }
    )
    yield from results


REPORT_ASSETS = [kpi_dashboard]
