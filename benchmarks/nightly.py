"""What a night costs: the whole graph over four nights, the last one checked against a rebuild.

    .venv/bin/python benchmarks/nightly.py --scale small [--scale medium] [--workdir DIR]

For each scale: a new project folder as `sme-platform demo` writes one (the demo company's
sources.yaml and forecasting.yaml) with the demo company's clean exports (generated once per
workdir, shared with the other benchmarks, hard-linked in). The last day's sales and stock files
are held back (plan_late_deliveries, as the demo's stories do) and the daily sales files of that
day's month before it are merged into one month-to-date file, sales_<YYYY-MM>-mtd.<csv|parquet>
(same columns and format). Then `sme-platform run --project-dir P`, each night a fresh process:
1. full build: from an empty warehouse;
2. nothing new;
3. one new day: the held-back day's sales and stock files arrive;
4. month-to-date replaced: that file is sent again, the quantity of ~1 % of its lines corrected
   (seeded), over the same days;
5. check: `--full-refresh` on night 4's files, on the project itself after night 4's warehouse
   was copied aside; every table of staging, marts and reports must equal night 4's row for
   row (`except all` both ways, row counts), else the exit status is 1, naming the table. Sums
   of doubles differ in their last digits between any two builds (DuckDB adds in parallel, in
   no fixed order): a table whose rows differ only there passes if its other columns name its
   rows and its doubles agree within 1e-9, relative; the table says how many rows did.
For each night: the CLI process's wall seconds, the step time (the sum of the run's step
durations in the project's Dagster instance), the slowest steps and the SQL models' "build"
metadata (full, incremental over which days, up to date). Targets: nothing new under 10 s of
step time; one new day at most 15 % of the full build's step time. Machines here are noisy:
compare the ratios more than the seconds. The platform's build code is part of every SQL
model's fingerprint: code edited between two nights makes the second a full build.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

# The child-process harness and the generated exports the benchmarks share.
from ingest import GENERATE, run_child, save_results  # noqa: E402

from sme_platform.lib.config.schema import with_schema_modeline  # noqa: E402
from sme_platform.lib.demo_data.late_deliveries import (  # noqa: E402
    Delivery,
    deliver,
    hold_back,
    plan_late_deliveries,
)
from sme_platform.lib.demo_data.layout import sales_file  # noqa: E402
from sme_platform.lib.demo_data.mapping import demo_mapping  # noqa: E402
from sme_platform.lib.demo_data.writer import write_csv, write_parquet  # noqa: E402
from sme_platform.lib.project import ProjectPaths  # noqa: E402

CLI = REPO / ".venv" / "bin" / "sme-platform"
SCHEMAS = ("staging", "marts", "reports")
SEED = 20261202
CORRECTED_SHARE = 0.01
NOTHING_NEW_MAX_SECONDS = 10.0
ONE_DAY_MAX_SHARE = 0.15
SLOWEST = 8
TOLERANCE = 1e-9


def set_up(scale: str, workdir: Path) -> tuple[ProjectPaths, Delivery, Path, str]:
    exports = workdir / scale / "exports"
    if not (exports / "_manifest.json").exists():
        run_child(GENERATE, exports, scale)
    paths = ProjectPaths.at(workdir / scale / "nightly_project")
    shutil.rmtree(paths.root, ignore_errors=True)
    paths.root.mkdir(parents=True)
    mapping = demo_mapping("home", (REPO / "sources.yaml").read_text(encoding="utf-8"))
    paths.sources_file.write_text(
        with_schema_modeline(mapping, paths.sources_file), encoding="utf-8"
    )
    shutil.copy(REPO / "forecasting.yaml", paths.root / "forecasting.yaml")
    # Links, not copies: every file is replaced (written aside, renamed) or moved, never edited.
    shutil.copytree(exports, paths.demo_exports, copy_function=os.link)
    (delivery,) = plan_late_deliveries(paths.demo_exports, late_days=1, count=1)
    hold_back(paths.demo_exports, paths.demo_held_back, [delivery])
    fmt = delivery.files[0].rsplit(".", 1)[1]
    last = delivery.first_day - timedelta(days=1)
    days = [last.replace(day=day) for day in range(1, last.day + 1)]
    daily = [paths.demo_exports / sales_file(d, fmt) for d in days]
    daily = [path for path in daily if path.is_file()]
    month_to_date = paths.demo_exports / "erp" / "sales" / f"sales_{last:%Y-%m}-mtd.{fmt}"
    merged = pl.concat([read_sales(path, fmt) for path in daily], how="vertical_relaxed")
    write_sales(merged, month_to_date, fmt)
    for path in daily:
        path.unlink()
    print(
        f"[{scale}] {paths.root}: held back {', '.join(delivery.files)}; "
        f"{len(daily)} daily sales files merged into {month_to_date.name}"
    )
    return paths, delivery, month_to_date, fmt


def read_sales(path: Path, fmt: str) -> pl.DataFrame:
    # CSV as text: what is written back is what was read, but for the corrected quantities.
    return pl.read_csv(path, infer_schema=False) if fmt == "csv" else pl.read_parquet(path)


def write_sales(frame: pl.DataFrame, path: Path, fmt: str) -> None:
    (write_csv if fmt == "csv" else write_parquet)(frame, path)


def correct_quantities(path: Path, fmt: str) -> int:
    """Send the file again with one more unit (sign kept) on ~1 % of its lines; how many."""
    frame = read_sales(path, fmt)
    chosen = np.random.default_rng(SEED).random(frame.height) < CORRECTED_SHARE
    qty = pl.col("qty").cast(pl.Int64)
    corrected = pl.when(pl.Series(chosen)).then(pl.when(qty < 0).then(qty - 1).otherwise(qty + 1))
    frame = frame.with_columns(corrected.otherwise(qty).cast(frame.schema["qty"]).alias("qty"))
    write_sales(frame, path, fmt)
    return int(chosen.sum())


def night(paths: ProjectPaths, label: str, *options: str) -> dict:
    """One `sme-platform run` in a fresh process; its wall time and its run's step times."""
    log = paths.root / f"night-{label.replace(' ', '-')}.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "SME_PLATFORM_DIR")}
    print(f"  {label} ...", flush=True)
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        command = [str(CLI), "run", "--project-dir", str(paths.root), *options]
        code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env).returncode
    wall = time.perf_counter() - started
    if code != 0:
        sys.exit(f"{label}: sme-platform run exited {code}; see {log}")
    return {"night": label, "wall_seconds": round(wall, 1), **run_stats(paths.dagster_home)}


def run_stats(dagster_home: Path) -> dict:
    """The newest run's steps: seconds each, their sum, and the SQL models' build lines."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        run = instance.get_runs(limit=1)[0]
        stats = instance.get_run_step_stats(run.run_id)
        records = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
    steps = {
        s.step_key: round(s.end_time - s.start_time, 2)
        for s in stats
        if s.start_time and s.end_time
    }
    builds = {}
    for record in records:
        metadata = record.event_log_entry.asset_materialization.metadata
        line = metadata.get("build") or metadata.get("up_to_date")
        if line is not None:
            builds[record.event_log_entry.step_key] = str(line.value)
    return {
        "run_id": run.run_id,
        "status": run.status.value,
        "step_seconds": round(sum(steps.values()), 1),
        "steps": dict(sorted(steps.items(), key=lambda item: -item[1])),
        "builds": builds,
    }


def compare(rebuilt: Path, incremental: Path) -> list[dict]:
    """Each table of SCHEMAS in both warehouses: row counts, rows missing either way (`except
    all`) and, if they differ, whether only their doubles do, within TOLERANCE (a double sum's
    last digits follow DuckDB's parallel order of addition: two full builds differ there too)."""
    con = duckdb.connect(str(rebuilt), read_only=True)
    con.execute("set enable_progress_bar = false")
    con.execute(f"attach '{incremental}' as nightly (read_only)")
    rebuilt_db = con.execute("select current_database()").fetchone()[0]

    def count(sql: str) -> int:
        return con.execute(f"select count(*) from ({sql})").fetchone()[0]

    def tables(catalog: str) -> set[str]:
        rows = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_catalog = ? and table_type = 'BASE TABLE' and table_schema in ?",
            [catalog, list(SCHEMAS)],
        ).fetchall()
        return {row[0] for row in rows}

    def doubles_within_tolerance(ours: str, theirs: str, schema: str, name: str) -> bool:
        """The other columns name a row (unique on both sides, the same names both ways) and
        its doubles agree within TOLERANCE, relative (absolute below 1)."""
        columns = con.execute(
            "select column_name, data_type from information_schema.columns where "
            "table_catalog = 'nightly' and table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()
        floats = [f'"{c}"' for c, kind in columns if kind in ("DOUBLE", "FLOAT")]
        keys = ", ".join(f'"{c}"' for c, kind in columns if kind not in ("DOUBLE", "FLOAT"))
        if not floats or not keys:
            return False
        for side in (ours, theirs):
            if count(f"select distinct {keys} from {side}") != count(f"select * from {side}"):
                return False
        for a, b in ((ours, theirs), (theirs, ours)):
            if count(f"select {keys} from {a} except all select {keys} from {b}"):
                return False
        on = " and ".join(f"a.{k} is not distinct from b.{k}" for k in keys.split(", "))
        far = " or ".join(
            f"not (a.{c} is not distinct from b.{c} or abs(a.{c} - b.{c}) <= "
            f"{TOLERANCE} * greatest(abs(a.{c}), abs(b.{c}), 1))"
            for c in floats
        )
        return count(f"select 1 from {ours} a join {theirs} b on {on} where {far}") == 0

    found, expected = tables("nightly"), tables(rebuilt_db)
    rows = [{"table": t, "equal": False, "why": "only after night 4"} for t in found - expected]
    rows += [{"table": t, "equal": False, "why": "only in the rebuild"} for t in expected - found]
    for table in sorted(found & expected):
        schema, name = table.split(".")
        ours, theirs = f'nightly."{schema}"."{name}"', f'"{rebuilt_db}"."{schema}"."{name}"'
        result = {
            "table": table,
            "rows_night4": count(f"select * from {ours}"),
            "rows_rebuild": count(f"select * from {theirs}"),
            "only_night4": count(f"select * from {ours} except all select * from {theirs}"),
            "only_rebuild": count(f"select * from {theirs} except all select * from {ours}"),
        }
        result["identical"] = (
            result["rows_night4"] == result["rows_rebuild"]
            and result["only_night4"] == result["only_rebuild"] == 0
        )
        result["equal"] = result["identical"] or doubles_within_tolerance(
            ours, theirs, schema, name
        )
        rows.append(result)
    con.close()
    return rows


def bench_scale(scale: str, workdir: Path) -> tuple[list[dict], dict]:
    paths, delivery, month_to_date, fmt = set_up(scale, workdir)
    nights = [night(paths, "full build"), night(paths, "nothing new")]
    deliver(paths.demo_exports, paths.demo_held_back, delivery)
    nights.append(night(paths, "one new day"))
    corrected = correct_quantities(month_to_date, fmt)
    nights.append(night(paths, "month-to-date replaced"))
    nights[-1]["corrected_lines"] = corrected
    night4 = workdir / scale / "night4.duckdb"
    shutil.copy(paths.warehouse, night4)
    nights.append(night(paths, "full refresh", "--full-refresh"))
    tables = compare(paths.warehouse, night4)
    full = nights[0]["step_seconds"]
    for row in nights:
        row["scale"] = scale
        row["of_full_build"] = round(row["step_seconds"] / full, 3) if full else None
    nights[1]["target"] = f"step time < {NOTHING_NEW_MAX_SECONDS:g} s"
    nights[1]["passed"] = nights[1]["step_seconds"] < NOTHING_NEW_MAX_SECONDS
    nights[2]["target"] = f"<= {ONE_DAY_MAX_SHARE:.0%} of the full build"
    nights[2]["passed"] = nights[2]["of_full_build"] <= ONE_DAY_MAX_SHARE
    check = {"scale": scale, "night": "equal to a full rebuild", "tables": tables}
    check["passed"] = all(t["equal"] for t in tables)
    return nights, check


def print_scale(nights: list[dict], check: dict) -> None:
    print(
        f"\n{nights[0]['scale']}: {'night':24} {'wall s':>7} {'step s':>7} {'of full':>8}  target"
    )
    for row in nights:
        verdict = ""
        if "target" in row:
            verdict = f"{'PASS' if row['passed'] else 'MISS'}  {row['target']}"
        print(
            f"{'':{len(row['scale'])}}  {row['night']:24} {row['wall_seconds']:>7.1f} "
            f"{row['step_seconds']:>7.1f} {row['of_full_build']:>8.1%}  {verdict}"
        )
    differing = [t["table"] for t in check["tables"] if not t["equal"]]
    noisy = [
        f"{t['table']} ({t['only_night4']} rows)"
        for t in check["tables"]
        if t["equal"] and not t["identical"]
    ]
    print(
        f"night 4 equal to --full-refresh, {len(check['tables'])} tables of {', '.join(SCHEMAS)}: "
        + ("PASS" if check["passed"] else f"MISS, differing: {', '.join(differing)}")
        + (f"; doubles equal within {TOLERANCE:g} only: {', '.join(noisy)}" if noisy else "")
    )
    for row in nights:
        print(f"\n  {row['night']}: the {SLOWEST} slowest of {len(row['steps'])} steps")
        for step, seconds in list(row["steps"].items())[:SLOWEST]:
            build = row["builds"].get(step, "")
            print(f"    {seconds:>7.1f} s  {step:40} {build}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", action="append", choices=["tiny", "small", "medium"])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sme_platform_bench"))
    args = parser.parse_args()
    results, failed = [], []
    for scale in args.scale or ["small"]:
        nights, check = bench_scale(scale, args.workdir)
        print_scale(nights, check)
        results += [*nights, check]
        failed += [f"{scale} {t['table']}" for t in check["tables"] if not t["equal"]]
    print(f"\nsaved {save_results('nightly', results)}")
    if failed:
        sys.exit(f"night 4 differs from a full rebuild in: {', '.join(failed)}")


if __name__ == "__main__":
    main()
