"""Time to erase: one customer's right to erasure on a project of real size.

    .venv/bin/python benchmarks/erasure.py [--project-dir DIR]

The project defaults to the medium nightly benchmark's (benchmarks/nightly.py --scale medium
leaves it in /tmp/sme_platform_bench/medium/nightly_project). It is changed: the customer with
the most sales lines who has an email is erased, with `sme-platform erase customer` in a fresh
process. Printed: the command's wall seconds, the run's phases (tables and files, analyst
database, warehouse rewrite, trace check, from the asset's metadata), what was changed, the
warehouse's size before and after, and whether the trace check found anything.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from ingest import save_results  # noqa: E402

CLI = REPO / ".venv" / "bin" / "sme-platform"
DEFAULT_PROJECT = Path("/tmp/sme_platform_bench/medium/nightly_project")
BUSIEST_CUSTOMER = """
    select s.customer_id, count(*) as lines
    from raw_store.sales_lines s join raw_store.customers c using (customer_id)
    where c.email is not null group by all order by lines desc limit 1"""


def phases(project: Path) -> dict:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(project / ".dagster_home")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["governance", "erasures"]))
        metadata = event.asset_materialization.metadata
        return {name: metadata[name].value for name in ("seconds", "summary")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project-dir", type=Path, default=DEFAULT_PROJECT)
    args = parser.parse_args()
    warehouse = args.project_dir / "data" / "warehouse.duckdb"
    if not warehouse.exists():
        sys.exit(
            f"{args.project_dir}: no warehouse (run benchmarks/nightly.py --scale medium first)"
        )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        customer_id, lines = con.execute(BUSIEST_CUSTOMER).fetchone()
        rows = con.execute("select count(*) from raw_store.sales_lines").fetchone()[0]
    size_before = warehouse.stat().st_size
    command = [
        str(CLI), "erase", "customer", customer_id, "--by", "Benchmark",
        "--reason", "benchmarks/erasure.py", "--project-dir", str(args.project_dir),
    ]  # fmt: skip
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(completed.stdout[-3000:] + completed.stderr[-3000:])
    measured = phases(args.project_dir)
    print(f"erasure of the busiest customer ({lines:,} of {rows:,} sales lines):")
    print(f"  command wall {wall:.1f} s; phases {measured['seconds']}")
    print(f"  {measured['summary']}")
    size_after = warehouse.stat().st_size
    print(f"  warehouse {size_before / 2**20:,.0f} MiB before, {size_after / 2**20:,.0f} after")
    print("  " + completed.stdout.strip().splitlines()[-1])
    result = {"wall_seconds": wall, "sales_lines": rows, "customer_lines": lines, **measured}
    print(f"saved {save_results('erasure', [result])}")


if __name__ == "__main__":
    main()
