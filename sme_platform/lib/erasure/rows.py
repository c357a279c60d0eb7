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

from dataclasses import dataclass, field

import duckdb

from sme_platform.lib.erasure.person import ErasureError, Person
from sme_platform.lib.warehouse import quote_identifier

UNTOUCHABLE = {("governance", "audit_log"), ("governance", "erasures")}
TEXT_TYPES = {"VARCHAR", "JSON"}


@dataclass
class RowsErased:
    pseudonymized: dict[str, int] = field(default_factory=dict)  # table -> the person's rows
    scrubbed: dict[str, int] = field(default_factory=dict)  # table.column -> mentions scrubbed
    left_in_audit_log: int = 0


def erase_rows(con: duckdb.DuckDBPyConnection, person: Person) -> RowsErased:
    erased = RowsErased()
    for schema, table in _base_tables(con):
        relation = f"{quote_identifier(schema)}.{quote_identifier(table)}"
        columns = _columns(con, schema, table)
        if (schema, table) in UNTOUCHABLE:
            if (schema, table) == ("governance", "audit_log"):
                erased.left_in_audit_log = _mentions(con, relation, _searched(columns), person)
            continue
        if columns.get("customer_id") == "VARCHAR":
            count = _pseudonymize(con, relation, columns, person)
            if count:
                erased.pseudonymized[f"{schema}.{table}"] = count
        for column, count in _scrub_mentions(con, relation, columns, person).items():
            erased.scrubbed[f"{schema}.{table}.{column}"] = count
    return erased


def check_rewritable(con: duckdb.DuckDBPyConnection, person: Person) -> None:
    """ErasureError, before anything is changed, if the person is mentioned where erase_rows
    cannot rewrite: a list or struct column, or a customer_id that is not text."""
    for schema, table in _base_tables(con):
        if (schema, table) in UNTOUCHABLE:
            continue
        relation = f"{quote_identifier(schema)}.{quote_identifier(table)}"
        columns = _columns(con, schema, table)
        for column in _searched(columns):
            if columns[column] not in TEXT_TYPES and _mentions(con, relation, [column], person):
                _refuse(f"{schema}.{table}", column, columns[column])
        id_type = columns.get("customer_id")
        if id_type not in (None, "VARCHAR") and _mentions(con, relation, ["customer_id"], person):
            _refuse(f"{schema}.{table}", "customer_id", id_type)


def table_mentions(con: duckdb.DuckDBPyConnection, person: Person) -> list[str]:
    """The tables (schema.table) whose text still mentions the person: the audit log too."""
    found = []
    for schema, table in _base_tables(con):
        relation = f"{quote_identifier(schema)}.{quote_identifier(table)}"
        columns = _columns(con, schema, table)
        if _mentions(con, relation, _searched(columns), person):
            found.append(f"{schema}.{table}")
    return found


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    return dict(
        con.execute(
            """select column_name, data_type from information_schema.columns
               where table_catalog = current_database() and table_schema = ?
               and table_name = ? order by ordinal_position""",
            [schema, table],
        ).fetchall()
    )


def _base_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        """select table_schema, table_name from information_schema.tables
           where table_catalog = current_database() and table_type = 'BASE TABLE'
           order by all"""
    ).fetchall()


def _searched(columns: dict[str, str]) -> list[str]:
    """The columns that can hold text: VARCHAR and JSON, and lists or structs of them."""
    return [
        name for name, data_type in columns.items() if "VARCHAR" in data_type or "JSON" in data_type
    ]


def _pseudonymize(con, relation: str, columns: dict[str, str], person: Person) -> int:
    personal = [c for c in columns if c in person.personal_fields and c != "customer_id"]
    assignments = ["customer_id = $pseudonym"] + [f"{quote_identifier(c)} = null" for c in personal]
    (count,) = con.execute(
        f"update {relation} set {', '.join(assignments)} where trim(customer_id) = $id",
        {"pseudonym": person.pseudonym, "id": person.customer_id},
    ).fetchone()
    return count


def _where_mentioned(columns: list[str]) -> str:
    return " or ".join(f"regexp_matches({quote_identifier(c)}::varchar, $pattern)" for c in columns)


def _mentions(con, relation: str, text_columns: list[str], person: Person) -> int:
    if not text_columns:
        return 0
    (count,) = con.execute(
        f"select count(*) from {relation} where {_where_mentioned(text_columns)}",
        {"pattern": person.any_pattern()},
    ).fetchone()
    return count


def _scrub_mentions(con, relation: str, columns: dict[str, str], person: Person) -> dict[str, int]:
    searched = _searched(columns)
    if not searched:
        return {}
    found = con.execute(
        f"""select rowid, {", ".join(f"{quote_identifier(c)}::varchar" for c in searched)}
            from {relation} where {_where_mentioned(searched)}""",
        {"pattern": person.any_pattern()},
    ).fetchall()
    counts: dict[str, int] = {}
    for rowid, *values in found:
        for column, value in zip(searched, values, strict=True):
            if value is None or not person.mentioned_in(value):
                continue
            if columns[column] not in TEXT_TYPES:  # check_rewritable refused it before
                _refuse(relation.replace('"', ""), column, columns[column])
            con.execute(
                f"update {relation} set {quote_identifier(column)} = ? where rowid = ?",
                [person.scrub_serialized(value), rowid],
            )
            counts[column] = counts.get(column, 0) + 1
    return counts


def _refuse(table: str, column: str, data_type: str) -> None:
    raise ErasureError(
        f"{table}.{column} ({data_type}) mentions the person, and erasure rewrites text "
        "columns only: nothing was changed; tell the platform's maintainers"
    )
