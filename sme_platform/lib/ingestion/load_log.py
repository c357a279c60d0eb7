"""The load log: raw.file_loads (one row per file seen by a load) and raw.loads (one per load),
counted from the tables themselves so the conservation check is independent of the bookkeeping."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sme_platform.lib.audit.log import record_event, redact_values, run_actor
from sme_platform.lib.ingestion.results import FileOutcome, FileStatus, IngestResult
from sme_platform.lib.warehouse import RAW_STORE_SCHEMA, insert_rows

FILE_LOG_COLUMNS = [
    "table_name",
    "load_id",
    "run_id",
    "source_file",
    "sha256",
    "size_bytes",
    "modified_at",
    "status",
    "message",
    "rows_read",
    "rows_loaded",
    "rows_quarantined",
    "loaded_at",
    "file_id",
]


def log_files(con, result: IngestResult, outcomes: list[FileOutcome], run_id, now) -> None:
    if not outcomes:
        return
    insert_rows(
        con,
        "raw.file_loads",
        FILE_LOG_COLUMNS,
        [
            (
                result.table,
                result.load_id,
                run_id,
                f.path,
                f.sha256,
                f.size_bytes,
                f.modified_at,
                f.status,
                f.message,
                f.rows_read,
                f.rows_loaded,
                f.rows_quarantined,
                now,
                f.file_id,
            )
            for f in outcomes
        ],
    )


def log_load(con, result: IngestResult, run_id: str, now: datetime) -> None:
    """Count what landed from the tables themselves, so the conservation check is independent
    of the bookkeeping above, and log the load."""
    result.rows_loaded = con.execute(
        f"""select count(*) from {RAW_STORE_SCHEMA}.{result.table} where _file_id in (
            select file_id from raw.file_loads where load_id = ?)""",
        [result.load_id],
    ).fetchone()[0]
    result.rows_quarantined = con.execute(
        f"select count(*) from quarantine.{result.table} where _load_id = ?", [result.load_id]
    ).fetchone()[0]
    result.rows_warned = con.execute(
        "select count(distinct (_source_file, _source_row)) from quarantine.rule_warnings "
        "where _load_id = ?",
        [result.load_id],
    ).fetchone()[0]
    statuses = Counter(f.status for f in result.files)
    con.execute(
        "insert into raw.loads values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            result.table,
            result.load_id,
            run_id,
            now,
            datetime.now(UTC).replace(tzinfo=None),
            statuses[FileStatus.LOADED],
            statuses[FileStatus.REJECTED],
            statuses[FileStatus.ALREADY_LOADED],
            result.file_rows_read,
            sum(f.rows_read for f in result.files if f.status == FileStatus.LOADED),
            result.rows_loaded,
            result.rows_quarantined,
            result.rows_warned,
        ],
    )
    audit_load(con, result, run_id)


def audit_load(con, result: IngestResult, run_id: str) -> None:
    """The load's events in the audit log, in its transaction: the files loaded (if any), each
    file rejected, and the rows quarantined by rule. Names and counts only (no row values)."""
    subject, actor = f"source:{result.table}", run_actor(run_id)
    loaded = [f for f in result.files if f.status == FileStatus.LOADED]
    if loaded:
        record_event(
            con,
            event="files_loaded",
            subject=subject,
            actor=actor,
            reason=f"{len(loaded)} new file(s), {result.rows_loaded:,} row(s) loaded",
            details={
                "load_id": result.load_id,
                "files": [{"file": f.path, "sha256": f.sha256} for f in loaded],
                "rows_read": sum(f.rows_read for f in loaded),
                "rows_loaded": result.rows_loaded,
                "rows_quarantined": result.rows_quarantined,
            },
            run_id=run_id,
        )
    for rejected in result.rejected_files:
        record_event(
            con,
            event="file_rejected",
            subject=subject,
            actor=actor,
            reason=redact_values(rejected.message or "rejected"),
            details={
                "load_id": result.load_id,
                "file": rejected.path,
                "sha256": rejected.sha256,
                "size_bytes": rejected.size_bytes,
            },
            run_id=run_id,
        )
    if result.rows_quarantined:
        by_rule = dict(
            con.execute(
                f"""select rule, count(*) from quarantine.{result.table}
                    where _load_id = ? group by rule order by rule""",
                [result.load_id],
            ).fetchall()
        )
        record_event(
            con,
            event="rows_quarantined",
            subject=subject,
            actor=actor,
            reason=f"{result.rows_quarantined:,} row(s) quarantined by {len(by_rule)} rule(s)",
            details={"load_id": result.load_id, "rows_by_rule": by_rule},
            run_id=run_id,
        )
