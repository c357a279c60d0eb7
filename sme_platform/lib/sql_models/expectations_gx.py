"""GX's pandas engine on a DuckDB relation: the path for the expectations expectations_sql does
not compile.

GX's SQL engine fails on DuckDB here, so the columns the expectations name are handed to its
pandas engine, text as categories and dates as datetime64 to keep memory near the table's own
size, and a big table is checked in partitions (see _SuiteRun). GX is imported only when an
expectation needs it (it takes seconds to import), with its analytics and progress bars off:
nothing phones home and logs stay readable.
"""

from __future__ import annotations

import math
import os

import duckdb

from sme_platform.lib.warehouse import quote_identifier

COLUMN_KWARGS = ("column", "column_A", "column_B")
COLUMN_LIST_KWARGS = ("column_list",)
FETCH_BATCH_ROWS = 1_000_000
# Above this many rows the expectations are checked in partitions (see _SuiteRun).
PARTITION_ROWS = 5_000_000
INDEX_META_KEY = "sme_platform_index"
# Expectations that judge each row by its own values alone.
ROW_LOCAL = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_match_regex_list",
        "expect_column_values_to_not_match_regex_list",
        "expect_column_values_to_match_like_pattern",
        "expect_column_values_to_not_match_like_pattern",
        "expect_column_value_lengths_to_be_between",
        "expect_column_value_lengths_to_equal",
        "expect_column_pair_values_to_be_equal",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_select_column_values_to_be_unique_within_record",
    }
)
# Expectations over rows with equal values of their columns: exact on hash partitions of them.
KEY_LOCAL = frozenset({"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"})


def columns_named(expectations: list[dict]) -> list[str]:
    names: list[str] = []
    for expectation in expectations:
        kwargs = expectation.get("kwargs", {})
        names += [kwargs[k] for k in COLUMN_KWARGS if k in kwargs]
        names += [c for k in COLUMN_LIST_KWARGS for c in kwargs.get(k, [])]
    return list(dict.fromkeys(names))


def judge_with_gx(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    types: dict[str, str],
    suite_name: str,
    expectations: dict[int, dict],
    where: str | None = None,
) -> dict[int, dict]:
    """GX's results (type, column, success, observed_value, unexpected_count, element_count) by
    position in the suite, judged on the rows of `relation` matching `where` (all without it)."""
    numbered = [
        {**e, "meta": {**(e.get("meta") or {}), INDEX_META_KEY: i}} for i, e in expectations.items()
    ]
    return _SuiteRun(con, relation, types, suite_name, where).run(numbered)


class _SuiteRun:
    """Runs a suite in pieces small enough for GX's pandas engine, with the results GX gives on
    the whole table.

    GX holds several copies of what it checks: the sales_daily suite on 42M rows peaked at
    8.2 GB. A table over PARTITION_ROWS is therefore checked in partitions wherever that is
    exact: an expectation judging each row on its own values (ROW_LOCAL) on consecutive batches
    of rows, and a uniqueness expectation on partitions by a hash of its own columns, so that
    equal keys meet in one partition. Both only with `mostly` 1, where the expectation holds on
    the table exactly when it holds on every partition and the counts add up. Every other
    expectation (table-level ones, `mostly` below 1; all of them on a smaller table) runs once,
    together, on the columns they name. With `where`, every query fetches only the rows matching
    it. Each expectation carries its position in the suite in meta[INDEX_META_KEY]."""

    def __init__(self, con, relation, types: dict[str, str], suite_name: str, where=None):
        self.con = con
        self.relation = relation
        self.types = types
        self.suite_name = suite_name
        self.where = where

    def run(self, numbered: list[dict]) -> dict[int, dict]:
        rows = self.con.execute(f"select count(*) from {self.relation}{self._where()}").fetchone()
        rows = rows[0]
        partitioned = rows > PARTITION_ROWS
        row_local = [e for e in numbered if partitioned and _exact_in_parts(e, ROW_LOCAL)]
        key_local = [e for e in numbered if partitioned and _exact_in_parts(e, KEY_LOCAL)]
        whole = [e for e in numbered if e not in row_local and e not in key_local]
        results: list[dict] = []
        if row_local:
            results += self._in_row_batches(row_local)
        for expectation in key_local:
            results += self._in_key_partitions(expectation, math.ceil(rows / PARTITION_ROWS))
        if whole:
            frame = _compact_frame(self.con, self._query(columns_named(whole)))
            results += _run_gx(self.suite_name, whole, frame)
        return _merge_partitions(results)

    def _where(self, *predicates: str) -> str:
        predicates = tuple(f"({p})" for p in ((self.where,) if self.where else ()) + predicates)
        return f" where {' and '.join(predicates)}" if predicates else ""

    def _query(self, columns, *predicates: str) -> str:
        select_list = _select_list(tuple(columns), self.types)
        return f"select {select_list} from {self.relation}{self._where(*predicates)}"

    def _in_row_batches(self, expectations: list[dict]) -> list[dict]:
        results = []
        reader = self.con.execute(self._query(columns_named(expectations))).fetch_record_batch(
            PARTITION_ROWS
        )
        for batch in reader:
            results += _run_gx(self.suite_name, expectations, _frame_of([batch], reader.schema))
        return results

    def _in_key_partitions(self, expectation: dict, partitions: int) -> list[dict]:
        key = ", ".join(quote_identifier(c) for c in columns_named([expectation]))
        results = []
        for partition in range(partitions):
            in_partition = f"hash({key}) % {partitions} = {partition}"
            frame = _compact_frame(
                self.con, self._query(columns_named([expectation]), in_partition)
            )
            results += _run_gx(self.suite_name, [expectation], frame)
            del frame
        return results


def _exact_in_parts(expectation: dict, kinds: frozenset[str]) -> bool:
    mostly = expectation.get("kwargs", {}).get("mostly", 1)
    return expectation["type"] in kinds and mostly == 1 and bool(columns_named([expectation]))


def _merge_partitions(results: list[dict]) -> dict[int, dict]:
    """One result per expectation, by its position in the suite: partitions' counts added up."""
    merged: dict[int, dict] = {}
    for result in results:
        index = result.pop("index")
        if index not in merged:
            merged[index] = result
            continue
        total = merged[index]
        total["success"] = total["success"] and result["success"]
        for count in ("unexpected_count", "element_count"):
            if result[count] is not None:
                total[count] = (total[count] or 0) + result[count]
    return merged


def _select_list(columns: tuple[str, ...], types: dict[str, str]) -> str:
    # Decimals would reach pandas as Python objects: as doubles GX compares them as numbers.
    return (
        ", ".join(
            f"{quote_identifier(c)}::double as {quote_identifier(c)}"
            if types[c].startswith("DECIMAL")
            else quote_identifier(c)
            for c in columns
        )
        or "1 as _row"  # a table-level expectation needs the rows, not their values
    )


def _compact_frame(con: duckdb.DuckDBPyConnection, query: str):
    """The query's rows as a pandas frame that stays near the table's own size: text becomes
    categories batch by batch (only codes and the distinct values are ever held, never the whole
    column of strings), dates become datetime64 instead of one Python object per row.

    Measured on marts.sales_daily at medium scale (42M rows): fetching sku, location and date
    as Arrow text and then converting held 2.6 GB, and pandas' duplicate check on Python dates
    peaked at 4.5 GB."""
    reader = con.execute(query).fetch_record_batch(FETCH_BATCH_ROWS)
    return _frame_of(reader, reader.schema)


def _frame_of(batches, schema):
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = []
    for batch in batches:
        columns = [
            pc.dictionary_encode(column) if _is_text(column.type) else column
            for column in batch.columns
        ]
        encoded.append(pa.RecordBatch.from_arrays(columns, names=batch.schema.names))
    if not encoded:
        return schema.empty_table().to_pandas(strings_to_categorical=True, date_as_object=False)
    table = pa.Table.from_batches(encoded)
    del encoded
    return table.to_pandas(date_as_object=False, self_destruct=True)


def _is_text(arrow_type) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_string_view(arrow_type)
    )


def _run_gx(suite_name: str, expectations: list[dict], frame) -> list[dict]:
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
            store_backend_defaults=InMemoryStoreBackendDefaults(),
        ),
    )
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name, expectations=expectations))
    asset = context.data_sources.add_pandas("warehouse").add_dataframe_asset("table")
    batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(
        batch_parameters={"dataframe": frame}
    )
    validation = batch.validate(suite)
    observed = []
    for result in validation.results:
        config = result.expectation_config
        details = result.result or {}
        observed.append(
            {
                "type": config.type,
                "column": ",".join(columns_named([{"kwargs": config.kwargs}])),
                "success": bool(result.success),
                "observed_value": _plain(details.get("observed_value")),
                "unexpected_count": details.get("unexpected_count"),
                "element_count": details.get("element_count"),
                "index": (config.meta or {}).get(INDEX_META_KEY),
            }
        )
    return observed


def _plain(value):
    """numpy scalars and the like as plain JSON values."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)
