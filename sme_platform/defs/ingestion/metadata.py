"""Turning a load's result into Dagster metadata and check results."""

from __future__ import annotations

import dagster as dg

from sme_platform.lib.ingestion import FileStatus, IngestResult
from sme_platform.lib.sources import SourceSpec

MAX_FILES_LISTED = 50


def materialization_metadata(con, spec: SourceSpec, result: IngestResult) -> dict:
    table = spec.canonical
    total_rows = con.execute(f"select count(*) from raw.{table.name}").fetchone()[0]
    # Rejected files first, then the files with quarantined rows: what a reader looks for.
    files = sorted(
        (f for f in result.files if f.status != FileStatus.ALREADY_LOADED),
        key=lambda f: (f.status != FileStatus.REJECTED, -f.rows_quarantined, f.path),
    )
    files_table = "\n".join(
        f"| {f.path.rsplit('/', 1)[-1]} | {f.status} | {f.rows_read} | {f.rows_loaded} | "
        f"{f.rows_quarantined} | {(f.message or '')[:120]} |"
        for f in files[:MAX_FILES_LISTED]
    )
    if len(files) > MAX_FILES_LISTED:
        files_table += (
            f"\n| ... {len(files) - MAX_FILES_LISTED} more in raw.file_loads "
            f"where load_id = '{result.load_id}' | | | | | |"
        )
    return {
        "dagster/row_count": total_rows,
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(c.name, c.type, description=c.description) for c in table.columns
            ]
        ),
        "load_id": result.load_id,
        "rows_read": result.rows_read,
        "file_rows_read": result.file_rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_quarantined": result.rows_quarantined,
        "rows_with_warnings": result.rows_warned,
        "quarantine_by_rule": result.quarantine_by_rule,
        "warnings_by_rule": result.warnings_by_rule,
        "files_new": sum(f.status == FileStatus.LOADED for f in result.files),
        "files_rejected": len(result.rejected_files),
        "files_already_loaded": sum(f.status == FileStatus.ALREADY_LOADED for f in result.files),
        "files_replaced": result.files_replaced,
        "rows_replaced": result.rows_replaced,
        "rules_skipped": result.skipped_rules,
        "extra_source_columns": result.extra_source_columns,
        "source": spec.path_pattern,
        "seconds": round(result.seconds, 2),
        "files": dg.MetadataValue.md(
            "| file | status | read | loaded | quarantined | message |\n|---|---|---|---|---|---|\n"
            + (files_table or "| (no new files) | | | | | |")
        ),
    }
