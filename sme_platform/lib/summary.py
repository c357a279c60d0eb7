"""What a person wants to know after a run: what is in the warehouse, what was held back and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sme_platform.lib.canonical import CANONICAL_TABLES
from sme_platform.lib.sql_models.graph import LAYERS
from sme_platform.lib.training.forecast_summary import (
    DEMAND_MODEL_NAME,
    ForecastSummary,
    summarize_forecasting,
)
from sme_platform.lib.warehouse import connect, relation_name, table_exists


@dataclass
class TableSummary:
    table: str
    rows: int
    quarantined: int
    quarantine_by_rule: dict[str, int]
    warned: int
    files_loaded: int
    files_rejected: int


@dataclass
class WarehouseSummary:
    warehouse: Path
    tables: list[TableSummary] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    rejected_files: list[tuple[str, str]] = field(default_factory=list)
    models: dict[str, int] = field(default_factory=dict)  # schema.table -> rows, built from data
    # Models built empty because their inputs have no source: schema.table -> why
    skipped_models: dict[str, str] = field(default_factory=dict)
    # The latest result of each check that is failing now: (asset, check, severity, description)
    failing_checks: list[tuple[str, str, str, str]] = field(default_factory=list)
    forecasting: ForecastSummary | None = None
    governance: list[str] = field(default_factory=list)  # the audit trail and the catalog


def summarize_warehouse(warehouse: Path) -> WarehouseSummary:
    summary = WarehouseSummary(warehouse=warehouse)
    if not warehouse.exists():
        summary.absent = list(CANONICAL_TABLES)
        return summary
    with connect(warehouse, read_only=True) as con:
        # Files rejected and not loaded since: neither a fixed version at the same path nor the
        # same content under another name came in later.
        still_rejected = (
            con.execute(
                """select table_name, source_file, arg_max(message, loaded_at)
                   from raw.file_loads f
                   where status = 'rejected' and not exists (
                       select 1 from raw.file_loads l
                       where l.table_name = f.table_name and l.status = 'loaded'
                         and (l.sha256 = f.sha256
                              or (l.source_file = f.source_file and l.loaded_at > f.loaded_at)))
                   group by 1, 2 order by 2"""
            ).fetchall()
            if table_exists(con, "raw", "file_loads")
            else []
        )
        summary.rejected_files = [(path, message) for _, path, message in still_rejected]
        for name in CANONICAL_TABLES:
            if not table_exists(con, "raw", name):
                summary.absent.append(name)
                continue
            rows = con.execute(f"select count(*) from raw.{name}").fetchone()[0]
            by_rule = dict(
                con.execute(
                    f"select rule, count(*) from quarantine.{name} group by 1 order by 2 desc"
                ).fetchall()
            )
            warned = con.execute(
                "select count(*) from quarantine.rule_warnings where table_name = ?", [name]
            ).fetchone()[0]
            files_loaded = con.execute(
                "select count(distinct sha256) from raw.file_loads "
                "where table_name = ? and status = 'loaded'",
                [name],
            ).fetchone()[0]
            files_rejected = sum(table == name for table, _, _ in still_rejected)
            if not (rows or by_rule or files_loaded or files_rejected):
                summary.absent.append(name)  # the empty canonical table of an absent source
                continue
            summary.tables.append(
                TableSummary(
                    name,
                    rows,
                    sum(by_rule.values()),
                    by_rule,
                    warned,
                    files_loaded,
                    files_rejected,
                )
            )
        _summarize_models(con, summary)
        summary.forecasting = summarize_forecasting(con, DEMAND_MODEL_NAME)
        summary.governance = _governance(con)
    return summary


def _governance(con) -> list[str]:
    """The audit log's size and its last verification; the catalog's completeness."""
    lines = []
    if table_exists(con, "governance", "audit_log"):
        (entries,) = con.execute("select count(*) from governance.audit_log").fetchone()
        verified = (
            con.execute(
                """select description, observed->>'entries' from governance.check_results
                   where check_name = 'audit_chain_intact'
                   order by checked_at desc limit 1"""
            ).fetchone()
            if table_exists(con, "governance", "check_results")
            else None
        )
        if verified is None:
            lines.append(
                f"audit log: {entries:,} entries; not verified yet (sme-platform audit verify)"
            )
        else:
            description, checked = verified
            # The run verifies the chain before its last steps write (the analyst database's
            # publication): say so rather than let "18 entries; intact: 17" read as one unchained.
            later = entries - int(checked) if checked is not None else 0
            lines.append(
                f"audit log: {entries:,} entries; when the run verified it, {description}"
                + (
                    f"; {later} entr{'y' if later == 1 else 'ies'} written after that "
                    "(`sme-platform audit verify` checks every entry)"
                    if later > 0
                    else ""
                )
            )
    if table_exists(con, "governance", "catalog"):
        assets, incomplete = con.execute(
            "select count(*), count(*) filter (where len(problems) > 0) from governance.catalog"
        ).fetchone()
        lines.append(
            f"catalog: {assets} assets"
            + (
                f", {incomplete} lacking an owner, a description or a check"
                if incomplete
                else ", each with an owner, a description and a check"
            )
        )
    return lines


def _summarize_models(con, summary: WarehouseSummary) -> None:
    if table_exists(con, "governance", "skipped_models"):
        summary.skipped_models = dict(
            con.execute("select model, reason from governance.skipped_models order by 1").fetchall()
        )
    for schema, table in con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ? and table_name not like '\\_\\_%' escape '\\' order by 1, 2",
        [list(LAYERS)],
    ).fetchall():
        if f"{schema}.{table}" in summary.skipped_models:
            continue
        rows = con.execute(f"select count(*) from {relation_name(schema, table)}").fetchone()[0]
        summary.models[f"{schema}.{table}"] = rows
    if table_exists(con, "governance", "check_results"):
        summary.failing_checks = con.execute(
            """select asset, check_name, severity, description from governance.check_results
            qualify row_number() over (partition by asset, check_name order by checked_at desc) = 1
                and not passed
            order by asset, check_name"""
        ).fetchall()
