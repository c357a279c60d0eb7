"""Rules over sets of rows, found after the pass over the batch's landed rows: unknown foreign
keys, duplicate keys within the batch, and keys loaded before. A row failing one is marked bad."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sme_platform.lib.ingestion import contract
from sme_platform.lib.sources import SourceSpec
from sme_platform.lib.warehouse import RAW_STORE_SCHEMA, quote_identifier, quote_literal

if TYPE_CHECKING:
    from sme_platform.lib.ingestion.batch import Batch


def find_unknown_foreign_keys(con, batch: Batch, foreign_keys) -> None:
    """Rows whose key is not in the parent table. A row that breaks an error-severity key is
    then no longer good, so it is neither a duplicate's first occurrence nor loaded."""
    for foreign_key, severity in foreign_keys:
        con.execute(
            "insert into _set_failures " + contract.foreign_key_failures_sql(foreign_key, severity)
        )
    if foreign_keys:
        mark_set_failures_bad(con, batch)


def mark_set_failures_bad(con, batch: Batch) -> None:
    """Rows with an error-severity set failure so far are no longer good. Their original values
    mark them: they passed every row rule, so these are their source values, typed (their rules
    are in _set_failures). Not an update of _failed_rules: DuckDB updates a list column by
    deleting the row and inserting it again, under a new rowid."""
    table = batch.spec.canonical
    canonical_json = ", ".join(
        f"{quote_literal(c.name)}, {quote_identifier(c.name)}" for c in table.columns
    )
    con.execute(
        f"""update {RAW_STORE_SCHEMA}.{table.name}
        set _original_values = json_object({canonical_json})::varchar
        where {batch.rows_filter} and _failed_rules is null and _original_values is null
            and rowid in (select rid from _set_failures where severity = 'error')"""
    )


def find_duplicates_in_batch(con, batch: Batch) -> None:
    """Primary-key failures within the batch: keys that occur twice or more."""
    table = batch.spec.canonical
    key = [quote_identifier(c) for c in table.primary_key]
    key_list = ", ".join(key)
    key_present = " and ".join(f"{k} is not null" for k in key)
    join_on = " and ".join(f"c.{k} = d.{k}" for k in key)
    # Hash first (cheap, fixed width), then the real key for the few repeated hashes. Sorting
    # the hashes finds repeats in half the time of grouping 10M of them (1.1 s against 2.4 s).
    con.execute(
        f"""create temp table _dup_candidates as
        select distinct h from (
            select h, h = lag(h) over (order by h) as repeated
            from (select hash({key_list}) as h from _checked where _ok and {key_present})
        ) where repeated"""
    )
    if not con.execute("select count(*) from _dup_candidates").fetchone()[0]:
        return
    con.execute(
        f"""insert into _set_failures
        with candidates as (
            select c.*, b._source_file from _checked c join _batch_files b
                on b.file_id = c._file_id
            where c._ok and hash({key_list}) in (select h from _dup_candidates)
        ),
        firsts as (
            select {key_list},
                   arg_min(rid, (_source_file, _source_row)) as keep_rid,
                   min((_source_file, _source_row)) as first_seen
            from candidates group by all having count(*) > 1
        )
        select c.rid, '{contract.PRIMARY_KEY}', 'error',
               'duplicate key; first seen at ' || d.first_seen[1] || ' row ' || d.first_seen[2]
        from candidates c join firsts d on {join_on}
        where c.rid <> d.keep_rid"""
    )


def find_keys_loaded_before(con, spec: SourceSpec) -> None:
    """Primary-key failures against the rows published before (the view raw.<table> does not
    show the batch's own rows: their files have no record yet)."""
    table = spec.canonical
    join_on = " and ".join(
        f"c.{k} = d.{k}" for k in (quote_identifier(c) for c in table.primary_key)
    )
    con.execute(
        f"""insert into _set_failures
        select c.rid, '{contract.PRIMARY_KEY}', 'error',
               'key already loaded from ' || d._source_file || ' row ' || d._source_row
        from _checked c join raw.{table.name} d on {join_on}
        where c._ok"""
    )
