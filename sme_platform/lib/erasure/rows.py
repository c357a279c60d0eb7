"""The person erased from the warehouse's tables, in the caller's transaction.

Two passes over every base table (views read them):
1. the person's rows: in each table with a customer_id column (raw_store and staging sales lines,
   tickets, customers; marts; whatever a company's own models add), the id becomes the pseudonym
   and every personal column (customer_name, email, phone, a ticket's subject and body, and the
   columns SQL models declare PII) is set to NULL: the sale, the ticket's timings, stay;
2. every mention left: each text column of each table is searched for the id, names, emails and
   phones (quarantined rows' original values, load messages, check samples, warnings); a stored
   source row is scrubbed as a record, any other text has the values replaced.

The audit log is not touched (it holds no row values by design, and cannot be edited): a mention
found there is reported, not hidden.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import duckdb

from sme_platform.lib.erasure.person import ErasureError, Person
from sme_platform.lib.warehouse import column_types, quote_identifier, relation_name

UNTOUCHABLE = {"governance.audit_log", "governance.erasures"}
TEXT_TYPES = {"VARCHAR", "JSON"}


@dataclass
class RowsErased:
    pseudonymized: dict[str, int] = field(default_factory=dict)  # table -> the person's rows
    scrubbed: dict[str, int] = field(default_factory=dict)  # table.column -> mentions scrubbed
    left_in_audit_log: int = 0


@dataclass(frozen=True)
class Table:
    name: str  # schema.table, as messages and counts name it
    relation: str  # quoted, for SQL
    columns: dict[str, str]  # column -> DuckDB type


def erase_rows(con: duckdb.DuckDBPyConnection, person: Person) -> RowsErased:
    erased = RowsErased()
    for table in _tables(con):
        if table.name in UNTOUCHABLE:
            if table.name == "governance.audit_log":
                erased.left_in_audit_log = _mentions(con, table, _searched(table), person)
            continue
        if table.columns.get("customer_id") == "VARCHAR":
            count = _pseudonymize(con, table, person)
            if count:
                erased.pseudonymized[table.name] = count
        for column, count in _scrub_mentions(con, table, person).items():
            erased.scrubbed[f"{table.name}.{column}"] = count
    return erased


def check_rewritable(con: duckdb.DuckDBPyConnection, person: Person) -> None:
    """ErasureError, before anything is changed, if the person is mentioned where erase_rows
    cannot rewrite: a list or struct column, or a customer_id that is not text."""
    for table in _tables(con):
        if table.name in UNTOUCHABLE:
            continue
        for column in _searched(table):
            data_type = table.columns[column]
            if data_type not in TEXT_TYPES and _mentions(con, table, [column], person):
                _refuse(table, column)
        id_type = table.columns.get("customer_id")
        if id_type not in (None, "VARCHAR") and _mentions(con, table, ["customer_id"], person):
            _refuse(table, "customer_id")


def table_mentions(con: duckdb.DuckDBPyConnection, person: Person) -> list[str]:
    """The tables (schema.table) whose text still mentions the person: the audit log too."""
    return [t.name for t in _tables(con) if _mentions(con, t, _searched(t), person)]


def _tables(con: duckdb.DuckDBPyConnection) -> Iterator[Table]:
    """Every base table of the connection's own database (views read them)."""
    for schema, name in con.execute(
        """select schema_name, table_name from duckdb_tables()
           where database_name = current_database() and not internal order by all"""
    ).fetchall():
        yield Table(
            f"{schema}.{name}", relation_name(schema, name), column_types(con, schema, name)
        )


def _searched(table: Table) -> list[str]:
    """The columns that can hold text: VARCHAR and JSON, and lists or structs of them."""
    return [
        name
        for name, data_type in table.columns.items()
        if "VARCHAR" in data_type or "JSON" in data_type
    ]


def _pseudonymize(con, table: Table, person: Person) -> int:
    personal = [c for c in table.columns if c in person.personal_fields and c != "customer_id"]
    assignments = ["customer_id = $pseudonym"] + [f"{quote_identifier(c)} = null" for c in personal]
    (count,) = con.execute(
        f"update {table.relation} set {', '.join(assignments)} where trim(customer_id) = $id",
        {"pseudonym": person.pseudonym, "id": person.customer_id},
    ).fetchone()
    return count


def _where_mentioned(columns: list[str]) -> str:
    return " or ".join(f"regexp_matches({quote_identifier(c)}::varchar, $pattern)" for c in columns)


def _mentions(con, table: Table, text_columns: list[str], person: Person) -> int:
    if not text_columns:
        return 0
    (count,) = con.execute(
        f"select count(*) from {table.relation} where {_where_mentioned(text_columns)}",
        {"pattern": person.any_pattern()},
    ).fetchone()
    return count


def _scrub_mentions(con, table: Table, person: Person) -> dict[str, int]:
    searched = _searched(table)
    if not searched:
        return {}
    found = con.execute(
        f"""select rowid, {", ".join(f"{quote_identifier(c)}::varchar" for c in searched)}
            from {table.relation} where {_where_mentioned(searched)}""",
        {"pattern": person.any_pattern()},
    ).fetchall()
    counts: dict[str, int] = {}
    for rowid, *values in found:
        for column, value in zip(searched, values, strict=True):
            if value is None or not person.mentioned_in(value):
                continue
            if table.columns[column] not in TEXT_TYPES:  # check_rewritable refused it before
                _refuse(table, column)
            con.execute(
                f"update {table.relation} set {quote_identifier(column)} = ? where rowid = ?",
                [person.scrub_serialized(value), rowid],
            )
            counts[column] = counts.get(column, 0) + 1
    return counts


def _refuse(table: Table, column: str) -> None:
    raise ErasureError(
        f"{table.name}.{column} ({table.columns[column]}) mentions the person, and erasure "
        "rewrites text columns only: nothing was changed; tell the platform's maintainers"
    )
