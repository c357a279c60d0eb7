"""A model's declared tests as queries that return the failing rows (as dbt's data tests do).

Column names and values come from the header, written by the team, not from data; they are
still quoted, so a column called `order` or a value with a quote cannot break the query.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from sme_platform.lib.governance import CheckOutcome
from sme_platform.lib.sql_models.expectations import validate_suite
from sme_platform.lib.sql_models.header import DataTest
from sme_platform.lib.warehouse import quote_identifier, quote_literal

SAMPLE_ROWS = 5


@dataclass(frozen=True)
class DataTestResult:
    test: DataTest
    passed: bool
    failing_rows: int
    description: str
    sample: list[dict] = field(default_factory=list)
    skipped: str | None = None  # why the test did not run (see sql_models/absent.py)

    @property
    def outcome(self) -> CheckOutcome:
        observed = {"failing_rows": self.failing_rows, "sample": self.sample}
        if self.skipped:
            observed = {"skipped": self.skipped}
        return CheckOutcome(
            self.test.name, self.passed, self.test.severity, self.description, observed
        )


def failing_rows_sql(test: DataTest, relation: str) -> str:
    """A query over `relation` (the table being built) returning the rows that fail."""
    options = test.options
    if test.kind == "not_null":
        return f"select * from {relation} where {quote_identifier(options['column'])} is null"
    if test.kind == "unique":
        columns = ", ".join(quote_identifier(c) for c in options["columns"])
        return (
            f"select {columns}, count(*) as occurrences from {relation} "
            f"group by all having count(*) > 1"
        )
    if test.kind == "accepted_values":
        column = quote_identifier(options["column"])
        values = ", ".join(quote_literal(str(v)) for v in options["values"])
        return (
            f"select * from {relation} where {column} is not null "
            f"and {column}::varchar not in ({values})"
        )
    if test.kind == "relationships":
        column = quote_identifier(options["column"])
        parent = ".".join(quote_identifier(part) for part in options["to"].split("."))
        field_name = quote_identifier(options["field"])
        return (
            f"select * from {relation} as child where child.{column} is not null "
            f"and not exists (select 1 from {parent} as parent "
            f"where parent.{field_name} = child.{column})"
        )
    if test.kind == "expression":
        return f"select * from {relation} where not coalesce(({options['sql']}), false)"
    return options["query"].replace("{{ this }}", relation).replace("{{this}}", relation)


def skipped_test(test: DataTest, reason: str) -> DataTestResult:
    """A test with nothing to judge: reported passed, with the reason, never failed."""
    return DataTestResult(test, True, 0, f"skipped: {reason}", skipped=reason)


def scoped_failing_rows_sql(
    test: DataTest, relation: str, where: str | None, parent_unchanged: bool = False
) -> str:
    """The failing rows among those `where` selects (the days an incremental build rebuilt).
    A row test judges those rows alone; uniqueness their keys against the whole table;
    relationships and SQL tests, whose failures need not lie in the rebuilt rows (a parent
    row removed, a custom query), the whole table; a relationship whose parent table is
    unchanged since the whole table was last judged (`parent_unchanged`), the rebuilt rows."""
    if test.kind == "relationships" and parent_unchanged and where is not None:
        return failing_rows_sql(test, f"(select * from {relation} where {where})")
    if where is None or test.kind in ("relationships", "sql"):
        return failing_rows_sql(test, relation)
    if test.kind == "unique":
        columns = ", ".join(quote_identifier(c) for c in test.options["columns"])
        return (
            f"select {columns}, count(*) as occurrences from {relation} "
            f"semi join (select distinct {columns} from {relation} where {where}) "
            f"using ({columns}) group by all having count(*) > 1"
        )
    return failing_rows_sql(test, f"(select * from {relation} where {where})")


def run_test(
    con: duckdb.DuckDBPyConnection,
    test: DataTest,
    relation: str,
    where: str | None = None,
    parent_unchanged: bool = False,
) -> DataTestResult:
    """The test on `relation`; with `where`, on the rows it selects (scoped_failing_rows_sql)."""
    if test.kind == "great_expectations":
        passed, failing, description, observed = validate_suite(
            con, Path(test.options["suite_path"]), relation, where=where
        )
        return DataTestResult(test, passed, failing, description, [observed])
    query = scoped_failing_rows_sql(test, relation, where, parent_unchanged)
    failing = con.execute(f"select count(*) from ({query})").fetchone()[0]
    sample: list[dict] = []
    if failing:
        cursor = con.execute(f"select * from ({query}) limit {SAMPLE_ROWS}")
        names = [d[0] for d in cursor.description]
        sample = [
            json.loads(json.dumps(dict(zip(names, row, strict=True)), default=str))
            for row in cursor.fetchall()
        ]
    what = _describe(test)
    description = f"{what}: {failing} failing row(s)" if failing else f"{what}: passed"
    return DataTestResult(test, failing == 0, failing, description, sample)


def _describe(test: DataTest) -> str:
    if test.description:
        return test.description
    options = test.options
    return {
        "not_null": lambda: f"{options.get('column')} is never null",
        "unique": lambda: f"({', '.join(options.get('columns', []))}) is unique",
        "accepted_values": lambda: f"{options.get('column')} in {options.get('values')}",
        "relationships": lambda: (
            f"every {options.get('column')} exists in {options.get('to')}.{options.get('field')}"
        ),
        "expression": lambda: f"every row satisfies {options.get('sql')}",
        "sql": lambda: "the test query returns no rows",
    }[test.kind]()
