"""governance.erasures: each erasure served, known by its pseudonym only (a keyed hash of the
old customer id: the id asked about again gives the same one, so a second request is answered
and a new export bringing the person back is caught), never by a name, email or phone.

Two steps of an erasure happen after its rows are committed, and each is marked done in its
row: the analyst database published afresh (`analyst_published`) and the warehouse written
anew (`warehouse_rewritten`). A step that failed, or an erasure made by a load, leaves its mark
unset, and the next run does it: the nightly publication starts from an empty file, and the
run's end writes the warehouse anew.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb

from sme_platform.lib.erasure.person import pseudonym_for
from sme_platform.lib.warehouse import column_types, table_exists

REGISTER = "governance.erasures"
CHECKED = "governance.erasure_checks"  # per table: the last file whose rows were looked at
PENDING_STEPS = ("analyst_published", "warehouse_rewritten")


COLUMNS = (
    "pseudonym",
    "erased_at",
    "requested_by",
    "reason",
    "run_id",
    "rows_pseudonymized",
    "mentions_scrubbed",
    "files_rewritten",
    "files_deleted",
    "details",
)


def ensure_register(con: duckdb.DuckDBPyConnection) -> None:
    if table_exists(con, "governance", "erasures"):
        _migrate(con)
        return
    con.execute("create schema if not exists governance")
    con.execute(
        f"""create table if not exists {REGISTER} (
            pseudonym varchar not null,
            erased_at timestamp not null,
            requested_by varchar not null,
            reason varchar not null,
            run_id varchar,
            rows_pseudonymized bigint not null,
            mentions_scrubbed bigint not null,
            files_rewritten bigint not null,
            files_deleted bigint not null,
            details json not null,
            analyst_published boolean not null default false,
            warehouse_rewritten boolean not null default false
        )"""
    )


def _migrate(con: duckdb.DuckDBPyConnection) -> None:
    """A register from before the pending steps (its erasures did both steps at once) and
    with the unkeyed sha256 of each id (dropped: an id of a million possible values is found
    from it at once)."""
    columns = column_types(con, "governance", "erasures")
    for step in PENDING_STEPS:
        if step not in columns:
            con.execute(f"alter table {REGISTER} add column {step} boolean default true")
            con.execute(f"alter table {REGISTER} alter column {step} set default false")
    if "customer_id_sha256" in columns:
        con.execute(f"alter table {REGISTER} drop column customer_id_sha256")


def served_before(con: duckdb.DuckDBPyConnection, customer_id: str) -> tuple | None:
    """(pseudonym, erased_at, requested_by) of the latest erasure of this id, or None."""
    if not table_exists(con, "governance", "erasures"):
        return None
    return con.execute(
        f"""select pseudonym, erased_at, requested_by from {REGISTER}
            where pseudonym = ? order by erased_at desc limit 1""",
        [pseudonym_for(con, customer_id)],
    ).fetchone()


def register(
    con: duckdb.DuckDBPyConnection,
    *,
    pseudonym: str,
    requested_by: str,
    reason: str,
    run_id: str | None,
    counts: tuple[int, int, int, int],
    details: dict,
) -> None:
    ensure_register(con)
    con.execute(
        f"insert into {REGISTER} ({', '.join(COLUMNS)}) values ({', '.join('?' * len(COLUMNS))})",
        [
            pseudonym,
            datetime.now(UTC).replace(tzinfo=None),
            requested_by,
            reason,
            run_id,
            *counts,
            json.dumps(details, sort_keys=True),
        ],
    )


def pending(con: duckdb.DuckDBPyConnection, step: str) -> bool:
    """Whether an erasure still waits for this step (analyst_published, warehouse_rewritten)."""
    assert step in PENDING_STEPS
    if not table_exists(con, "governance", "erasures"):
        return False
    ensure_register(con)
    return con.execute(f"select count(*) from {REGISTER} where not {step}").fetchone()[0] > 0


def mark_done(con: duckdb.DuckDBPyConnection, step: str) -> None:
    assert step in PENDING_STEPS
    if table_exists(con, "governance", "erasures"):
        ensure_register(con)
        con.execute(f"update {REGISTER} set {step} = true where not {step}")


def erased_pseudonyms(con: duckdb.DuckDBPyConnection) -> set[str]:
    if not table_exists(con, "governance", "erasures"):
        return set()
    return {p for (p,) in con.execute(f"select distinct pseudonym from {REGISTER}").fetchall()}


def last_checked_file(con: duckdb.DuckDBPyConnection, table: str) -> int:
    con.execute(
        f"create table if not exists {CHECKED} (table_name varchar primary key, "
        "last_file_id bigint not null)"
    )
    row = con.execute(f"select last_file_id from {CHECKED} where table_name = ?", [table])
    found = row.fetchone()
    return found[0] if found else -1


def note_checked(con: duckdb.DuckDBPyConnection, table: str, file_id: int) -> None:
    con.execute(
        f"insert or replace into {CHECKED} values (?, ?)",
        [table, file_id],
    )
