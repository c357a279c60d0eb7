"""The SQL model graph through the platform against the same SQL files run by a bare script.

    .venv/bin/python benchmarks/sql_models.py --scale small [--scale medium] [--workdir DIR]

For each scale: generate the demo company (clean) and ingest it once; then, each in a fresh
process and on its own copy of that warehouse,
- bare: a DuckDB script that runs every model's SQL as `create or replace table` in dependency
  order, nothing else (no tests, no lineage, no Dagster);
- platform, no tests: the same models as Dagster assets (build under a temporary name, swap,
  column lineage, schema and row count metadata), as `dbt run` compares;
- platform, + SQL tests: with the tests of the models' headers on each new build;
- platform, + GX suites: as a run does it, with the Great Expectations suites on the marts.
It also times what every run pays before any SQL runs: loading the SQL graph, and importing
the Dagster definitions. Machines here are noisy: compare the ratios more than the seconds.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

# The child-process harness both benchmarks share.
from ingest import GENERATE, run_child, save_results  # noqa: E402

INGEST = """
from sme_platform.lib.ingestion import ingest_table
from sme_platform.lib.sources import load_sources
from sme_platform.lib.warehouse import connect
project, database = Path(sys.argv[1]), sys.argv[2]
sources = load_sources(project)
started = time.perf_counter()
rows = 0
with connect(database) as con:
    for table in ("locations", "products", "customers", "sales_lines", "inventory_snapshots",
                  "prices", "tickets"):
        rows += ingest_table(con, sources.get(table)).rows_loaded
report(seconds=time.perf_counter() - started, rows=rows)
"""

BARE = """
import duckdb
from sme_platform.lib.sql_models.graph import load_model_graph
graph = load_model_graph(Path(sys.argv[1]) / "dbt_like_sql")
con = duckdb.connect(sys.argv[2], config={"memory_limit": "3GB"})
con.execute("set enable_progress_bar = false")
started = time.perf_counter()
for name in graph.order:
    model = graph.models[name]
    con.execute(f"create schema if not exists {model.schema}")
    con.execute(f"create or replace table {model.qualified_name} as {model.sql}")
con.close()
report(seconds=time.perf_counter() - started, rows=len(graph.order))
"""

PLATFORM = """
import dataclasses, os
started = time.perf_counter()
import dagster as dg
from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.sql_models.assets import MODEL_GRAPH, build_sql_model_asset
from sme_platform.lib.sql_models.graph import ModelGraph
imported = time.perf_counter() - started
variant = sys.argv[2]
models = {}
for name, model in MODEL_GRAPH.models.items():
    tests = tuple(t for t in model.header.tests
                  if variant == "full" or (variant == "tests" and t.kind != "great_expectations"))
    models[name] = dataclasses.replace(
        model, header=dataclasses.replace(model.header, tests=tests))
graph = ModelGraph(models=models, order=MODEL_GRAPH.order)
assets = [build_sql_model_asset(graph.models[name], graph) for name in graph.order]
result = dg.materialize(
    assets, resources={"project": ProjectResource(project_dir=sys.argv[1])},
    instance=dg.DagsterInstance.ephemeral())
assert result.success
report(seconds=time.perf_counter() - started, rows=len(assets), import_seconds=imported)
"""

FIXED_COST = """
started = time.perf_counter()
from sme_platform.lib.sql_models.graph import load_model_graph
graph = load_model_graph(Path(sys.argv[1]) / "dbt_like_sql")
graph_seconds = time.perf_counter() - started
import sme_platform.definitions
report(seconds=graph_seconds, rows=len(graph.models),
       definitions_seconds=time.perf_counter() - started)
"""


def bench_scale(scale: str, workdir: Path) -> list[dict]:
    exports = workdir / scale / "exports"
    if not (exports / "_manifest.json").exists():
        run_child(GENERATE, exports, scale)
    project = workdir / scale / "sql_project"
    project.mkdir(parents=True, exist_ok=True)
    mapping = (REPO / "sources.yaml").read_text(encoding="utf-8")
    (project / "sources.yaml").write_text(
        mapping.replace("root: data/demo/exports", f"root: {exports}"), encoding="utf-8"
    )
    ingested = project / "ingested.duckdb"
    rows: list[dict] = []
    if not ingested.exists():
        loaded = run_child(INGEST, project, ingested)
        rows.append({"scale": scale, "phase": "ingest (all tables)", **loaded})
    warehouse = project / "data" / "warehouse.duckdb"
    warehouse.parent.mkdir(exist_ok=True)

    def fresh_copy() -> Path:
        shutil.copy(ingested, warehouse)
        return warehouse

    bare = run_child(BARE, REPO, fresh_copy())
    rows.append({"scale": scale, "phase": "bare script", **bare})
    labels = {
        "none": "platform, no tests",
        "tests": "platform, + SQL tests",
        "full": "platform, + GX suites",
    }
    for variant, label in labels.items():
        fresh_copy()
        platform = run_child(PLATFORM, project, variant)
        platform["ratio_to_bare"] = round(platform["seconds"] / bare["seconds"], 2)
        rows.append({"scale": scale, "phase": label, **platform})
    fixed = run_child(FIXED_COST, REPO)
    rows.append({"scale": scale, "phase": "load SQL graph", **fixed})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", action="append", choices=["tiny", "small", "medium"])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sme_platform_bench"))
    args = parser.parse_args()
    results = []
    for scale in args.scale or ["small"]:
        results.extend(bench_scale(scale, args.workdir))
    print(f"\n{'scale':8} {'phase':26} {'seconds':>8} {'peak MiB':>9} {'vs bare':>8}  notes")
    for row in results:
        notes = ""
        if "import_seconds" in row:
            notes = f"of which {row['import_seconds']:.1f} s imports"
        if "definitions_seconds" in row:
            notes = f"{row['rows']} models; all definitions {row['definitions_seconds']:.2f} s"
        print(
            f"{row['scale']:8} {row['phase']:26} {row['seconds']:>8.2f} {row['peak_mib']:>9,} "
            f"{row.get('ratio_to_bare', ''):>8}  {notes}"
        )
    save_results("sql_models", results)


if __name__ == "__main__":
    main()
