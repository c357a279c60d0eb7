"""One SQL model's build in a run: empty, full or incremental, then recorded.

The asset calls this once it knows the model is not up to date (up_to_date.py). An incremental
model is rebuilt over the ranges its inputs changed (incremental.py) unless the run is a full
refresh or a full build is due; whatever was built is recorded in governance.model_builds with
its mode and ranges, which is what the models downstream read their own ranges from.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from sme_platform.lib.sql_models.build import BuildOutcome, build_empty, build_model
from sme_platform.lib.sql_models.graph import SqlModel
from sme_platform.lib.sql_models.incremental import (
    describe_ranges,
    plan_incremental,
    record_input_files,
)
from sme_platform.lib.sql_models.incremental_build import build_incremental
from sme_platform.lib.sql_models.up_to_date import Build, builds_since, last_build, record_build


def build_and_record(
    con: duckdb.DuckDBPyConnection,
    model: SqlModel,
    *,
    skipped: str | None,
    skipped_tests: Mapping[str, str],
    fingerprint: str,
    data_version: str,
    run_id: str,
    full_refresh: bool,
) -> tuple[BuildOutcome, str]:
    """The outcome and how it was built, in words ("incremental: 3 day(s) in 1 range(s)...")."""
    plan = None
    if skipped:
        outcome, how = build_empty(con, model, skipped), "full: built empty"
    elif model.header.incremental is None:
        outcome, how = build_model(con, model, skipped_tests), "full"
    else:
        last = None if full_refresh else last_build(con, model.qualified_name)
        plan = plan_incremental(
            con,
            model,
            last,
            fingerprint,
            lambda upstream: builds_since(con, upstream, last.built_at),
        )
        if plan.ranges is None:
            outcome = build_model(con, model, skipped_tests)
            how = f"full: {'full refresh' if full_refresh else plan.reason}"
        else:
            outcome = build_incremental(con, model, plan.ranges, skipped_tests)
            how = (
                f"incremental: {describe_ranges(plan.ranges)}; {outcome.rows_deleted} row(s) "
                f"replaced by {outcome.rows_inserted}"
            )
    if outcome.published:
        build = Build(
            model.qualified_name,
            data_version,
            run_id,
            None,
            outcome.row_count,
            outcome.mode,
            tuple(outcome.ranges),
            fingerprint,
        )
        record_build(con, build)
        if plan is not None:
            record_input_files(con, model.qualified_name, plan)
    return outcome, how
