"""The whole graph on the long-tail catalogue, as a new user would run it.

    .venv/bin/python benchmarks/long_tail.py [--days 730] [--workdir D] [--keep]

In a fresh project folder: the demo mapping without what the company does not export and the
demo's forecasting.yaml (what `sme-platform demo --catalog long-tail` writes), then
`sme-platform generate --catalog long-tail` and `sme-platform run`, each in its own process
under /usr/bin/time -v (wall time and peak resident memory, DuckDB included). Then, from the
warehouse: the rows of raw.sales_lines against marts.sales_daily, and the rows a table
zero-filled from each pair's first activity to the last day would have had (what
marts.sales_daily was before it became sparse), and the slowest steps of the run from the
project's Dagster instance. The project folder is deleted afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("sme-platform"))
TIME = "/usr/bin/time"
SLOWEST_STEPS = 8

WRITE_MAPPING = """
from pathlib import Path
from sme_platform.lib.config.schema import with_schema_modeline
from sme_platform.lib.demo_data.mapping import demo_mapping
repo, project = Path(sys.argv[1]), Path(sys.argv[2])
target = project / "sources.yaml"
mapping = demo_mapping("long-tail", (repo / "sources.yaml").read_text(encoding="utf-8"))
target.write_text(with_schema_modeline(mapping, target), encoding="utf-8")
# The demo company's forecasting settings (its holiday calendar, the gate's margins), as
# `sme-platform demo` copies them: without them the model knew no holiday and the gate ran on
# the defaults, not what a user of the long-tail demo gets.
settings = project / "forecasting.yaml"
settings.write_text((repo / "forecasting.yaml").read_text(encoding="utf-8"), encoding="utf-8")
print("RESULT " + json.dumps({"mapping": str(target), "settings": str(settings)}))
"""

COUNT_ROWS = """
from pathlib import Path
from sme_platform.lib.warehouse import connect
with connect(Path(sys.argv[1]), read_only=True) as con:
    def scalar(sql):
        return con.execute(sql).fetchone()[0]
    # the rows of the old definition: every pair zero-filled from its first activity (sale,
    # return or snapshot) to the last day in the data
    dense = scalar(
        "with pairs as (select sku, location_id, min(sales_date) as first_day "
        "from marts.sales_daily group by all) "
        "select sum(date_diff('day', first_day, (select max(sales_date) "
        "from marts.sales_daily)) + 1) from pairs"
    )
    print("RESULT " + json.dumps({
        "raw.sales_lines": scalar("select count(*) from raw.sales_lines"),
        "staging.sales_lines": scalar("select count(*) from staging.sales_lines"),
        "marts.sales_daily": scalar("select count(*) from marts.sales_daily"),
        "zero-filled equivalent": int(dense or 0),
        "SKU x location pairs": scalar(
            "select count(*) from (select distinct sku, location_id from marts.sales_daily)"
        ),
        "SKUs": scalar("select count(distinct sku) from marts.sales_daily"),
        "locations": scalar("select count(distinct location_id) from marts.sales_daily"),
    }))
"""

STEP_TIMES = """
import os
from pathlib import Path
import dagster as dg
from sme_platform.lib.project import ProjectPaths
os.environ["DAGSTER_HOME"] = str(ProjectPaths.at(Path(sys.argv[1])).dagster_home)
instance = dg.DagsterInstance.get()
(run,) = instance.get_runs(limit=1)
steps = sorted(
    ((s.end_time - s.start_time, s.step_key) for s in instance.get_run_step_stats(run.run_id)
     if s.end_time and s.start_time),
    reverse=True,
)
print("RESULT " + json.dumps({"status": run.status.value, "steps": steps[:int(sys.argv[2])]}))
"""


def run_timed(phase: str, command: list[str], env: dict) -> dict:
    """Wall seconds and peak resident MiB of one command, from /usr/bin/time -v."""
    started = time.perf_counter()
    completed = subprocess.run(
        [TIME, "-v", *command], capture_output=True, text=True, env=env, cwd=REPO, check=False
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"{phase} failed ({completed.returncode}):\n{completed.stdout[-3000:]}\n"
            f"{completed.stderr[-3000:]}"
        )
    peak_kib = re.search(r"Maximum resident set size \(kbytes\): (\d+)", completed.stderr)
    return {
        "phase": phase,
        "seconds": round(seconds, 1),
        "peak_mib": round(int(peak_kib[1]) / 1024) if peak_kib else None,
        "output_tail": completed.stdout.strip().splitlines()[-40:],
    }


def run_child(code: str, *args: str, env: dict) -> dict:
    script = "import json, sys\n" + textwrap.dedent(code)
    completed = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{completed.stderr[-3000:]}")
    line = next(li for li in completed.stdout.splitlines() if li.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def bench(project: Path, days: int) -> dict:
    # This checkout's code, also when the venv's editable install points at another one.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SME_PLATFORM_DIR", None)
    run_child(WRITE_MAPPING, str(REPO), str(project), env=env)
    generate = run_timed(
        "generate --catalog long-tail",
        [CLI, "generate", "--catalog", "long-tail", "--days", str(days), "--project-dir",
         str(project)],
        env,
    )  # fmt: skip
    whole_graph = run_timed("run (whole graph)", [CLI, "run", "--project-dir", str(project)], env)
    rows = run_child(COUNT_ROWS, str(project / "data" / "warehouse.duckdb"), env=env)
    steps = run_child(STEP_TIMES, str(project), str(SLOWEST_STEPS), env=env)
    return {"days": days, "phases": [generate, whole_graph], "rows": rows, "run": steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--keep", action="store_true", help="keep the project folder")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    project = Path(tempfile.mkdtemp(prefix="long_tail_project_", dir=args.workdir))
    try:
        result = bench(project, args.days)
    finally:
        if not args.keep:
            shutil.rmtree(project)
    print(f"\nlong-tail catalogue, {args.days} days, project {project}")
    print(f"{'phase':30} {'seconds':>8} {'peak MiB':>9}")
    for phase in result["phases"]:
        print(f"{phase['phase']:30} {phase['seconds']:>8.1f} {phase['peak_mib']:>9,}")
    print(f"\n{'table':30} {'rows':>12}")
    for name, count in result["rows"].items():
        print(f"{name:30} {count:>12,}")
    print(f"\nrun {result['run']['status']}; slowest steps:")
    for seconds, step in result["run"]["steps"]:
        print(f"  {step:50} {seconds:>7.1f} s")
    save_results("long_tail", result)


def save_results(benchmark: str, result: dict) -> Path:
    """benchmarks/results/<benchmark>-<time>.json, for comparing runs later."""
    out = REPO / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"{benchmark}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return path


if __name__ == "__main__":
    main()
