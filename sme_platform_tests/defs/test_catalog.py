"""The asset catalog: what it says of each asset, and the governance check that fails an asset
without an owner, a description or a check. The graph's snapshot catches accidental changes."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import dagster as dg

from sme_platform.defs.governance.catalog import CATALOG_KEY, build_catalog_asset, graph_snapshot
from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.catalog import CatalogEntry, completeness
from sme_platform.lib.warehouse import connect

SNAPSHOT = Path(__file__).with_name("graph_snapshot.json")
UPDATE = "SME_UPDATE_GRAPH_SNAPSHOT"


def test_the_graph_is_as_reviewed(monkeypatch):
    """Assets, checks, jobs, schedules and sensors as sme_platform_tests/defs/graph_snapshot.json
    says. After an intended change: SME_UPDATE_GRAPH_SNAPSHOT=1 pytest this file, and review the
    file's diff with the change."""
    monkeypatch.setenv("SME_PLATFORM_DIR", str(Path(__file__).resolve().parents[2]))
    from sme_platform.definitions import defs

    current = json.dumps(graph_snapshot(defs), indent=2, sort_keys=True) + "\n"
    if os.environ.get(UPDATE) == "1":
        SNAPSHOT.write_text(current, encoding="utf-8")
    reviewed = SNAPSHOT.read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            reviewed.splitlines(keepends=True),
            current.splitlines(keepends=True),
            "graph_snapshot.json (reviewed)",
            "the graph now",
        )
    )
    assert not diff, f"the graph changed; if intended, {UPDATE}=1 and review:\n{diff}"


@dg.asset(check_specs=[dg.AssetCheckSpec("rows_present", asset="orders")])
def orders():
    """Orders as exported. Grain: one row per order line."""
    yield dg.MaterializeResult(metadata={"dagster/row_count": 3})
    yield dg.AssetCheckResult(check_name="rows_present", passed=True)


@dg.asset(deps=[orders])
def scratch():
    return None


def test_an_asset_without_owner_description_or_check_fails_the_catalog(tmp_path):
    catalog = build_catalog_asset([orders.key, scratch.key])
    result = dg.materialize(
        [orders, scratch, catalog],
        resources={"project": ProjectResource(project_dir=str(tmp_path))},
        raise_on_error=False,
    )
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.asset_key == CATALOG_KEY]
    assert not evaluation.passed and evaluation.blocking
    assert evaluation.description == (
        "2 of 3 assets lack what governance asks: orders: no owner; "
        "scratch: no owner, no description, no check"
    )
    with connect(tmp_path / "data" / "warehouse.duckdb", read_only=True) as con:
        rows = con.execute(
            """select asset, grain, checks, upstream, downstream, row_count, last_run_id,
                      problems
               from governance.catalog order by asset"""
        ).fetchall()
    assert rows[1:] == [
        (
            "orders",
            "one row per order line",
            ["rows_present"],
            [],
            ["governance/catalog", "scratch"],
            3,
            result.run_id,
            ["no owner"],
        ),
        (
            "scratch",
            None,
            [],
            ["orders"],
            ["governance/catalog"],
            None,
            result.run_id,
            ["no owner", "no description", "no check"],
        ),
    ]


def test_completeness_passes_when_every_asset_is_owned_described_and_checked():
    entry = CatalogEntry(
        "marts/x", "marts", "X. Grain: one row per day.", ["team:data"], checks=["c"]
    )
    outcome = completeness([entry])
    assert outcome.passed
    assert (
        outcome.description == "1 assets, each with an owner, a description and at least one check"
    )
    assert entry.grain == "one row per day"
