"""What monitoring and the KPI dashboard add to a nightly run, in seconds and peak memory.

    .venv/bin/python benchmarks/monitoring.py [--scale small] [--scale medium] [--workdir D]

For each scale: generate the demo company, then in fresh processes (each its own peak memory,
DuckDB included) sharing one Dagster instance
- night: every asset but monitoring and the dashboard (ingestion to the analyst database);
- monitoring + dashboard: `monitoring/demand_forecast_monitoring` and `reports/kpi_dashboard`
  on the night's results (Evidently's import included: every run pays it).
The issue's target: monitoring and reports together add no more than 15 % to a nightly run at
medium scale. Machines here are noisy: run it alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import run_child

REPO = Path(__file__).resolve().parents[1]
WATCHED = ["monitoring/demand_forecast_monitoring", "reports/kpi_dashboard"]

GENERATE = """
from sme_platform.lib.demo_data import generate_demo_data
started = time.perf_counter()
manifest = generate_demo_data(Path(sys.argv[1]), scale=sys.argv[2], defect_rate=0.002)
report(seconds=time.perf_counter() - started, rows=manifest["row_counts"]["sales"])
"""

MATERIALIZE = """
import dagster as dg
from sme_platform.definitions import defs
from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.project import ProjectPaths
project, watched, only_watched = Path(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3] == "1"
keys = dg.AssetSelection.assets(*[dg.AssetKey(k.split("/")) for k in watched])
selection = keys if only_watched else dg.AssetSelection.all() - keys
home = ProjectPaths.at(project).ensure_dagster_home()
started = time.perf_counter()
with dg.DagsterInstance.from_config(str(home)) as instance:
    result = dg.materialize(
        list(defs.assets),
        selection=selection,
        resources={"project": ProjectResource(project_dir=str(project))},
        instance=instance,
        raise_on_error=False,
    )
events = result.get_asset_materialization_events()
skipped = [e.asset_key.to_user_string() for e in events
           if "skipped" in e.step_materialization_data.materialization.metadata]
report(seconds=time.perf_counter() - started, success=result.success, assets=len(events),
       skipped=skipped)
"""


def measure(scale: str, workdir: Path) -> dict:
    project = workdir / f"monitoring_{scale}"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    for name in ("sources.yaml", "forecasting.yaml"):
        shutil.copy(REPO / name, project / name)
    generated = run_child(GENERATE, project / "data" / "demo" / "exports", scale)
    env = {**os.environ, "PYTHONPATH": str(REPO), "SME_PLATFORM_DIR": str(project)}
    night = run_child(MATERIALIZE, project, json.dumps(WATCHED), "0", env=env)
    watched = run_child(MATERIALIZE, project, json.dumps(WATCHED), "1", env=env)
    if not (night["success"] and watched["success"]):
        raise RuntimeError(f"{scale}: a run failed (see {project}/.dagster_home)")
    return {"scale": scale, "lines": generated["rows"], "night": night, "watched": watched}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="append", choices=["tiny", "small", "medium"])
    parser.add_argument("--workdir", type=Path, default=REPO / "data" / "benchmarks")
    arguments = parser.parse_args()
    rows = [measure(scale, arguments.workdir) for scale in arguments.scale or ["small"]]
    print(
        f"{'scale':<8}{'sales lines':>13}{'night s':>10}{'peak MiB':>10}"
        f"{'monitoring+dashboard s':>24}{'peak MiB':>10}{'added':>8}"
    )
    for row in rows:
        night, watched = row["night"], row["watched"]
        added = watched["seconds"] / night["seconds"]
        print(
            f"{row['scale']:<8}{row['lines']:>13,}{night['seconds']:>10.1f}"
            f"{night['peak_mib']:>10,}{watched['seconds']:>24.1f}{watched['peak_mib']:>10,}"
            f"{added:>8.1%}"
        )
        if watched["skipped"]:
            print(f"  {row['scale']}: skipped (nothing to watch): {', '.join(watched['skipped'])}")


if __name__ == "__main__":
    main()
