"""governance.erasures: each erasure request served, and the one place its subject is known
again: by the sha256 of their old customer id (so a second request for the same id is answered,
and the pseudonym found), never by a name, email or phone."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from sme_platform.lib.audit.log import record_event
from sme_platform.lib.erasure.files import FilesErased, erase_files
from sme_platform.lib.erasure.person import ErasureError, Person, find_person, id_digest
from sme_platform.lib.erasure.rows import RowsErased, erase_rows
from sme_platform.lib.sources import SourcesConfig
from sme_platform.lib.warehouse import table_exists, transaction

REGISTER = "governance.erasures"


@dataclass
class Erasure:
    person: Person
    rows: RowsErased
    files: FilesErased

    def summary(self) -> str:
        rows = sum(self.rows.pseudonymized.values())
        mentions = sum(self.rows.scrubbed.values())
        return (
            f"customer erased as {self.person.pseudonym}: {rows} row(s) in "
            f"{len(self.rows.pseudonymized)} table(s) pseudonymized, {mentions} other "
            f"mention(s) scrubbed, {len(self.files.rewritten)} file(s) rewritten, "
            f"{len(self.files.deleted)} deleted"
        )


def ensure_register(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists governance")
    con.execute(
        f"""create table if not exists {REGISTER} (
            pseudonym varchar primary key,
            customer_id_sha256 varchar not null unique,
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
    if not table_exists(con, "governance", "erasures"):
        return None
    return con.execute(
        f"select pseudonym, erased_at, requested_by from {REGISTER} where customer_id_sha256 = ?",
        [id_digest(customer_id)],
    ).fetchone()


def erase_customer(
    con: duckdb.DuckDBPyConnection,
    *,
    customer_id: str,
    requested_by: str,
    reason: str,
    data_dir: Path,
    skip_files: set[Path],
    deletable_files: Path,
    sources: SourcesConfig | None,
    run_id: str | None,
) -> Erasure:
    """Erase one customer from the warehouse's tables and the files under data_dir, register
    and audit it. The files first, then the tables in one transaction: a request that fails
    part way can be asked again (the person is still found in the tables)."""
    requested_by, reason = requested_by.strip(), reason.strip()
    if not requested_by or not reason:
        raise ErasureError("an erasure needs who asks (--by) and why (--reason)")
    before = served_before(con, customer_id)
    if before:
        pseudonym, erased_at, by = before
        raise ErasureError(
            f"customer {customer_id.strip()}: already erased on {erased_at:%Y-%m-%d %H:%M} UTC "
            f"by {by}, as {pseudonym}"
        )
    person = find_person(con, customer_id, sources)
    if person.mentioned_in(reason) or person.mentioned_in(requested_by):
        raise ErasureError(
            "the reason (or the name of who asks) mentions the person's id, name, email or "
            "phone: the audit log keeps it for ever, so say why without them (e.g. the ticket "
            "number of the request)"
        )
    files = erase_files(data_dir, person, skip=skip_files, deletable=deletable_files)
    with transaction(con):
        rows = erase_rows(con, person)
        _note_rewritten_exports(con, files)
        erasure = Erasure(person, rows, files)
        details = {
            "rows_pseudonymized": rows.pseudonymized,
            "mentions_scrubbed": rows.scrubbed,
            "files_rewritten": {path: new for path, (_, new) in files.rewritten.items()},
            "files_deleted": files.deleted,
            "audit_log_entries_mentioning": rows.left_in_audit_log,
        }
        ensure_register(con)
        con.execute(
            f"insert into {REGISTER} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                person.pseudonym,
                person.id_sha256,
                datetime.now(UTC).replace(tzinfo=None),
                requested_by,
                reason,
                run_id,
                sum(rows.pseudonymized.values()),
                sum(rows.scrubbed.values()),
                len(files.rewritten),
                len(files.deleted),
                json.dumps(details, sort_keys=True),
            ],
        )
        record_event(
            con,
            event="erased",
            subject=f"customer:{person.pseudonym}",
            actor=requested_by,
            reason=reason,
            details={"summary": erasure.summary(), **details},
            run_id=run_id,
        )
    return erasure


def _note_rewritten_exports(con: duckdb.DuckDBPyConnection, files: FilesErased) -> None:
    """A loaded export rewritten here holds what its rows in the warehouse now hold: its new
    fingerprint is recorded, so the next night does not load it again as a new version (which,
    for a source that appends changed files, would count its rows twice). The old fingerprint
    stays in the audit log's files_loaded entry, the new one in the erased entry."""
    if not table_exists(con, "raw", "file_loads"):
        return
    for path, (old, new) in files.rewritten.items():
        con.execute(
            """update raw.file_loads set sha256 = ?, size_bytes = ?
               where source_file = ? and sha256 = ?""",
            [new, Path(path).stat().st_size, path, old],
        )
