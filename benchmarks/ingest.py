"""Generation and ingestion speed and memory, against a bare typed DuckDB load of the same files.

    .venv/bin/python benchmarks/ingest.py --scale small [--scale medium] [--repeat N] [--workdir D]

For each scale: generate the demo company (clean, no defects), then load its sales lines
- bare: one `create table ... as select * from read_csv(files, typed columns)`, nothing else;
- contract: the platform's ingestion (mapping, types, every contract rule, primary and foreign
  keys, quarantine, lineage columns, load log);
from the CSV exports, and again from the same lines as daily Parquet files. Each phase runs in a
fresh process, so its peak memory (max RSS, DuckDB included) is its own. Machines here are noisy:
compare the ratios, which hold, more than the absolute times, which do not. With --repeat N the
bare and contract loads alternate N times; the table gives the median time of each (the ratio is
of the medians), the range of the times, and the largest peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BARE_CSV_COLUMNS = {
    "order_no": "VARCHAR",
    "line_no": "BIGINT",
    "order_datetime": "TIMESTAMP",
    "store_code": "VARCHAR",
    "customer_no": "VARCHAR",
    "item_code": "VARCHAR",
    "qty": "BIGINT",
    "unit_price": "DECIMAL(18,4)",
    "discount_pct": "DOUBLE",
    "promo_code": "VARCHAR",
    "doc_type": "VARCHAR",
}

CHILD_PRELUDE = """
import json, resource, sys, time
from pathlib import Path
def report(**values):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps({**values, "peak_mib": round(peak)}))
"""

GENERATE = """
from sme_platform.lib.demo_data import generate_demo_data
started = time.perf_counter()
manifest = generate_demo_data(Path(sys.argv[1]), scale=sys.argv[2], defect_rate=0.0)
report(seconds=time.perf_counter() - started, rows=manifest["row_counts"]["sales"])
"""

BARE = """
import duckdb
pattern, fmt, columns, database = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
con = duckdb.connect(database)
con.execute("set enable_progress_bar = false")
started = time.perf_counter()
if fmt == "csv":
    con.execute("create table sales as select * from read_csv(?, header = true, columns = ?)",
                [pattern, columns])
else:
    con.execute("create table sales as select * from read_parquet(?)", [pattern])
con.close()
rows = duckdb.connect(database, read_only=True).execute("select count(*) from sales").fetchone()[0]
report(seconds=time.perf_counter() - started, rows=rows)
"""

CONTRACT = """
from sme_platform.lib.ingestion import ingest_table
from sme_platform.lib.sources import load_sources
from sme_platform.lib.warehouse import connect
project, database = Path(sys.argv[1]), sys.argv[2]
sources = load_sources(project)
with connect(database) as con:
    for parent in ("locations", "products", "customers"):
        ingest_table(con, sources.get(parent))
    started = time.perf_counter()
    result = ingest_table(con, sources.get("sales_lines"))
    seconds = time.perf_counter() - started
assert result.rows_read == result.rows_loaded + result.rows_quarantined
report(seconds=seconds, rows=result.rows_read, loaded=result.rows_loaded,
       quarantined=result.rows_quarantined)
"""

TO_PARQUET = """
import duckdb
source, target = Path(sys.argv[1]), Path(sys.argv[2])
target.mkdir(parents=True, exist_ok=True)
con = duckdb.connect()
con.execute("set enable_progress_bar = false")
for path in sorted(source.glob("sales_*.csv")):
    con.execute(
        f"copy (select * from read_csv(?, header = true, all_varchar = true)) "
        f"to '{target / path.with_suffix('.parquet').name}' (format parquet)", [str(path)])
report(seconds=0, rows=0)
"""


def run_child(code: str, *args, env: dict | None = None) -> dict:
    """One phase in a fresh process (this environment, or `env`): its figures and its own peak
    memory (max RSS, MiB), reported by CHILD_PRELUDE's report()."""
    script = CHILD_PRELUDE + textwrap.dedent(code)
    completed = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark phase failed:\n{completed.stderr[-4000:]}")
    line = next(li for li in completed.stdout.splitlines() if li.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def project_for(exports: Path, project: Path, pattern: str) -> Path:
    """A project folder whose sources.yaml is the demo mapping with the sales glob swapped."""
    project.mkdir(parents=True, exist_ok=True)
    mapping = (REPO / "sources.yaml").read_text(encoding="utf-8")
    mapping = mapping.replace("root: data/demo/exports", f"root: {exports}")
    mapping = mapping.replace("path: erp/sales/sales_*.*", f"path: {pattern}")
    (project / "sources.yaml").write_text(mapping, encoding="utf-8")
    return project


def summarize(runs: list[dict]) -> dict:
    """One phase over its runs: the median time, the range, the largest peak memory."""
    times = sorted(run["seconds"] for run in runs)
    return {
        **runs[0],
        "seconds": statistics.median(times),
        "seconds_range": [times[0], times[-1]],
        "runs": len(runs),
        "peak_mib": max(run["peak_mib"] for run in runs),
    }


def bench_scale(scale: str, workdir: Path, repeat: int = 1) -> list[dict]:
    exports = workdir / scale / "exports"
    rows: list[dict] = []
    if (exports / "_manifest.json").exists():
        print(f"[{scale}] reusing generated exports in {exports}")
    else:
        generated = run_child(GENERATE, exports, scale)
        rows.append({"scale": scale, "phase": "generate demo data", **generated})
    sales_dir = exports / "erp" / "sales"
    parquet_dir = workdir / scale / "sales_parquet"
    if not parquet_dir.exists():
        run_child(TO_PARQUET, sales_dir, parquet_dir)
    csv_bytes = sum(p.stat().st_size for p in sales_dir.glob("sales_*.csv"))
    for fmt, pattern in (
        ("csv", str(sales_dir / "sales_*.csv")),
        ("parquet", str(parquet_dir / "sales_*.parquet")),
    ):
        project = project_for(exports, workdir / scale / f"project_{fmt}", pattern)
        bare_runs, contract_runs = [], []
        for _ in range(repeat):
            database = workdir / scale / f"bare_{fmt}.duckdb"
            database.unlink(missing_ok=True)
            bare_runs.append(run_child(BARE, pattern, fmt, json.dumps(BARE_CSV_COLUMNS), database))
            warehouse = workdir / scale / f"contract_{fmt}.duckdb"
            warehouse.unlink(missing_ok=True)
            contract_runs.append(run_child(CONTRACT, project, warehouse))
        bare, contract = summarize(bare_runs), summarize(contract_runs)
        ratio = (contract["rows"] / contract["seconds"]) / (bare["rows"] / bare["seconds"])
        rows.append({"scale": scale, "phase": f"bare typed load ({fmt})", **bare})
        rows.append(
            {
                "scale": scale,
                "phase": f"contract ingest ({fmt})",
                **contract,
                "ratio_to_bare": round(ratio, 2),
            }
        )
    rows[-1]["csv_mib"] = round(csv_bytes / 2**20)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", action="append", choices=["tiny", "small", "medium", "large"])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sme_platform_bench"))
    parser.add_argument("--repeat", type=int, default=1, help="runs of each load (median kept)")
    args = parser.parse_args()
    results = []
    for scale in args.scale or ["small"]:
        results.extend(bench_scale(scale, args.workdir, args.repeat))
    print(
        f"\n{'scale':8} {'phase':26} {'rows':>12} {'seconds':>8} {'range':>11} {'rows/s':>12} "
        f"{'peak MiB':>9} {'vs bare':>8}"
    )
    for row in results:
        rate = row["rows"] / row["seconds"] if row["seconds"] else 0
        low, high = row.get("seconds_range", [row["seconds"]] * 2)
        print(
            f"{row['scale']:8} {row['phase']:26} {row['rows']:>12,} {row['seconds']:>8.1f} "
            f"{f'{low:.1f}-{high:.1f}':>11} {rate:>12,.0f} {row['peak_mib']:>9,} "
            f"{row.get('ratio_to_bare', ''):>8}"
        )
    save_results("ingest", results)


def print_and_save(benchmark: str, figures: dict) -> Path:
    """One run's figures with the process's peak memory, a line each, then saved
    (save_results)."""
    figures = {**figures, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}
    width = max(map(len, figures))
    for key, value in figures.items():
        shown = f"{value:,}" if isinstance(value, int) else value
        print(f"{key:{width}} {shown}")
    path = save_results(benchmark, [figures])
    print("written:", path)
    return path


def save_results(benchmark: str, results: list[dict]) -> Path:
    """benchmarks/results/<benchmark>-<time>.json, for comparing runs later."""
    out = REPO / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"{benchmark}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return path


if __name__ == "__main__":
    main()
