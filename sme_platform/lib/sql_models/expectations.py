"""Great Expectations 1.x suites on the marts, kept as files beside the SQL.

`dbt_like_sql/marts/sales_daily.expectations.json` holds the suite of `marts.sales_daily`, in
GX's own JSON form (`{"name", "expectations": [{"type", "kwargs"}], "meta": {"severity"}}`), so
it can be edited with GX's tools too. The suite runs on the new build before it is published,
like the header's tests; `meta.severity` error (the default) makes it blocking.

GX has no DuckDB or polars engine that works offline here, so the columns the suite names are
handed to its pandas engine, text as categories to keep memory near the table's own size. GX is
imported only when a suite runs (it takes seconds to import), with its analytics and progress
bars off: nothing phones home and logs stay readable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb

from sme_platform.lib.sql_models.errors import ModelGraphError
from sme_platform.lib.sql_models.header import SEVERITIES, DataTest
from sme_platform.lib.warehouse import quote_identifier

SUITE_SUFFIX = ".expectations.json"
CHECK_NAME = "great_expectations_suite"
COLUMN_KWARGS = ("column", "column_A", "column_B")
COLUMN_LIST_KWARGS = ("column_list",)


def suite_path_for(sql_path: Path) -> Path:
    return sql_path.with_name(sql_path.stem + SUITE_SUFFIX)


def suite_test(path: Path) -> DataTest:
    """The suite as one data test of its model; the file is checked when the graph loads."""
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ModelGraphError(f"{path}: not a readable suite: {error}") from error
    expectations = suite.get("expectations") if isinstance(suite, dict) else None
    if not isinstance(expectations, list) or not expectations:
        raise ModelGraphError(f"{path}: a suite needs a non-empty list of expectations")
    for expectation in expectations:
        if not isinstance(expectation, dict) or not str(expectation.get("type", "")).startswith(
            "expect_"
        ):
            raise ModelGraphError(f"{path}: each expectation needs a type expect_...")
    severity = (suite.get("meta") or {}).get("severity", "error")
    if severity not in SEVERITIES:
        raise ModelGraphError(f"{path}: meta.severity must be one of {list(SEVERITIES)}")
    return DataTest(
        CHECK_NAME,
        "great_expectations",
        severity,
        {"suite_path": str(path)},
        f"Great Expectations suite {path.name} ({len(expectations)} expectations)",
    )


def _columns(expectations: list[dict]) -> list[str]:
    names: list[str] = []
    for expectation in expectations:
        kwargs = expectation.get("kwargs", {})
        names += [kwargs[k] for k in COLUMN_KWARGS if k in kwargs]
        names += [c for k in COLUMN_LIST_KWARGS for c in kwargs.get(k, [])]
    return list(dict.fromkeys(names))


def validate_suite(con: duckdb.DuckDBPyConnection, path: Path, relation: str):
    """(passed, failing expectations, description, observed) for the suite on `relation`."""
    suite_json = json.loads(path.read_text(encoding="utf-8"))
    columns = _columns(suite_json["expectations"])
    types = {row[0]: row[1] for row in con.execute(f"describe {relation}").fetchall()}
    missing = [c for c in columns if c not in types]
    if missing:
        return False, len(missing), f"the suite names column(s) {missing} the table lacks", {}
    # Decimals would reach pandas as Python objects: as doubles GX compares them as numbers.
    select = (
        ", ".join(
            f"{quote_identifier(c)}::double as {quote_identifier(c)}"
            if types[c].startswith("DECIMAL")
            else quote_identifier(c)
            for c in columns
        )
        or "1 as _row"
    )
    # Through Arrow, text becomes pandas categories directly, never one Python object per row.
    arrow_table = con.execute(f"select {select} from {relation}").fetch_arrow_table()
    frame = arrow_table.to_pandas(strings_to_categorical=True)
    del arrow_table
    results = _run_gx(suite_json, frame)
    failed = [r for r in results if not r["success"]]
    described = ", ".join(f"{r['type']}({r['column'] or ''})" for r in failed[:5])
    description = f"{len(results) - len(failed)} of {len(results)} expectations met" + (
        f"; failed: {described}" if failed else ""
    )
    return not failed, len(failed), description, {"expectations": results}


def _run_gx(suite_json: dict, frame) -> list[dict]:
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
    suite = context.suites.add(
        gx.ExpectationSuite(
            name=suite_json.get("name", "suite"), expectations=suite_json["expectations"]
        )
    )
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
                "column": config.kwargs.get("column")
                or ",".join(config.kwargs.get("column_list", [])),
                "success": bool(result.success),
                "observed_value": _plain(details.get("observed_value")),
                "unexpected_count": details.get("unexpected_count"),
                "element_count": details.get("element_count"),
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
