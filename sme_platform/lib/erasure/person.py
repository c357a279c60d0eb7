"""Who is erased, and how a text or a record is scrubbed of them.

A person is found by their customer id: the names, emails and phones recorded for it in
raw_store.customers (every version) and in quarantined customer rows that carry the id. Those
values, and the id, are what must not remain anywhere. The id is replaced by a pseudonym (the
person's sales and tickets stay countable, unlinked from them); every other value is erased.

A record (a source row as a dict) with a field holding one of them is the person's: its personal
fields are emptied wholesale (a ticket's body holding only a first name is still theirs),
where "personal" is a canonical PII column or the source field sources.yaml maps onto one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import duckdb

from sme_platform.lib.canonical import CANONICAL_TABLES
from sme_platform.lib.sources import SourcesConfig
from sme_platform.lib.warehouse import quote_identifier, table_exists

ERASED = "[erased]"
PSEUDONYM_PREFIX = "ERASED-"
CONTACT_COLUMNS = ("customer_name", "email", "phone")
# Characters that continue an id: C0001 must not match inside C00012 or XC0001.
ID_CHARACTERS = "A-Za-z0-9_"
# A numeric id (Online Retail's 17841) is a number like any other in a text: it is the person's
# only as a whole field, between a quote, a delimiter or a line's ends ("17841.0" too, as float
# exports write it), never inside a sentence, a JSON count or a model file.
FIELD_EDGE = "[\"',;\t|\r\n]"
MIN_VALUE = 3  # shorter "names" (initials, a stray "-") would match everywhere
SOURCE_FIELD = re.compile(r'"([^"]+)"|([A-Za-z_][A-Za-z0-9_]*)')


class ErasureError(ValueError):
    """An erasure request the platform cannot serve as asked: nothing has been changed."""


@dataclass(frozen=True)
class Person:
    customer_id: str
    pseudonym: str
    values: tuple[str, ...]  # names, emails, phones: erased wherever they appear
    personal_fields: frozenset[str]  # canonical PII columns and the source fields mapped on them
    id_fields: frozenset[str] = frozenset()  # customer_id and the source fields mapped on it

    @property
    def numeric_id(self) -> bool:
        return self.customer_id.isdigit()

    def id_pattern(self) -> str:
        """RE2 (DuckDB) and Python alike: the id, not inside a longer id; groups 1 and 4 are
        what stands before and after it."""
        escaped = re.escape(self.customer_id)
        if self.numeric_id:
            return f"(^|{FIELD_EDGE})({escaped})((?:\\.0+)?)({FIELD_EDGE}|$)"
        return f"(^|[^{ID_CHARACTERS}])({escaped})()([^{ID_CHARACTERS}]|$)"

    def values_pattern(self) -> str | None:
        """Any of the person's values, as a whole word (a name "Li" is not in "Living")."""
        if not self.values:
            return None
        longest_first = sorted(self.values, key=len, reverse=True)
        alternatives = "|".join(re.escape(value) for value in longest_first)
        return rf"(^|\W)((?i:{alternatives}))(\W|$)"

    def any_pattern(self) -> str:
        values = self.values_pattern()
        return self.id_pattern() if values is None else f"{self.id_pattern()}|{values}"

    # Compiled once: a busy customer's erasure tests millions of export cells.
    @cached_property
    def _any_regex(self) -> re.Pattern:
        return re.compile(self.any_pattern())

    @cached_property
    def _id_regex(self) -> re.Pattern:
        return re.compile(self.id_pattern())

    @cached_property
    def _values_regex(self) -> re.Pattern | None:
        values = self.values_pattern()
        return re.compile(values) if values else None

    @cached_property
    def _lowered_values(self) -> frozenset[str]:
        return frozenset(value.lower() for value in self.values)

    def mentioned_in(self, text: str) -> bool:
        return self._any_regex.search(text) is not None

    def values_mentioned_in(self, text: str) -> bool:
        """A name, email or phone of theirs (not the id) in the text."""
        return self._values_regex is not None and self._values_regex.search(text) is not None

    def scrub_text(self, text: str) -> str:
        """The id replaced by the pseudonym, every name, email and phone by [erased]."""
        if not self.mentioned_in(text):
            return text
        # twice: "C1,C1" shares the comma between two matches, so one pass replaces the first only
        for _ in range(2):
            text = self._id_regex.sub(lambda m: f"{m[1]}{self.pseudonym}{m[4]}", text)
        return self._erase_values(text)

    def _erase_values(self, text: str) -> str:
        if self._values_regex is not None:
            for _ in range(2):  # as for the id: neighbours share the character between them
                text = self._values_regex.sub(lambda m: f"{m[1]}{ERASED}{m[3]}", text)
        return text

    def owns(self, record: dict[str, Any]) -> bool:
        id_keys = self._id_keys(record)
        return any(
            isinstance(v, str) and (self._is_id(v.strip()) if k in id_keys else self._is_value(v))
            for k, v in record.items()
        )

    def _id_keys(self, record: dict[str, Any]) -> set[str]:
        """The record's fields that may hold the id: its id fields, or any when it has none."""
        known = {key for key in record if key in self.id_fields or "cust" in key.lower()}
        return known or set(record)

    def _is_value(self, value: str) -> bool:
        """A field holding exactly their name, email or phone (a mention in another's text is
        scrubbed, but does not make the record theirs)."""
        return value.strip().lower() in self._lowered_values

    def _is_id(self, value: str) -> bool:
        if value == self.customer_id:
            return True
        return (
            self.numeric_id
            and value.startswith(self.customer_id + ".")
            and not value[len(self.customer_id) + 1 :].strip("0")
        )

    def scrub_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """The person's record with the id pseudonymized and every personal field emptied;
        another's record with any mention of the person scrubbed. Where the record names its
        id field, only that holds a numeric id: a quantity of 17841 stays a quantity."""
        id_keys = self._id_keys(record)
        if not self.owns(record):
            return {
                k: self._scrub_field(v, k in id_keys) if isinstance(v, str) else v
                for k, v in record.items()
            }
        scrubbed: dict[str, Any] = {}
        for key, value in record.items():
            if not isinstance(value, str):
                scrubbed[key] = None if key in self.personal_fields else value
            elif key in id_keys and self._is_id(value.strip()):
                scrubbed[key] = self.pseudonym
            elif key in self.personal_fields:
                scrubbed[key] = None
            else:
                scrubbed[key] = self._scrub_field(value, key in id_keys)
        return scrubbed

    def _scrub_field(self, value: str, may_hold_id: bool) -> str:
        if may_hold_id or not self.numeric_id:
            return self.scrub_text(value)
        return self._erase_values(value)

    def scrub_serialized(self, text: str) -> str:
        """A stored source row: a JSON object scrubbed as a record, anything else as text."""
        try:
            record = json.loads(text)
        except ValueError:
            return self.scrub_text(text)
        if not isinstance(record, dict):  # "42" in an order_id column is not customer 42
            return self._scrub_field(text, may_hold_id=not self.numeric_id)
        return json.dumps(self.scrub_record(record), ensure_ascii=False, separators=(",", ":"))


def pseudonym_for(con: duckdb.DuckDBPyConnection, customer_id: str) -> str:
    """The person's pseudonym: a keyed hash of their id, so a request interrupted after some
    files were rewritten gives, asked again, the same pseudonym to the rest. The key is the
    project's own (governance.erasure_key, made at the first erasure and committed at once): a
    pseudonym says nothing about the id without it."""
    return pseudonym_with(erasure_key(con), customer_id)


def erasure_key(con: duckdb.DuckDBPyConnection) -> bytes:
    con.execute("create schema if not exists governance")
    con.execute("create table if not exists governance.erasure_key (key varchar not null)")
    row = con.execute("select key from governance.erasure_key").fetchone()
    if row is None:
        row = (secrets.token_hex(32),)
        con.execute("insert into governance.erasure_key values (?)", row)
    return bytes.fromhex(row[0])


def pseudonym_with(key: bytes, customer_id: str) -> str:
    keyed = hmac.new(key, customer_id.strip().encode(), hashlib.sha256)
    return PSEUDONYM_PREFIX + keyed.hexdigest()[:12]


def personal_fields(sources: SourcesConfig | None) -> frozenset[str]:
    """The canonical PII columns, and every source field sources.yaml maps onto one."""
    fields = {c for table in CANONICAL_TABLES.values() for c in table.pii_columns}
    for spec in sources.sources.values() if sources else ():
        fields |= _mapped_fields(spec.columns, spec.canonical.pii_columns)
    return frozenset(fields)


def id_fields(sources: SourcesConfig | None) -> frozenset[str]:
    """customer_id, and every source field sources.yaml maps onto it."""
    fields = {"customer_id"}
    for spec in sources.sources.values() if sources else ():
        fields |= _mapped_fields(spec.columns, ("customer_id",))
    return frozenset(fields)


def _mapped_fields(columns: dict[str, str], canonical: tuple[str, ...]) -> set[str]:
    """The source fields the mapping expressions of these canonical columns name."""
    expressions = [columns[c] for c in canonical if columns.get(c)]
    return {quoted or bare for e in expressions for quoted, bare in SOURCE_FIELD.findall(e)}


def find_person(
    con: duckdb.DuckDBPyConnection, customer_id: str, sources: SourcesConfig | None
) -> Person:
    """The person with this customer id, with every name, email and phone recorded for them
    that no other customer shares (a namesake, a family's email or a placeholder like "n/a"
    would erase others). ErasureError if no table knows the id."""
    customer_id = customer_id.strip()
    if not customer_id:
        raise ErasureError("no customer id given")
    if customer_id.startswith(PSEUDONYM_PREFIX):
        raise ErasureError(f"{customer_id} is the pseudonym of a person already erased")
    probe = Person(customer_id, "", (), personal_fields(sources), id_fields(sources))
    values: set[str] = set()
    found = False
    if table_exists(con, "raw_store", "customers"):
        rows = con.execute(
            f"select {', '.join(CONTACT_COLUMNS)} from raw_store.customers "
            "where trim(customer_id) = ?",
            [customer_id],
        ).fetchall()
        found = bool(rows)
        values |= {v.strip() for row in rows for v in row if v}
    for record in _quarantined_records(con, probe):
        found = True
        if probe.owns(record):  # their own row, not another's that mentions the id
            values |= {
                value.strip()
                for key, value in record.items()
                if key in probe.personal_fields and isinstance(value, str)
            }
    found = found or _referenced(con, probe)
    if not found:
        raise ErasureError(
            f"customer {customer_id}: not found in raw_store.customers, sales_lines, tickets "
            "or any quarantined row (check the id; an erased person's id is gone, see "
            "governance.erasures)"
        )
    distinctive = _distinctive(con, customer_id, values)
    pseudonym = pseudonym_for(con, customer_id)
    return replace(probe, pseudonym=pseudonym, values=tuple(sorted(distinctive)))


def _quarantined_records(con: duckdb.DuckDBPyConnection, probe: Person) -> list[dict]:
    """The quarantined rows of every table that mention the id, as records."""
    records = []
    tables = con.execute(
        "select table_name from duckdb_columns() where database_name = current_database() "
        "and schema_name = 'quarantine' and column_name = 'original_values'"
    ).fetchall()
    for (table,) in tables:
        for (original,) in con.execute(
            f"select original_values from quarantine.{quote_identifier(table)} "
            "where regexp_matches(original_values, ?)",
            [probe.id_pattern()],
        ).fetchall():
            try:
                record = json.loads(original)
            except ValueError:
                record = {"line": original}
            records.append(record if isinstance(record, dict) else {"line": original})
    return records


def _distinctive(con: duckdb.DuckDBPyConnection, customer_id: str, values: set[str]) -> set[str]:
    """The values worth erasing wherever they appear: long enough to mean something, with a
    letter or digit, and recorded for no other customer."""
    candidates = {v for v in values if len(v) >= MIN_VALUE and any(c.isalnum() for c in v)}
    if not candidates or not table_exists(con, "raw_store", "customers"):
        return candidates
    shared = {
        value
        for (value,) in con.execute(
            f"""select distinct lower(trim(v)) from (
                    select unnest([{", ".join(CONTACT_COLUMNS)}]) as v
                    from raw_store.customers where trim(customer_id) <> ?
                ) where lower(trim(v)) in (select unnest(?::varchar[]))""",
            [customer_id, sorted(v.lower() for v in candidates)],
        ).fetchall()
    }
    return {v for v in candidates if v.lower() not in shared}


def _referenced(con: duckdb.DuckDBPyConnection, probe: Person) -> bool:
    for table in ("sales_lines", "tickets"):
        if table_exists(con, "raw_store", table):
            hit = con.execute(
                f"select 1 from raw_store.{table} where trim(customer_id) = ? limit 1",
                [probe.customer_id],
            ).fetchone()
            if hit:
                return True
    return False
