"""What pricing the live ROI's peers costs on a real-sized catalogue, per night.

    .venv/bin/python benchmarks/live_roi_peers.py --project-dir DIR [--origins 8]

On a built project (e.g. `sme-platform demo --catalog long-tail --project-dir DIR`), every
series that sold in the last 56 days is priced as the live ROI prices a served version's orders
(lib/monitoring/live_roi._peer_frames: ADIDA and CrostonOptimized fitted at each origin on the
PEER_HISTORY_DAYS before it, in chunks of series) at `--origins` weekly origins ending an order
cycle before the newest sale. Printed: series, origins, peer forecast rows, seconds, peak memory.
This is what a night costs for every origin whose money is not kept (lib/monitoring/
live_roi_cache): all of them before the cache, the new or changed ones since.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from ingest import print_and_save  # noqa: E402

from sme_platform.lib.monitoring.live_roi import PEERS, _peer_frames  # noqa: E402
from sme_platform.lib.training.business import BusinessAssumptions  # noqa: E402
from sme_platform.lib.warehouse import connect  # noqa: E402

ACTIVE_DAYS = 56


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", type=Path, required=True)
    parser.add_argument("--origins", type=int, default=8)
    args = parser.parse_args(argv)
    days = BusinessAssumptions().order_cycle_days
    with connect(args.project_dir / "data" / "warehouse.duckdb", read_only=True) as con:
        newest = con.execute("select max(order_date) from staging.sales_lines").fetchone()[0]
        series = con.execute(
            f"""select distinct sku, location_id from staging.sales_lines
                where order_date > date '{newest}' - {ACTIVE_DAYS}"""
        ).pl()
        last = newest - timedelta(days=days)
        origins = [last - timedelta(days=7 * k) for k in range(args.origins)][::-1]
        rows = pl.concat(
            series.with_columns(
                origin_date=pl.lit(origin),
                category=pl.lit("unknown"),
                unit_price=pl.lit(10.0),
                unit_cost=pl.lit(6.0),
            )
            for origin in origins
        )
        started = time.perf_counter()
        frames = _peer_frames(con, rows, PEERS, days, origins[0], newest)
        seconds = time.perf_counter() - started
    figures = {
        "project": str(args.project_dir),
        "series": series.height,
        "origins": len(origins),
        "peer_rows": sum(frame.height for frame in frames),
        "seconds": round(seconds, 1),
    }
    print_and_save("live_roi_peers", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
