"""After an erasure: is any trace of the person left? Every file under data/ is searched (its
bytes, in the encodings exports use), and, since DuckDB compresses strings in its files, every
text column of every table of the warehouse and the analyst database is searched by SQL too
(the audit log included)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from sme_platform.lib.erasure.files import SEARCHED_ENCODINGS, mentions_bytes
from sme_platform.lib.erasure.person import Person
from sme_platform.lib.erasure.rows import table_mentions
from sme_platform.lib.governance import CheckOutcome

CHECK = "no_trace_left"


def find_traces(
    person: Person,
    data_dir: Path,
    analyst_database: Path,
    con: duckdb.DuckDBPyConnection,
    generated: frozenset[Path] = frozenset(),
) -> list[str]:
    """Where the person is still mentioned: files, and tables as "warehouse: schema.table".
    In generated artifacts (models, reports) their names, emails and phones are looked for, not
    their id: a numeric id is any number there."""
    found = [
        str(path)
        for path in sorted(p for p in data_dir.rglob("*") if p.is_file())
        if _file_mentions(path, person, values_only=any(g in path.parents for g in generated))
    ]
    found += [f"warehouse: {table}" for table in table_mentions(con, person)]
    if analyst_database.is_file():
        with duckdb.connect(str(analyst_database), read_only=True) as analyst:
            found += [f"analyst database: {table}" for table in table_mentions(analyst, person)]
    return found


def _file_mentions(path: Path, person: Person, *, values_only: bool) -> bool:
    data = path.read_bytes()
    if not mentions_bytes(data, person, values_only=values_only):
        return False
    # the byte test is loose (a longer id containing this one): the text decides
    mentioned = person.values_mentioned_in if values_only else person.mentioned_in
    return any(mentioned(data.decode(encoding, errors="ignore")) for encoding in SEARCHED_ENCODINGS)


def outcome(found: list[str]) -> CheckOutcome:
    if not found:
        description = "no trace of the person in any file under data/ or any table"
    else:
        description = f"the person is still mentioned in {len(found)} place(s): " + "; ".join(
            found[:10]
        )
    return CheckOutcome(CHECK, not found, "error", description, {"places": len(found)})
