"""Serving an erasure: a person's request (erase_customer), and a person erased before who is
back in a newly loaded export (erase_returning: the source system still had them). Files first,
then the tables in one transaction, registered and audited: a request that fails part way can
be asked again (the person is still found in the tables)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from sme_platform.lib.audit.log import record_event, run_actor
from sme_platform.lib.erasure import register
from sme_platform.lib.erasure.files import FilesErased, erase_files
from sme_platform.lib.erasure.person import ErasureError, Person, find_person
from sme_platform.lib.erasure.rows import RowsErased, check_rewritable, erase_rows
from sme_platform.lib.project import ProjectPaths
from sme_platform.lib.sources import SourcesConfig
from sme_platform.lib.warehouse import table_exists, transaction


@dataclass(frozen=True)
class Places:
    """Where a project keeps files: all of data/ is searched but the DuckDB files (written anew
    whole) and the generated artifacts; rejected-file copies erasure cannot rewrite may be
    deleted."""

    data_dir: Path
    databases: frozenset[Path]
    deletable: Path
    generated: frozenset[Path] = frozenset()  # model artifacts and reports: not rewritten

    @classmethod
    def of(cls, paths: ProjectPaths) -> Places:
        databases = {paths.warehouse, paths.analyst_database}
        databases |= {db.with_name(f"{db.name}.wal") for db in databases} | {paths.warehouse_lock}
        generated = frozenset({paths.models_dir, paths.reports_dir})
        return cls(paths.data_dir, frozenset(databases), paths.rejected_files, generated)


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


def erase_customer(
    con: duckdb.DuckDBPyConnection,
    *,
    customer_id: str,
    requested_by: str,
    reason: str,
    places: Places,
    sources: SourcesConfig | None,
    run_id: str | None,
) -> Erasure:
    """Erase one customer, as a person asked."""
    requested_by, reason = requested_by.strip(), reason.strip()
    if not requested_by or not reason:
        raise ErasureError("an erasure needs who asks (--by) and why (--reason)")
    before = register.served_before(con, customer_id)
    try:
        person = find_person(con, customer_id, sources)
    except ErasureError:
        if before is None:
            raise
        pseudonym, erased_at, by = before
        raise ErasureError(
            f"customer {customer_id.strip()}: already erased on {erased_at:%Y-%m-%d %H:%M} UTC "
            f"by {by}, as {pseudonym}; nothing of them is left to erase"
        ) from None
    if person.mentioned_in(reason) or person.mentioned_in(requested_by):
        raise ErasureError(
            "the reason (or the name of who asks) mentions the person's id, name, email or "
            "phone: the audit log keeps it for ever, so say why without them (e.g. the ticket "
            "number of the request)"
        )
    return _serve(con, person, requested_by, reason, places, run_id)


def erase_returning(
    con: duckdb.DuckDBPyConnection,
    table: str,
    load_id: str,
    *,
    places: Places,
    sources: SourcesConfig | None,
    run_id: str,
) -> list[Erasure]:
    """Erase again, under their pseudonym, each erased person whose id the load `load_id` of
    raw_store.<table> brought back; audited as the run's doing."""
    if not table_exists(con, "raw_store", table) or not _has_customer_id(con, table):
        return []
    returning = register.erased_ids_among(
        con,
        f"raw_store.{table}",
        "r._file_id in (select file_id from raw.file_loads where load_id = ?)",
        [load_id],
    )
    served = []
    for customer_id, _ in returning:
        _, erased_at, by = register.served_before(con, customer_id)
        person = find_person(con, customer_id, sources)  # the same pseudonym: a keyed hash
        reason = (
            f"back in a new export of {table}: erased again, as {by} asked on {erased_at:%Y-%m-%d}"
        )
        served.append(_serve(con, person, run_actor(run_id), reason, places, run_id))
    return served


def _has_customer_id(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_columns() where database_name = current_database() "
            "and schema_name = 'raw_store' and table_name = ? and column_name = 'customer_id'",
            [table],
        ).fetchone()[0]
    )


def _serve(
    con, person: Person, requested_by: str, reason: str, places: Places, run_id: str | None
) -> Erasure:
    check_rewritable(con, person)  # a refusal before any file or row is changed
    files = erase_files(
        places.data_dir,
        person,
        skip=set(places.databases),
        deletable=places.deletable,
        generated=places.generated,
    )
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
        counts = (
            sum(rows.pseudonymized.values()),
            sum(rows.scrubbed.values()),
            len(files.rewritten),
            len(files.deleted),
        )
        register.register(
            con,
            pseudonym=person.pseudonym,
            id_sha256=person.id_sha256,
            requested_by=requested_by,
            reason=reason,
            run_id=run_id,
            counts=counts,
            details=details,
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
