"""SQL unit tests, as dbt has them: given input rows for the tables a model reads, the model's
query returns exactly the expected rows. Runs in an in-memory DuckDB, no warehouse needed.

Canonical raw.* inputs get the full canonical table (every column, lineage included), so a test
names only the columns that matter to it; other inputs are typed from the given values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import duckdb

from sme_platform.lib.canonical import CANONICAL_TABLES
from sme_platform.lib.sql_models.graph import SqlModel
from sme_platform.lib.warehouse import quote_identifier, raw_columns_sql

Rows = Sequence[Mapping[str, object]]


def run_model_on(model: SqlModel, inputs: Mapping[str, Rows]) -> list[dict]:
    """The model's output for these input tables ("schema.table" -> rows), sorted."""
    missing = set(model.query_references) - set(inputs)
    if missing:
        raise ValueError(f"{model.path}: the unit test gives no rows for {sorted(missing)}")
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    for reference, rows in inputs.items():
        _create_input(con, reference, rows)
    cursor = con.execute(model.sql)
    names = [d[0] for d in cursor.description]
    output = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return sorted(output, key=lambda row: [str(row[n]) for n in names])


def assert_model_output(model: SqlModel, inputs: Mapping[str, Rows], expected: Rows) -> None:
    """Fails with the differing rows. Expected rows name the columns they check; floats match
    to 1e-9 relative."""
    actual = run_model_on(model, inputs)
    columns = sorted({c for row in expected for c in row})
    projected = [{c: row.get(c) for c in columns} for row in actual]
    wanted = sorted(
        ({c: row.get(c) for c in columns} for row in expected),
        key=lambda row: [str(row[c]) for c in columns],
    )
    projected.sort(key=lambda row: [str(row[c]) for c in columns])
    if len(projected) != len(wanted) or not all(
        _rows_match(a, e) for a, e in zip(projected, wanted, strict=True)
    ):
        raise AssertionError(
            f"{model.qualified_name}: output differs\nexpected: {wanted}\nactual:   {projected}"
        )


def _rows_match(actual: dict, expected: dict) -> bool:
    for column, value in expected.items():
        got = actual[column]
        if isinstance(value, float) and got is not None:
            if not math.isclose(float(got), value, rel_tol=1e-9, abs_tol=1e-9):
                return False
        elif got != value:
            return False
    return True


def create_raw_table(con, table: str) -> None:
    """raw.<table> as a plain table with the columns readers see, for rows given by a test (the
    warehouse stores a view there, over raw_store)."""
    con.execute("create schema if not exists raw")
    columns = raw_columns_sql(CANONICAL_TABLES[table])
    con.execute(f"create table if not exists raw.{table} ({columns})")


def _create_input(con, reference: str, rows: Rows) -> None:
    schema, table = reference.split(".")
    con.execute(f"create schema if not exists {quote_identifier(schema)}")
    if schema == "raw":
        create_raw_table(con, table)
        for row in rows:
            names = ", ".join(quote_identifier(c) for c in row)
            marks = ", ".join("?" for _ in row)
            con.execute(f"insert into raw.{table} ({names}) values ({marks})", list(row.values()))
        return
    if not rows:
        raise ValueError(f"{reference}: give at least one row, so its columns are known")
    columns = list(rows[0])
    names = ", ".join(quote_identifier(c) for c in columns)
    marks = ", ".join("?" for _ in columns)
    target = f"{quote_identifier(schema)}.{quote_identifier(table)}"
    con.execute(
        f"create table {target} as select * from (values ({marks})) as v({names})",
        [rows[0][c] for c in columns],
    )
    for row in rows[1:]:
        con.execute(f"insert into {target} values ({marks})", [row.get(c) for c in columns])
