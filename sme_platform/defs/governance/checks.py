"""Recording check results in governance.check_results, from every stage's assets."""

import dagster as dg

from sme_platform.lib.governance import CheckRecord, record_check_results


def record_checks(con, asset_key: dg.AssetKey, outcomes, run_id: str) -> None:
    """`outcomes`: (check name, passed, severity, observed values, description) per check."""
    record_check_results(
        con,
        [
            CheckRecord(asset_key.to_user_string(), name, passed, severity, observed, description)
            for name, passed, severity, observed, description in outcomes
        ],
        run_id,
    )
