"""Incremental SQL models: a night rebuilds only the days whose input rows changed.

A model whose header says `materialization: incremental` (see header.py) writes its query with
`{{ start_date }}` and `{{ end_date }}`, as sqlmesh's INCREMENTAL_BY_TIME_RANGE models do; a full
build fills them with the widest range, an incremental one runs the query once per changed range
and replaces those days of the table (incremental_build.py). The days come from what changed:

- a raw input: after each published build, every file version whose rows the input holds is kept
  with its first and last day (`input_time` over its rows) in governance.incremental_inputs. A
  version that has appeared since (a new, late or replacing file) brings its days; one whose rows
  are gone (replaced, or its source removed) brings the days it had.
- an upstream model: its builds since this model's last published one bring the ranges they
  rebuilt; an upstream built in full since (or one that is not incremental and rebuilt at all)
  means a full build here too.

Each range is widened by `lookback_days` at its start (for a model whose day depends on earlier
days), and overlapping or adjacent ranges are merged. A full build is done when there is no
previous build, the model's code or tests or the platform's build code changed since, or the run
is a full refresh. Assumed, and checked: the rows of one unique key keep one day (an order line
is not re-dated); the bounded uniqueness test fails the build if a key appears in a rebuilt range
and outside it, and a full refresh settles it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from sme_platform.lib.sql_models.errors import ModelGraphError
from sme_platform.lib.sql_models.header import ModelHeader
from sme_platform.lib.warehouse import insert_rows, quote_identifier, table_exists

PLACEHOLDER = re.compile(r"\{\{\s*(start_date|end_date)\s*\}\}")
FULL_RANGE = (date(1, 1, 1), date(9999, 12, 31))
STATE_TABLE = "governance.incremental_inputs"
# More ranges than this are merged across their smallest gaps: one query per range is cheap,
# but a night after months of scattered late files should not run hundreds of them.
MAX_RANGES = 16

DayRange = tuple[date, date]
FileDays = tuple[str, str, date | None, date | None]  # source file, sha256, first, last day


def render(template: str, start: date, end: date) -> str:
    values = {"start_date": f"date '{start.isoformat()}'", "end_date": f"date '{end.isoformat()}'"}
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def render_full(template: str) -> str:
    return render(template, *FULL_RANGE)


def range_predicate(column: str, ranges: list[DayRange]) -> str:
    """SQL true for a row whose `column` falls in one of the ranges."""
    if not ranges:
        return "false"
    quoted = quote_identifier(column)
    return (
        "("
        + " or ".join(
            f"{quoted} between date '{start.isoformat()}' and date '{end.isoformat()}'"
            for start, end in ranges
        )
        + ")"
    )


def check_incremental_header(
    path: Path, header: ModelHeader, template: str, read_by_query: tuple[str, ...]
) -> None:
    """An incremental model filters on both placeholders and says how to date each raw input."""
    used = set(PLACEHOLDER.findall(template))
    options = header.incremental
    if options is None:
        if used:
            raise ModelGraphError(
                f"{path}: {{{{ start_date }}}} and {{{{ end_date }}}} belong to a model with "
                "materialization: incremental"
            )
        return
    missing = {"start_date", "end_date"} - used
    if missing:
        raise ModelGraphError(
            f"{path}: an incremental model's query filters its days on "
            f"{{{{ start_date }}}} and {{{{ end_date }}}}; missing: {sorted(missing)}"
        )
    raw_inputs = {r for r in read_by_query if r.startswith("raw.")}
    undated = sorted(raw_inputs - set(options.input_time))
    if undated:
        raise ModelGraphError(
            f"{path}: incremental.input_time needs the day of a row of {undated} "
            "(e.g. raw.sales_lines: ordered_at::date)"
        )
    key = list(options.unique_key)
    if not any(t.kind == "unique" and list(t.options["columns"]) == key for t in header.tests):
        raise ModelGraphError(
            f"{path}: an incremental model tests its unique key: add `- unique: {key}` to tests"
        )
    unread = sorted(set(options.input_time) - raw_inputs)
    if unread:
        raise ModelGraphError(f"{path}: incremental.input_time names {unread}, not read")


@dataclass
class IncrementalPlan:
    ranges: list[DayRange] | None  # None: build in full
    reason: str
    input_files: dict[str, list[FileDays]] = field(default_factory=dict)  # raw table -> files

    @property
    def days(self) -> int:
        return sum((end - start).days + 1 for start, end in self.ranges or [])


def plan_incremental(
    con: duckdb.DuckDBPyConnection, model, last, fingerprint: str, upstream_builds
) -> IncrementalPlan:
    """The ranges to rebuild, or None with the reason for a full build. `last` is the model's
    last published build; `upstream_builds(name)` the builds of a model since it."""
    options = model.header.incremental
    stored = {
        table.removeprefix("raw."): _stored_file_days(con, model.qualified_name, table)
        for table in options.input_time
    }
    files = {
        table.removeprefix("raw."): input_file_days(
            con, table.removeprefix("raw."), expression, stored[table.removeprefix("raw.")]
        )
        for table, expression in options.input_time.items()
    }
    if last is None:
        return IncrementalPlan(None, "first build", files)
    if last.code_version != fingerprint:
        return IncrementalPlan(
            None, f"code, tests or build code changed since run {last.run_id[:8]}", files
        )
    if not table_exists(con, model.schema, model.name):
        return IncrementalPlan(None, f"{model.qualified_name} is missing", files)
    if files and not table_exists(con, *STATE_TABLE.split(".")):
        return IncrementalPlan(None, "no record of the files the last build read", files)
    changed: list[DayRange] = []
    for table, current in files.items():
        changed += _changed_file_days(stored[table], current)
    for upstream in model.query_references:
        if upstream.startswith("raw."):
            continue
        for build in upstream_builds(upstream):
            if build.mode != "incremental":
                return IncrementalPlan(
                    None, f"{upstream} was rebuilt in full in run {build.run_id[:8]}", files
                )
            changed += build.ranges
    ranges = merge_ranges(changed, options.lookback_days)
    return IncrementalPlan(ranges, describe_ranges(ranges), files)


def describe_ranges(ranges: list[DayRange]) -> str:
    if not ranges:
        return "no day changed"
    days = sum((end - start).days + 1 for start, end in ranges)
    shown = ", ".join(f"{start}..{end}" for start, end in ranges[:4])
    more = f" and {len(ranges) - 4} more" if len(ranges) > 4 else ""
    return f"{days} day(s) in {len(ranges)} range(s): {shown}{more}"


def merge_ranges(ranges: list[DayRange], lookback_days: int = 0) -> list[DayRange]:
    widened = sorted((start - timedelta(days=lookback_days), end) for start, end in ranges)
    merged: list[list[date]] = []
    for start, end in widened:
        if merged and start <= merged[-1][1] + timedelta(days=1):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    while len(merged) > MAX_RANGES:
        gaps = [(merged[i + 1][0] - merged[i][1], i) for i in range(len(merged) - 1)]
        _, i = min(gaps)
        merged[i][1] = merged[i + 1][1]
        del merged[i + 1]
    return [(start, end) for start, end in merged]


def input_file_days(
    con: duckdb.DuckDBPyConnection,
    table: str,
    expression: str,
    known: dict[tuple[str, str], FileDays] | None = None,
) -> list[FileDays]:
    """Each file version whose rows raw.<table> holds, with the first and last day of them. The
    days of a version in `known` (the last build's record) are taken from it: only new versions'
    rows are read, not the whole table every night."""
    if not table_exists(con, "raw", table):
        return []
    known = known or {}
    loaded = con.execute(
        "select distinct source_file, sha256 from raw.file_loads "
        "where table_name = ? and status = 'loaded'",
        [table],
    ).fetchall()
    new = [key for key in loaded if key not in known]
    days = {key: (*key, None, None) for key in new}  # a version whose rows were all quarantined
    if new:
        only_new = "" if len(new) == len(loaded) else " where _source_sha256 in ?"
        rows = con.execute(
            f"""select _source_file, _source_sha256, min(({expression}))::date,
                       max(({expression}))::date
                from raw.{quote_identifier(table)}{only_new} group by all""",
            [sorted({sha for _, sha in new})] if only_new else [],
        ).fetchall()
        days.update({(row[0], row[1]): row for row in rows if (row[0], row[1]) in days})
    return [known[key] for key in loaded if key in known] + list(days.values())


def _stored_file_days(con, model: str, table: str) -> dict[tuple[str, str], FileDays]:
    if not table_exists(con, *STATE_TABLE.split(".")):
        return {}
    rows = con.execute(
        f"""select source_file, sha256, first_day, last_day from {STATE_TABLE}
            where model = ? and table_name = ?""",
        [model, table.removeprefix("raw.")],
    ).fetchall()
    return {(row[0], row[1]): row for row in rows}


def _changed_file_days(
    stored: dict[tuple[str, str], FileDays], current: list[FileDays]
) -> list[DayRange]:
    now = {(row[0], row[1]): row for row in current}
    changed = [now[k] for k in now.keys() - stored.keys()]
    changed += [stored[k] for k in stored.keys() - now.keys()]
    return [(first, last) for _, _, first, last in changed if first is not None]


def ensure_state_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists governance")
    con.execute(
        f"""create table if not exists {STATE_TABLE} (
            model varchar, table_name varchar, source_file varchar, sha256 varchar,
            first_day date, last_day date)"""
    )


def record_input_files(con: duckdb.DuckDBPyConnection, model: str, plan: IncrementalPlan) -> None:
    """The file versions the published build read: the next build's starting point."""
    ensure_state_table(con)
    con.execute(f"delete from {STATE_TABLE} where model = ?", [model])
    rows = [(model, table, *file) for table, files in plan.input_files.items() for file in files]
    insert_rows(
        con,
        STATE_TABLE,
        ["model", "table_name", "source_file", "sha256", "first_day", "last_day"],
        rows,
    )
