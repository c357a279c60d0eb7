"""Serving an erasure: a person's request (erase_customer), and a person erased before who is
back in a newly loaded export (erase_returning: the source system still had them). The files'
new versions are staged, then the tables changed, registered and audited in one transaction,
then the files renamed into place: a request refused or failed before the commit changed
nothing and can be asked again."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from sme_platform.lib.audit.log import record_event, run_actor
from sme_platform.lib.erasure import register
from sme_platform.lib.erasure.files import FilesErased, erase_files
from sme_platform.lib.erasure.person import (
    ErasureError,
    Person,
    erasure_key,
    find_person,
    id_fields,
    pseudonym_with,
)
from sme_platform.lib.erasure.rows import RowsErased, check_rewritable, erase_rows
from sme_platform.lib.project import ProjectPaths
from sme_platform.lib.sources import SourcesConfig
from sme_platform.lib.warehouse import column_types, table_exists, transaction


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
        # resolved, as sources.yaml's paths are in raw.file_loads (a data/ behind a symlink)
        data = paths.data_dir.resolve()

        def inside(path: Path) -> Path:
            return data / path.relative_to(paths.data_dir)

        databases = {inside(paths.warehouse), inside(paths.analyst_database)}
        databases |= {db.with_name(f"{db.name}.wal") for db in databases}
        databases.add(inside(paths.warehouse_lock))
        generated = frozenset({inside(paths.models_dir), inside(paths.reports_dir)})
        return cls(data, frozenset(databases), inside(paths.rejected_files), generated)


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
        waiting = [s for s in register.PENDING_STEPS if register.pending(con, s)]
        raise ErasureError(
            f"customer {customer_id.strip()}: already erased on {erased_at:%Y-%m-%d %H:%M} UTC "
            f"by {by}, as {pseudonym}; nothing of them is left to erase"
            + (f" (still to do, by the next run: {', '.join(waiting)})" if waiting else "")
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
    *,
    places: Places,
    sources: SourcesConfig | None,
    run_id: str,
) -> list[Erasure]:
    """Erase again, under their pseudonym, each erased person whose id came back in the rows
    of <table> loaded since the last look (raw_store's, and the quarantined rows' original
    values); audited as the run's doing. The look moves on only when every return was served:
    a failure is retried by the next load, whatever it brings."""
    erased = register.erased_pseudonyms(con)
    if not erased or not table_exists(con, "raw_store", table):
        return []
    since = register.last_checked_file(con, table)
    newest = con.execute(
        "select max(file_id) from raw.file_loads where table_name = ? and status = 'loaded'",
        [table],
    ).fetchone()[0]
    if newest is None or newest <= since:
        return []
    key = erasure_key(con)
    returning = sorted(
        customer_id
        for customer_id in _ids_loaded(con, table, since, newest, id_fields(sources))
        if pseudonym_with(key, customer_id) in erased
    )
    served = []
    for customer_id in returning:
        _, erased_at, by = register.served_before(con, customer_id)
        person = find_person(con, customer_id, sources)  # the same pseudonym: a keyed hash
        reason = (
            f"back in a new export of {table}: erased again, as {by} asked on {erased_at:%Y-%m-%d}"
        )
        served.append(_serve(con, person, run_actor(run_id), reason, places, run_id))
    register.note_checked(con, table, newest)
    return served


def _ids_loaded(
    con: duckdb.DuckDBPyConnection, table: str, since: int, newest: int, fields: frozenset[str]
) -> set[str]:
    """The customer ids in the rows of files since..newest: stored, and quarantined (from the
    original values' customer fields; a float export's "17841.0" as 17841)."""
    ids: set[str] = set()
    if "customer_id" in column_types(con, "raw_store", table):
        ids |= {
            i
            for (i,) in con.execute(
                f"""select distinct trim(customer_id) from raw_store.{table}
                    where _file_id > ? and _file_id <= ? and customer_id is not null""",
                [since, newest],
            ).fetchall()
        }
    if "original_values" in column_types(con, "quarantine", table):
        # the customer fields of each quarantined row: mapped on customer_id, or named so
        ids |= {
            v.strip().removesuffix(".0")
            for (v,) in con.execute(
                f"""with q as (
                        select original_values as j, unnest(json_keys(original_values)) as k
                        from quarantine.{table}
                        where _load_id in (select load_id from raw.file_loads
                                           where table_name = ? and file_id > ? and file_id <= ?)
                          and json_valid(original_values)
                          and json_type(original_values) = 'OBJECT')
                    select distinct json_extract_string(j, '$."' || replace(k, '"', '\\"') || '"')
                    from q where (list_contains(?, k) or k ilike '%cust%')""",
                [table, since, newest, sorted(fields)],
            ).fetchall()
            if v is not None
        }
    return ids


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
    try:
        erasure = _commit(con, person, requested_by, reason, files, run_id)
    except BaseException:
        files.discard()
        raise
    # After the commit: a failure now leaves old files whose fingerprints the warehouse no
    # longer knows; the next load reads them as new versions, and erases the person again.
    files.apply()
    return erasure


def _commit(
    con, person: Person, requested_by: str, reason: str, files: FilesErased, run_id: str | None
) -> Erasure:
    with transaction(con):
        _note_rewritten_exports(con, files)  # before the rows pass scrubs a path naming the id
        rows = erase_rows(con, person)
        erasure = Erasure(person, rows, files)
        details = {
            "rows_pseudonymized": rows.pseudonymized,
            "mentions_scrubbed": rows.scrubbed,
            "files_rewritten": {
                person.scrub_text(path): new for path, (_, new) in files.rewritten.items()
            },
            "files_deleted": [person.scrub_text(path) for path in files.deleted],
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
            [new, files.staged[path].stat().st_size, path, old],
        )
