"""The ingestion gates, computed from a load's result and the warehouse (no Dagster here).

- row_conservation (blocking): rows read = rows loaded + rows quarantined, counted from the tables.
- quarantine_share (blocking): the share of quarantined rows stays under the source's threshold.
- schema_conformance: raw table has the canonical columns and types; every file was readable
  (a rejected file fails it with error severity: alerted, not blocking).
- newest_file_freshness: the newest file whose rows are in the warehouse is younger than the
  source's limit (a newer rejected file is named, not counted).
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from sme_platform.lib.governance import CheckOutcome
from sme_platform.lib.ingestion.results import IngestResult
from sme_platform.lib.sources import SourceSpec
from sme_platform.lib.warehouse import LINEAGE_COLUMNS

CHECK_NAMES = (
    "row_conservation",
    "quarantine_share",
    "schema_conformance",
    "newest_file_freshness",
)
BLOCKING_CHECKS = ("row_conservation", "quarantine_share")


def evaluate_checks(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    result: IngestResult,
    now: datetime | None = None,
) -> list[CheckOutcome]:
    return [
        row_conservation(result),
        quarantine_share(spec, result),
        schema_conformance(con, spec, result),
        newest_file_freshness(con, spec, result, now),
    ]


def row_conservation(result: IngestResult) -> CheckOutcome:
    accounted = result.rows_loaded + result.rows_quarantined
    passed = result.rows_read == accounted
    return CheckOutcome(
        "row_conservation",
        passed,
        "error",
        f"{result.rows_read} rows read = {result.rows_loaded} loaded + "
        f"{result.rows_quarantined} quarantined"
        + ("" if passed else f": {result.rows_read - accounted} rows unaccounted for"),
        {
            "rows_read": result.rows_read,
            "rows_loaded": result.rows_loaded,
            "rows_quarantined": result.rows_quarantined,
            "load_id": result.load_id,
        },
    )


def quarantine_share(spec: SourceSpec, result: IngestResult) -> CheckOutcome:
    threshold = spec.quarantine_threshold()
    share = result.quarantine_share
    passed = share <= threshold
    top_rules = dict(sorted(result.quarantine_by_rule.items(), key=lambda kv: -kv[1])[:10])
    return CheckOutcome(
        "quarantine_share",
        passed,
        "error",
        f"{share:.2%} of {result.rows_read} rows quarantined (limit {threshold:.2%})"
        + (
            "" if passed else f"; see quarantine.{result.table} where _load_id = '{result.load_id}'"
        ),
        {"share": share, "threshold": threshold, "by_rule": top_rules},
    )


def schema_conformance(con, spec: SourceSpec, result: IngestResult) -> CheckOutcome:
    table = spec.canonical
    expected = [(c.name, c.type.upper()) for c in table.columns] + list(LINEAGE_COLUMNS)
    actual = [
        (name, data_type.upper())
        for name, data_type in con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw' and table_name = ? order by ordinal_position",
            [table.name],
        ).fetchall()
    ]
    problems = []
    if actual != expected:
        problems.append(f"raw.{table.name} columns {actual} differ from the contract {expected}")
    rejected = [f.message for f in result.rejected_files]
    problems.extend(rejected)
    return CheckOutcome(
        "schema_conformance",
        not problems,
        # A rejected file is a whole delivery not loaded: of error severity, so the alert
        # sensor tells the team that night (the run goes on: the file's fault stays with it).
        "error" if rejected else "warn",
        "; ".join(problems[:5]) if problems else "columns and types match the contract",
        {
            "rejected_files": len(rejected),
            "extra_source_columns": result.extra_source_columns,
            "unmapped_columns": [c.name for c in table.columns if c.name not in spec.columns],
        },
    )


def newest_file_freshness(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, result: IngestResult, now=None
) -> CheckOutcome:
    """The age of the newest file whose rows the warehouse holds (raw.file_loads, status
    loaded: tonight's or an earlier night's, with the time it had when it was loaded). A
    rejected file is no fresh data: an export whose format changed is rejected every night, and
    judged by its own age the source looked fresh while the warehouse aged. A file rewritten in
    place later (an erasure) keeps the age it was loaded with."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    newest = con.execute(
        "select max(modified_at) from raw.file_loads where table_name = ? and status = 'loaded'",
        [spec.table],
    ).fetchone()[0]
    rejected_newer = sorted(
        (f for f in result.rejected_files if newest is None or f.modified_at > newest),
        key=lambda f: f.modified_at,
    )
    limit = spec.freshness_hours()
    rejected_note = (
        f"; {len(rejected_newer)} newer file(s) rejected (schema_conformance says why), the "
        f"newest {rejected_newer[-1].path}"
        if rejected_newer
        else ""
    )
    metadata = {"newer_files_rejected": len(rejected_newer)}
    if newest is None:
        reason = "no source files" if not result.files else "no file of the source is loaded"
        return CheckOutcome(
            "newest_file_freshness", False, "warn", reason + rejected_note, metadata
        )
    age_hours = (now - newest).total_seconds() / 3600
    passed = age_hours <= limit
    return CheckOutcome(
        "newest_file_freshness",
        passed,
        "warn",
        f"newest loaded file is {age_hours:.1f} h old (limit {limit:.0f} h){rejected_note}",
        {
            "newest_file_modified_at": newest.isoformat(),
            "age_hours": round(age_hours, 2),
            **metadata,
        },
    )


def absent_source_checks(table: str, reason: str) -> list[CheckOutcome]:
    """Checks for a table with no source: nothing was read, so nothing is lost or quarantined;
    freshness fails (a warning) only when a source is configured but has no files."""
    configured = "no file matches" in reason
    nothing = {"rows_read": 0, "source": reason}
    return [
        CheckOutcome("row_conservation", True, "error", f"no rows read: {reason}", nothing),
        CheckOutcome("quarantine_share", True, "error", f"no rows read: {reason}", nothing),
        CheckOutcome(
            "schema_conformance", True, "warn", f"raw.{table} is the empty canonical table", {}
        ),
        CheckOutcome(
            "newest_file_freshness",
            not configured,
            "warn",
            reason if configured else f"nothing to be fresh: {reason}",
            {},
        ),
    ]
