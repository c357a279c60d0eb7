"""governance.erasures: each erasure served, and the one place its subject is known again: by
the sha256 of their old customer id (so a second request for the same id is answered, and a
new export bringing them back is erased again under the same pseudonym), never by a name,
email or phone."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb

from sme_platform.lib.erasure.person import id_digest
from sme_platform.lib.warehouse import table_exists

REGISTER = "governance.erasures"


def ensure_register(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists governance")
    con.execute(
        f"""create table if not exists {REGISTER} (
            pseudonym varchar not null,
            customer_id_sha256 varchar not null,
            erased_at timestamp not null,
            requested_by varchar not null,
            reason varchar not null,
            run_id varchar,
            rows_pseudonymized bigint not null,
            mentions_scrubbed bigint not null,
            files_rewritten bigint not null,
            files_deleted bigint not null,
            details json not null
        )"""
    )


def served_before(con: duckdb.DuckDBPyConnection, customer_id: str) -> tuple | None:
    """(pseudonym, erased_at, requested_by) of the latest erasure of this id, or None."""
    if not table_exists(con, "governance", "erasures"):
        return None
    return con.execute(
        f"""select pseudonym, erased_at, requested_by from {REGISTER}
            where customer_id_sha256 = ? order by erased_at desc limit 1""",
        [id_digest(customer_id)],
    ).fetchone()


def erased_ids_among(
    con: duckdb.DuckDBPyConnection, relation: str, where: str, params: list
) -> list[tuple[str, str]]:
    """(customer id, pseudonym) of each erased person whose id is in these rows again."""
    if not table_exists(con, "governance", "erasures"):
        return []
    return con.execute(
        f"""select distinct trim(r.customer_id), e.pseudonym
            from {relation} r
            join (select customer_id_sha256, arg_max(pseudonym, erased_at) as pseudonym
                  from {REGISTER} group by all) e
              on sha256(trim(r.customer_id)) = e.customer_id_sha256
            where {where} order by 1""",
        params,
    ).fetchall()


def register(
    con: duckdb.DuckDBPyConnection,
    *,
    pseudonym: str,
    id_sha256: str,
    requested_by: str,
    reason: str,
    run_id: str | None,
    counts: tuple[int, int, int, int],
    details: dict,
) -> None:
    ensure_register(con)
    con.execute(
        f"insert into {REGISTER} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            pseudonym,
            id_sha256,
            datetime.now(UTC).replace(tzinfo=None),
            requested_by,
            reason,
            run_id,
            *counts,
            json.dumps(details, sort_keys=True),
        ],
    )
