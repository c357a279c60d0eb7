"""The retention purge of ml.forecast_log at the long-tail shape's volume.

    .venv/bin/python benchmarks/forecast_log_purge.py [--nights 40] [--rows-per-night 840000]

A forecast log of `--nights` nightly scorings of `--rows-per-night` rows each (the long-tail
demo publishes about 840,000: every active series x 14 days), one version every 10 nights, is
written to a scratch warehouse; then the purge removes every scoring older than the newest 13,
except each version's first (lib/retention.purge_forecast_log). Printed: rows, the file's size,
the seconds to build and to purge, the rows removed and left, and the process's peak memory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from ingest import print_and_save  # noqa: E402

from sme_platform.lib.retention import purge_forecast_log  # noqa: E402
from sme_platform.lib.warehouse import connect  # noqa: E402

FIRST_NIGHT = datetime(2025, 1, 1, 2, 0)
KEPT_NIGHTS = 13


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=40)
    parser.add_argument("--rows-per-night", type=int, default=840_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="forecast_log_purge_") as scratch:
        database = Path(scratch) / "warehouse.duckdb"
        with connect(database) as con:
            started = time.perf_counter()
            con.execute("create schema ml")
            con.execute(
                f"""create table ml.forecast_log as
                select 'SKU-' || (i % 60000) as sku, 'L' || (i % 150) as location_id,
                       date '2025-01-01' + night as origin_date,
                       date '2025-01-01' + night + (i % 14) as date, (i % 14) + 1 as horizon,
                       random() as prediction, 0.0 as interval_low, 2.0 as interval_high,
                       'demand_forecast' as model_name, 'v' || (1 + night // 10) as model_version,
                       'champion' as role, 'fs' as feature_set_version, 'run' || night as run_id,
                       timestamp '{FIRST_NIGHT}' + to_days(night) as scored_at,
                       false as canary_series
                from (select range::int as night from range({args.nights})),
                     (select range::int as i from range({args.rows_per_night}))"""
            )
            con.execute("checkpoint")
            built = time.perf_counter() - started
            rows = con.execute("select count(*) from ml.forecast_log").fetchone()[0]
            size = database.stat().st_size
            before = FIRST_NIGHT + timedelta(days=args.nights - KEPT_NIGHTS)
            started = time.perf_counter()
            purge = purge_forecast_log(con, before, "benchmark")
            purged = time.perf_counter() - started
            left = con.execute("select count(*) from ml.forecast_log").fetchone()[0]
    figures = {
        "rows": rows,
        "file_mib": round(size / 2**20, 1),
        "bytes_per_row": round(size / rows, 1),
        "build_seconds": round(built, 1),
        "purge_seconds": round(purged, 2),
        "removed": purge.removed,
        "scorings_removed": purge.detail.get("scorings", 0),
        "left": left,
    }
    print_and_save("forecast_log_purge", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
