"""The one pass over a batch's rows: map onto canonical columns, cast, judge every row rule, and
insert straight into raw_store.<table>."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import duckdb

from sme_platform.lib.ingestion import contract
from sme_platform.lib.ingestion.readers import SourceRelation, reader_relation
from sme_platform.lib.ingestion.row_numbers import database_setting, in_lists_as_expressions
from sme_platform.lib.sources import SourceSpec
from sme_platform.lib.warehouse import LANDING_COLUMNS, RAW_STORE_SCHEMA, quote_identifier

if TYPE_CHECKING:
    from sme_platform.lib.ingestion.batch import Batch


def create_macros(con) -> None:
    con.execute(
        "create or replace temp macro nullif_markers(value, markers) as "
        "case when list_contains(markers, value) then null else value end"
    )


def _checked_sql(spec: SourceSpec, relation: SourceRelation, rules) -> str:
    """The one pass over the rows: map, cast, judge every row rule."""
    table = spec.canonical
    available = set(relation.columns)
    error_rules = [r for r in rules if r.severity == "error"]
    warn_rules = [r for r in rules if r.severity == "warn"]
    mapped = "".join(
        f", {contract.mapped_expression(spec.columns[c.name], available)} as "
        f"{contract.raw_alias(c.name)}"
        for c in table.columns
        if c.name in spec.columns
    )
    typed = ", ".join(
        (
            contract.typed_expression(c.type, contract.raw_alias(c.name), spec.options)
            if c.name in spec.columns
            else f"null::{c.type}"
        )
        + f" as {quote_identifier(c.name)}"
        for c in table.columns
    )
    raw_aliases = ", ".join(
        contract.raw_alias(c.name) for c in table.columns if c.name in spec.columns
    )
    canonical = ", ".join(contract.check_table_columns(table))
    return f"""with source as ({relation.sql}),
            mapped as (
                select _file_id, _source_row, __format_ok, __s as __src{mapped}
                from source as __s
            ),
            typed as (
                select _file_id, _source_row, __format_ok, __src, {raw_aliases}, {typed}
                from mapped
            ),
            judged as (
                select *, {contract.all_pass(error_rules)} as _ok,
                       {contract.all_pass(warn_rules)} as _warn_ok
                from typed
            )
            select {canonical}, _file_id, _source_row,
                   case when _ok then null else {contract.failed_rules_list(error_rules)} end
                       as _failed_rules,
                   case when _warn_ok then null else {contract.failed_rules_list(warn_rules)} end
                       as _warned_rules,
                   case when _ok then null else {relation.original} end as _original_values
            from judged"""


def insert_sql(spec: SourceSpec, relation: SourceRelation, rules) -> str:
    table = spec.canonical
    lineage = ["_file_id", "_source_row", *(name for name, _ in LANDING_COLUMNS)]
    columns = ", ".join([*contract.check_table_columns(table), *lineage])
    return f"insert into {RAW_STORE_SCHEMA}.{table.name} ({columns}) " + _checked_sql(
        spec, relation, rules
    )


def insert_checked(con, batch: Batch, relation: SourceRelation, rules) -> int:
    try:
        with in_lists_as_expressions(con):
            return con.execute(insert_sql(batch.spec, relation, rules)).fetchone()[0]
    except (duckdb.BinderException, duckdb.ParserException) as error:
        raise _mapping_error(batch.spec, relation, error) from error


def _mapping_error(spec: SourceSpec, relation: SourceRelation, error: Exception) -> ValueError:
    """A mapping that does not fit the files (unknown column, bad SQL) is a config error."""
    return ValueError(
        f"sources.yaml: the mapping of {spec.canonical.name} does not fit the source's columns "
        f"{sorted(relation.columns)}: {error}"
    )


def pass_keeps_read_order(con, batch: Batch, rules) -> bool:
    """Whether the pass straight from the reader keeps the read order that numbers the rows:
    DuckDB must plan it as an order-keeping ("batch") insert, or, on a single thread, as a
    plain insert without a join. A subquery in a mapping or a custom rule is a join, and with
    one the order is not kept."""
    relation = reader_relation(batch)
    if not relation.numbered_by_rowid:
        return True  # Parquet: the reader gives each row's number itself
    try:
        with (
            database_setting(con, "explain_output", "physical_only"),
            in_lists_as_expressions(con),
        ):
            explained = con.execute(
                "explain (format json) " + insert_sql(batch.spec, relation, rules)
            )
            plan = json.loads(explained.fetchone()[1])[0]
    except (duckdb.BinderException, duckdb.ParserException) as error:
        raise _mapping_error(batch.spec, relation, error) from error
    if plan["name"] == "BATCH_INSERT":
        return True
    single_thread = con.execute("select current_setting('threads')").fetchone()[0] == 1
    return single_thread and plan["name"] == "INSERT" and not _has_join(plan)


def _has_join(plan: dict) -> bool:
    return "JOIN" in plan["name"] or any(_has_join(child) for child in plan.get("children", []))
