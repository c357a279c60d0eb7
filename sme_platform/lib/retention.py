"""Retention: what the platform keeps about bad data and its own runs, and for how long.

Quarantined rows (with the original values: personal data), the kept copies of rejected files,
the Evidently reports and the published forecasts' log are kept for the days automation.yaml's
`retention:` says, then purged (the purge_expired job, weekly by default; the run history is
purged there too, through Dagster). Each purge is an audit event naming what it removed and the
cut-off; the audit log itself is never purged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from sme_platform.lib.audit.log import record_event, run_actor
from sme_platform.lib.automation import RetentionConfig
from sme_platform.lib.monitoring.accuracy_refresh import record_log_purge
from sme_platform.lib.project import ProjectPaths
from sme_platform.lib.warehouse import quote_identifier, table_exists, transaction


@dataclass
class Purge:
    what: str  # the audit subject, e.g. retention:quarantine
    cutoff: datetime
    removed: int = 0
    detail: dict = field(default_factory=dict)


def cutoff(days: int, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC).replace(tzinfo=None)) - timedelta(days=days)


def purge_quarantine(con: duckdb.DuckDBPyConnection, before: datetime) -> Purge:
    """Delete the quarantined rows (and rule warnings) ingested before `before`."""
    purge = Purge("retention:quarantine", before)
    tables = con.execute(
        """select table_name from duckdb_columns()
           where database_name = current_database() and schema_name = 'quarantine'
           and column_name = '_ingested_at' order by table_name"""
    ).fetchall()
    with transaction(con):
        for (table,) in tables:
            relation = f"quarantine.{quote_identifier(table)}"
            (count,) = con.execute(
                f"select count(*) from {relation} where _ingested_at < ?", [before]
            ).fetchone()
            if count:
                con.execute(f"delete from {relation} where _ingested_at < ?", [before])
                purge.detail[table] = count
                purge.removed += count
    return purge


def purge_rejected_copies(con, folder: Path, before: datetime) -> Purge:
    """Delete the kept copies of files last rejected before `before` (a file rejected again
    every night keeps its copy); a copy the load log no longer knows goes by its own time."""
    purge = Purge("retention:rejected_files", before)
    if not folder.is_dir():
        return purge
    logged = table_exists(con, "raw", "file_loads")
    for copy in sorted(folder.iterdir()):
        prefix = copy.name.split("-", 1)[0]
        last = None
        if logged:
            (last,) = con.execute(
                "select max(loaded_at) from raw.file_loads "
                "where status = 'rejected' and starts_with(sha256, ?)",
                [prefix],
            ).fetchone()
        if last is None:
            last = datetime.fromtimestamp(copy.stat().st_mtime, UTC).replace(tzinfo=None)
        if last < before:
            copy.unlink()
            purge.removed += 1
            purge.detail.setdefault("files", []).append(copy.name)
    return purge


def purge_reports(folder: Path, before: datetime) -> Purge:
    """Delete the monitoring reports (Evidently HTML) written before `before`."""
    purge = Purge("retention:monitoring_reports", before)
    if not folder.is_dir():
        return purge
    for report in sorted(folder.rglob("*.html")):
        written = datetime.fromtimestamp(report.stat().st_mtime, UTC).replace(tzinfo=None)
        if written < before:
            report.unlink()
            purge.removed += 1
    return purge


def purge_forecast_log(con: duckdb.DuckDBPyConnection, before: datetime, run_id: str) -> Purge:
    """Delete the published forecasts (ml.forecast_log) scored before `before`, except each
    model's newest scoring (what ml.demand_forecast shows) and each version's first, and first
    as champion (the reference its prediction drift is measured against,
    lib/monitoring/prediction_drift). The log grows by every active series x
    14 days each night (about 840,000 rows a night on the long-tail demo, 13 to 21 bytes a row:
    benchmarks/forecast_log_purge.py)."""
    purge = Purge("retention:forecast_log", before)
    if not table_exists(con, "ml", "forecast_log"):
        return purge
    expired = """
        from ml.forecast_log as log
        where log.scored_at < $before and (log.model_name, log.scored_at) not in (
            select (model_name, max(scored_at)) from ml.forecast_log group by model_name
            union
            select (model_name, min(scored_at)) from ml.forecast_log
            group by model_name, model_version
            union  -- a version that began as a canary: its first forecasts as champion
            select (model_name, min(scored_at)) from ml.forecast_log
            where role in ('champion', 'champion_shadow') group by model_name, model_version
        )"""
    scorings = con.execute(
        f"select log.model_name, log.scored_at, count(*) {expired} group by all order by 1, 2",
        {"before": before},
    ).fetchall()
    if not scorings:
        return purge
    with transaction(con):
        con.execute(f"delete {expired}", {"before": before})
        for model_name in sorted({model for model, _, _ in scorings}):
            purged = [(at, rows) for model, at, rows in scorings if model == model_name]
            record_log_purge(con, model_name, purged, run_id)
    purge.removed = sum(rows for _, _, rows in scorings)
    purge.detail["scorings"] = len(scorings)
    return purge


def purge_expired(
    con: duckdb.DuckDBPyConnection,
    paths: ProjectPaths,
    config: RetentionConfig,
    run_id: str,
    now: datetime | None = None,
) -> list[Purge]:
    """Every purge of the warehouse and the files, each audited (the run history is Dagster's:
    see defs/governance/retention.py)."""
    purges = [
        purge_quarantine(con, cutoff(config.quarantine_days, now)),
        purge_rejected_copies(con, paths.rejected_files, cutoff(config.rejected_files_days, now)),
        purge_reports(
            paths.reports_dir / "monitoring", cutoff(config.monitoring_reports_days, now)
        ),
        purge_forecast_log(con, cutoff(config.forecast_log_days, now), run_id),
    ]
    for purge in purges:
        audit_purge(con, purge, run_id)
    return purges


def audit_purge(con: duckdb.DuckDBPyConnection, purge: Purge, run_id: str) -> None:
    record_event(
        con,
        event="purged",
        subject=purge.what,
        actor=run_actor(run_id),
        reason=f"{purge.removed} item(s) older than {purge.cutoff:%Y-%m-%d %H:%M} UTC removed",
        details={"cutoff": purge.cutoff.isoformat(), "removed": purge.removed, **purge.detail},
        run_id=run_id,
    )
