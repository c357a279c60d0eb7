"""Check results, from every stage's assets: recorded in governance.check_results and reported
to Dagster as the same values."""

import dagster as dg

from sme_platform.lib.governance import CheckOutcome, record_check_results


def report_checks(
    con, asset_key: dg.AssetKey, outcomes: list[CheckOutcome], run_id: str
) -> list[dg.AssetCheckResult]:
    record_check_results(con, asset_key.to_user_string(), outcomes, run_id)
    return as_check_results(asset_key, outcomes)


def as_check_results(
    asset_key: dg.AssetKey, outcomes: list[CheckOutcome]
) -> list[dg.AssetCheckResult]:
    """The outcomes as Dagster reports them (recorded or not: see report_checks)."""
    return [
        dg.AssetCheckResult(
            asset_key=asset_key,
            check_name=o.name,
            passed=o.passed,
            severity=(
                dg.AssetCheckSeverity.ERROR if o.severity == "error" else dg.AssetCheckSeverity.WARN
            ),
            description=o.description,
            metadata=o.metadata,
        )
        for o in outcomes
    ]


def skipped(
    context: dg.AssetExecutionContext,
    con,
    asset_key: dg.AssetKey,
    check_names,
    reason: str,
) -> list:
    """An asset with nothing to work on this run: materialized with the reason in its metadata
    and its checks passed saying why they were skipped (recorded like any other result), so a
    company without the data for a stage still gets a green run that explains itself."""
    context.log.info(f"{asset_key.to_user_string()} skipped: {reason}")
    outcomes = [CheckOutcome(name, True, "error", f"skipped: {reason}") for name in check_names]
    results = report_checks(con, asset_key, outcomes, context.run.run_id)
    return [dg.MaterializeResult(asset_key=asset_key, metadata={"skipped": reason}), *results]
