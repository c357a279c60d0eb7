"""Check results, from every stage's assets: recorded in governance.check_results and reported
to Dagster as the same values."""

import dagster as dg

from sme_platform.lib.governance import CheckOutcome, record_check_results


def report_checks(
    con, asset_key: dg.AssetKey, outcomes: list[CheckOutcome], run_id: str
) -> list[dg.AssetCheckResult]:
    record_check_results(con, asset_key.to_user_string(), outcomes, run_id)
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
