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
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import duckdb

from sme_platform.lib.canonical import CANONICAL_TABLES
from sme_platform.lib.sources import SourcesConfig
from sme_platform.lib.warehouse import table_exists

ERASED = "[erased]"
PSEUDONYM_PREFIX = "ERASED-"
CONTACT_COLUMNS = ("customer_name", "email", "phone")
# Characters that continue an id: C0001 must not match inside C00012 or XC0001.
ID_CHARACTERS = "A-Za-z0-9_"
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

    @property
    def id_sha256(self) -> str:
        return id_digest(self.customer_id)

    def id_pattern(self) -> str:
        """RE2 (DuckDB) and Python alike: the id, not inside a longer id."""
        return f"(^|[^{ID_CHARACTERS}])({re.escape(self.customer_id)})([^{ID_CHARACTERS}]|$)"

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

    def scrub_text(self, text: str) -> str:
        """The id replaced by the pseudonym, every name, email and phone by [erased]."""
        if not self.mentioned_in(text):
            return text
        # twice: "C1,C1" shares the comma between two matches, so one pass replaces the first only
        for _ in range(2):
            text = self._id_regex.sub(lambda m: f"{m[1]}{self.pseudonym}{m[3]}", text)
        if self._values_regex is not None:
            for _ in range(2):
                text = self._values_regex.sub(lambda m: f"{m[1]}{ERASED}{m[3]}", text)
        return text

    def owns(self, record: dict[str, Any]) -> bool:
        return any(isinstance(v, str) and self._is_theirs(v) for v in record.values())

    def _is_theirs(self, value: str) -> bool:
        """A field holding exactly their id, name, email or phone (a mention in another's
        text is scrubbed, but does not make the record theirs)."""
        value = value.strip()
        return value == self.customer_id or value.lower() in self._lowered_values

    def scrub_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """The person's record with the id pseudonymized and every personal field emptied;
        another's record with any mention of the person scrubbed."""
        if not self.owns(record):
            return {k: self.scrub_text(v) if isinstance(v, str) else v for k, v in record.items()}
        scrubbed: dict[str, Any] = {}
        for key, value in record.items():
            if not isinstance(value, str):
                scrubbed[key] = None if key in self.personal_fields else value
            elif value.strip() == self.customer_id:
                scrubbed[key] = self.pseudonym
            elif key in self.personal_fields:
                scrubbed[key] = None
            else:
                scrubbed[key] = self.scrub_text(value)
        return scrubbed

    def scrub_serialized(self, text: str) -> str:
        """A stored source row: a JSON object scrubbed as a record, anything else as text."""
        try:
            record = json.loads(text)
        except ValueError:
            return self.scrub_text(text)
        if not isinstance(record, dict):
            return self.scrub_text(text)
        return json.dumps(self.scrub_record(record), ensure_ascii=False, separators=(",", ":"))


def id_digest(customer_id: str) -> str:
    return hashlib.sha256(customer_id.strip().encode()).hexdigest()


def pseudonym_for(con: duckdb.DuckDBPyConnection, customer_id: str) -> str:
    """The person's pseudonym: a keyed hash of their id, so a request interrupted after some
    files were rewritten gives, asked again, the same pseudonym to the rest. The key is the
    project's own (governance.erasure_key, made at the first erasure and committed at once): a
    pseudonym says nothing about the id without it."""
    con.execute("create schema if not exists governance")
    con.execute("create table if not exists governance.erasure_key (key varchar not null)")
    row = con.execute("select key from governance.erasure_key").fetchone()
    if row is None:
        row = (secrets.token_hex(32),)
        con.execute("insert into governance.erasure_key values (?)", row)
    keyed = hmac.new(bytes.fromhex(row[0]), customer_id.strip().encode(), hashlib.sha256)
    return PSEUDONYM_PREFIX + keyed.hexdigest()[:12]


def personal_fields(sources: SourcesConfig | None) -> frozenset[str]:
    """The canonical PII columns, and every source field sources.yaml maps onto one."""
    fields = {c for table in CANONICAL_TABLES.values() for c in table.pii_columns}
    for spec in sources.sources.values() if sources else ():
        for column in spec.canonical.pii_columns:
            expression = spec.columns.get(column)
            if expression:
                fields |= {quoted or bare for quoted, bare in SOURCE_FIELD.findall(expression)}
    return frozenset(fields)


def find_person(
    con: duckdb.DuckDBPyConnection, customer_id: str, sources: SourcesConfig | None
) -> Person:
    """The person with this customer id, with every name, email and phone recorded for them.
    ErasureError if no table knows the id."""
    customer_id = customer_id.strip()
    if not customer_id:
        raise ErasureError("no customer id given")
    if customer_id.startswith(PSEUDONYM_PREFIX):
        raise ErasureError(f"{customer_id} is the pseudonym of a person already erased")
    fields = personal_fields(sources)
    values: set[str] = set()
    found = False
    if table_exists(con, "raw_store", "customers"):
        rows = con.execute(
            f"select {', '.join(CONTACT_COLUMNS)} from raw_store.customers "
            "where trim(customer_id) = ?",
            [customer_id],
        ).fetchall()
        found = bool(rows)
        values |= {v.strip() for row in rows for v in row if v and len(v.strip()) >= MIN_VALUE}
    probe = Person(customer_id, "", (), fields)
    if table_exists(con, "quarantine", "customers"):
        for (original,) in con.execute(
            "select original_values from quarantine.customers "
            "where regexp_matches(original_values, ?)",
            [probe.id_pattern()],
        ).fetchall():
            found = True
            values |= _contact_values(original, fields)
    found = found or _referenced(con, probe)
    if not found:
        raise ErasureError(
            f"customer {customer_id}: not found in raw_store.customers, quarantine.customers, "
            "raw_store.sales_lines or raw_store.tickets (check the id; an erased person's id "
            "is gone, see governance.erasures)"
        )
    return Person(customer_id, pseudonym_for(con, customer_id), tuple(sorted(values)), fields)


def _contact_values(original: str, fields: frozenset[str]) -> set[str]:
    try:
        record = json.loads(original)
    except ValueError:
        return set()
    if not isinstance(record, dict):
        return set()
    return {
        value.strip()
        for key, value in record.items()
        if key in fields and isinstance(value, str) and len(value.strip()) >= MIN_VALUE
    }


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
