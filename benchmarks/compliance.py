"""Time to report: the compliance report of a project's whole history, on demand.

    .venv/bin/python benchmarks/compliance.py [--project-dir DIR] [--repeat 3]

The project defaults to the medium nightly benchmark's (benchmarks/nightly.py --scale medium
leaves it in /tmp/sme_platform_bench/medium/nightly_project, five nights of history). For each
repeat, `sme-platform report compliance` in a fresh process over every day of the history:
the command's wall seconds (process start, the run, the summary) and the report's own seconds
(the asset's metadata: figures, page, rows). Target: under 30 s at medium scale.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from ingest import save_results  # noqa: E402

CLI = REPO / ".venv" / "bin" / "sme-platform"
DEFAULT_PROJECT = Path("/tmp/sme_platform_bench/medium/nightly_project")
TARGET_SECONDS = 30.0


def report_seconds(project: Path) -> float:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(project / ".dagster_home")) as instance:
        event = instance.get_latest_materialization_event(
            dg.AssetKey(["reports", "compliance_report"])
        )
        return float(event.asset_materialization.metadata["seconds"].value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project-dir", type=Path, default=DEFAULT_PROJECT)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not (args.project_dir / "data" / "warehouse.duckdb").exists():
        sys.exit(
            f"{args.project_dir}: no warehouse (run benchmarks/nightly.py --scale medium first)"
        )
    command = [
        str(CLI),
        "report",
        "compliance",
        "--from",
        "2000-01-01",
        "--to",
        "2099-12-31",
        "--project-dir",
        str(args.project_dir),
    ]
    walls, own = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        walls.append(time.perf_counter() - started)
        if completed.returncode not in (0, 1):
            sys.exit(completed.stdout[-2000:] + completed.stderr[-2000:])
        own.append(report_seconds(args.project_dir))
    wall, report = statistics.median(walls), statistics.median(own)
    verdict = "PASS" if wall < TARGET_SECONDS else "MISS"
    print(f"compliance report of {args.project_dir} (median of {args.repeat}):")
    print(f"  command wall {wall:.1f} s ({min(walls):.1f}-{max(walls):.1f}); report {report:.2f} s")
    print(f"  {verdict}: under {TARGET_SECONDS:g} s")
    print(f"saved {save_results('compliance', [{'wall_seconds': walls, 'report_seconds': own}])}")


if __name__ == "__main__":
    main()
