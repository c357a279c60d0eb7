"""The compliance report's figures for a period (both days included), each computed by one
query on the table that recorded it, so that each reconciles with its source:

- sources: per source, files loaded, rows loaded and quarantined (raw.file_loads), files rejected;
- quarantine: rows held back per source and rule (quarantine.<source>, by the loads of the period);
- rejected files: each, with why (quoted values redacted);
- checks: per asset, evaluations, passed, failed, pass rate (governance.check_results);
- check failures: each, with its run;
- model decisions and erasures: the audit log's events of the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from sme_platform.lib.access import AccessState
from sme_platform.lib.audit.log import MODEL_EVENTS, redact_values
from sme_platform.lib.canonical import CANONICAL_TABLES
from sme_platform.lib.warehouse import table_exists

MODEL_DECISIONS = sorted(MODEL_EVENTS)
ERASURE_EVENTS = ["erased"]


@dataclass
class Figures:
    start: date
    end: date
    sources: pl.DataFrame
    quarantine: pl.DataFrame
    rejected_files: pl.DataFrame
    checks: pl.DataFrame
    check_failures: pl.DataFrame
    model_events: pl.DataFrame
    erasures: pl.DataFrame

    def model_counts(self) -> dict[str, int]:
        counts = dict(self.model_events.group_by("event").len().iter_rows())
        return {event: counts.get(event, 0) for event in MODEL_DECISIONS}


def access_frame(access: list[AccessState]) -> pl.DataFrame:
    """Each protected path's mode now (None: absent) against the one it must have."""
    return pl.DataFrame(
        {
            "path": [str(s.rule.path) for s in access],
            "what": [s.rule.what for s in access],
            "mode": [None if s.actual is None else f"{s.actual:04o}" for s in access],
            "required": [f"{s.rule.mode:04o}" for s in access],
            "ok": [s.ok for s in access],
        },
        schema={
            "path": pl.String,
            "what": pl.String,
            "mode": pl.String,
            "required": pl.String,
            "ok": pl.Boolean,
        },
    )


def compute(con: duckdb.DuckDBPyConnection, start: date, end: date) -> Figures:
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    period = {"start": start, "end": end}
    return Figures(
        start,
        end,
        _sources(con, period),
        _quarantine(con, period),
        _rejected(con, period),
        _checks(con, period),
        _check_failures(con, period),
        _events(con, period, MODEL_DECISIONS, "subject like 'model:%'"),
        _events(con, period, ERASURE_EVENTS, "true"),
    )


def _frame(con, source: str, sql: str, params: dict, schema: dict, redact: str | None = None):
    """The rows of `sql` as a frame of `schema`; empty before `source` (schema.table) exists.
    `redact`: a column of messages whose quoted values are shown as '…'."""
    if not table_exists(con, *source.split(".")):
        return pl.DataFrame(schema=schema)
    frame = pl.DataFrame(con.execute(sql, params).fetchall(), schema=schema, orient="row")
    if redact:
        frame = frame.with_columns(pl.col(redact).map_elements(redact_values, pl.String))
    return frame


def _sources(con, period) -> pl.DataFrame:
    schema = {
        "source": pl.String,
        "files_loaded": pl.Int64,
        "rows_loaded": pl.Int64,
        "rows_quarantined": pl.Int64,
        "files_rejected": pl.Int64,
    }
    return _frame(
        con,
        "raw.file_loads",
        """select table_name,
                  count(*) filter (where status = 'loaded'),
                  coalesce(sum(rows_loaded) filter (where status = 'loaded'), 0),
                  coalesce(sum(rows_quarantined) filter (where status = 'loaded'), 0),
                  count(*) filter (where status = 'rejected')
           from raw.file_loads
           where loaded_at::date between $start and $end and status in ('loaded', 'rejected')
           group by table_name order by table_name""",
        period,
        schema,
    )


def _quarantine(con, period) -> pl.DataFrame:
    schema = {"source": pl.String, "rule": pl.String, "rows": pl.Int64}
    parts = [
        f"""select '{name}', rule, count(*) from quarantine.{name}
            where _load_id in (select load_id from raw.loads
                               where finished_at::date between $start and $end)
            group by rule"""
        for name in sorted(CANONICAL_TABLES)
        if table_exists(con, "quarantine", name)
    ]
    if not parts:
        return pl.DataFrame(schema=schema)
    return _frame(
        con, "raw.loads", " union all ".join(parts) + " order by 1, 3 desc, 2", period, schema
    )


def _rejected(con, period) -> pl.DataFrame:
    schema = {
        "source": pl.String,
        "file": pl.String,
        "sha256": pl.String,
        "rejected_at": pl.Datetime,
        "run_id": pl.String,
        "reason": pl.String,
    }
    return _frame(
        con,
        "raw.file_loads",
        """select table_name, source_file, sha256, loaded_at, run_id, coalesce(message, '')
           from raw.file_loads
           where status = 'rejected' and loaded_at::date between $start and $end
           order by loaded_at, source_file""",
        period,
        schema,
        redact="reason",
    )


def _checks(con, period) -> pl.DataFrame:
    schema = {
        "asset": pl.String,
        "evaluations": pl.Int64,
        "passed": pl.Int64,
        "failed": pl.Int64,
        "pass_rate": pl.Float64,
    }
    return _frame(
        con,
        "governance.check_results",
        """select asset, count(*), count(*) filter (where passed),
                  count(*) filter (where not passed),
                  round(count(*) filter (where passed) / count(*), 4)
           from governance.check_results
           where checked_at::date between $start and $end
           group by asset order by asset""",
        period,
        schema,
    )


def _check_failures(con, period) -> pl.DataFrame:
    schema = {
        "asset": pl.String,
        "check_name": pl.String,
        "severity": pl.String,
        "checked_at": pl.Datetime,
        "run_id": pl.String,
        "description": pl.String,
    }
    return _frame(
        con,
        "governance.check_results",
        """select asset, check_name, severity, checked_at, run_id, coalesce(description, '')
           from governance.check_results
           where not passed and checked_at::date between $start and $end
           order by checked_at, asset, check_name""",
        period,
        schema,
        redact="description",
    )


def _events(con, period, events: list[str], condition: str) -> pl.DataFrame:
    schema = {
        "event_id": pl.Int64,
        "occurred_at": pl.Datetime,
        "event": pl.String,
        "subject": pl.String,
        "model_version": pl.String,
        "actor": pl.String,
        "reason": pl.String,
        "run_id": pl.String,
    }
    return _frame(
        con,
        "governance.audit_log",
        f"""select event_id, occurred_at, event, subject, model_version, actor, reason, run_id
            from governance.audit_log
            where occurred_at::date between $start and $end and list_contains($events, event)
            and {condition}
            order by event_id""",
        {**period, "events": events},
        schema,
    )
