"""The generator's entry point: master data first, then day by day, then prices and manifest."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from sme_platform.lib.demo_data.catalog import Catalog, build_catalog
from sme_platform.lib.demo_data.customers import Customers, build_customers, customer_numbers
from sme_platform.lib.demo_data.defects import (
    DefectLog,
    inject_customer_defects,
    inject_ticket_defects,
)
from sme_platform.lib.demo_data.drift import plan_drift
from sme_platform.lib.demo_data.layout import (
    CUSTOMERS_FILE,
    LOCATIONS_FILE,
    MANIFEST_FILE,
    PRICES_FILE,
    PRODUCTS_FILE,
    inventory_file,
    tickets_file,
)
from sme_platform.lib.demo_data.long_tail import ABSENT_SOURCES, LONG_TAIL_SCALE
from sme_platform.lib.demo_data.long_tail import CATALOG_NAME as LONG_TAIL
from sme_platform.lib.demo_data.randomness import rng_for
from sme_platform.lib.demo_data.sales_export import SalesExporter
from sme_platform.lib.demo_data.scales import SCALES
from sme_platform.lib.demo_data.simulation import DailySimulation
from sme_platform.lib.demo_data.writer import write_csv, write_jsonl, write_parquet

Progress = Callable[[str, int, int], None]
GENERATOR_VERSION = 1
MAX_DEFECT_RATE = 0.5
HOME = "home"  # the home-goods catalogue, sized by the scales
CATALOGS = (HOME, LONG_TAIL)
# Keys of the defect streams of customers and tickets (sales use their own, see sales_export).
_CUSTOMER_DEFECTS, _TICKET_DEFECTS = 2, 3


def generate_demo_data(
    out_dir: Path,
    *,
    scale: str | None = None,
    catalog: str = HOME,
    seed: int = 42,
    start_date: date = date(2024, 1, 1),
    days: int = 730,
    defect_rate: float = 0.0,
    drift_from: date | None = None,
    progress: Progress | None = None,
) -> dict:
    """Write the exports of the demo company "Northwind Living" into `out_dir`.

    `catalog` "home" (home goods, sized by `scale`: tiny, small (the default), medium, large) or
    "long-tail" (one size, see long_tail.py: ~30,000 SKUs, ~150 stores, ~1.5M sales lines over
    730 days, no inventory exports; `scale` must be left out).

    Deterministic: the same arguments give byte-identical files, and a run over more days gives
    identical daily sales and inventory files for the days both runs cover. Memory stays bounded:
    sales are simulated day by day and written after at most a month (or MAX_BUFFERED_LINES
    lines), tickets after each month. Existing files in `out_dir` are overwritten, never deleted.
    `progress(stage, done, total)` is called as stages advance. Returns the manifest, which is
    also written to `out_dir/_manifest.json`.
    """
    _check_arguments(scale, catalog, seed, days, defect_rate, start_date, drift_from)
    out_dir = Path(out_dir)
    long_tail = catalog == LONG_TAIL
    scale = LONG_TAIL if long_tail else scale or "small"
    spec = LONG_TAIL_SCALE if long_tail else SCALES[scale]
    report = progress or _no_progress
    log = DefectLog()

    report("master data", 0, 1)
    company = build_catalog(spec, seed, long_tail=long_tail)
    customers = build_customers(spec.customers_at_start, seed, days)
    files = _write_master_data(out_dir, company, customers, start_date, seed, defect_rate, log)
    report("master data", 1, 1)

    drift = plan_drift(seed, start_date, drift_from)
    absent_sources = ABSENT_SOURCES if long_tail else ()
    simulation = DailySimulation(
        company,
        customers,
        seed,
        start_date,
        days,
        drift,
        snapshots="inventory_snapshots" not in absent_sources,
    )
    sales = SalesExporter(
        out_dir,
        file_format=spec.sales_format,
        seed=seed,
        defect_rate=defect_rate,
        log=log,
        location_codes=pl.Series(company.locations.codes),
        item_codes=pl.Series(company.products.codes),
        customer_codes=customer_numbers(np.arange(len(customers))),
    )
    inventory_rows: dict[str, int] = {}
    ticket_rows: dict[str, int] = {}
    for day_index in range(days):
        day = start_date + timedelta(days=day_index)
        month_ends = (day + timedelta(days=1)).day == 1 or day_index == days - 1
        day_sales, snapshot = simulation.run_day(day_index, day)
        sales.add_day(day, day_sales.lines, last_of_batch=month_ends)
        if snapshot is not None:
            name = inventory_file(day)
            write_parquet(snapshot, out_dir / name)
            inventory_rows[name] = snapshot.num_rows
        # A month without tickets (possible only in very short tiny runs) gets no file: an empty
        # JSON-lines file would read as a broken export.
        if month_ends and simulation.desk.has_tickets:
            name = tickets_file(day)
            tickets = inject_ticket_defects(
                simulation.desk.take_month(),
                rate=defect_rate,
                file=name,
                log=log,
                rng=rng_for(seed, "defects", _TICKET_DEFECTS, day.year * 100 + day.month),
            )
            write_jsonl(tickets, out_dir / name)
            ticket_rows[name] = tickets.height
        report("daily exports", day_index + 1, days)

    price_changes = simulation.prices.change_frame(company.products.codes, start_date)
    write_csv(price_changes, out_dir / PRICES_FILE)
    files[PRICES_FILE] = price_changes.height
    row_counts = {
        "locations": files[LOCATIONS_FILE],
        "products": files[PRODUCTS_FILE],
        "customers": files[CUSTOMERS_FILE],
        "price_changes": files[PRICES_FILE],
        "sales": sum(sales.rows_per_file.values()),
        "inventory": sum(inventory_rows.values()),
        "tickets": sum(ticket_rows.values()),
    }
    # The keys of the long-tail catalogue only where it is used: the home catalogue's manifest
    # stays byte-identical to what earlier versions wrote.
    catalog_entry = {"catalog": catalog} if long_tail else {}
    manifest = {
        "generator": "sme_platform.lib.demo_data",
        "generator_version": GENERATOR_VERSION,
        "company": "Northwind Living",
        "seed": seed,
        "scale": scale,
        **catalog_entry,
        "arguments": {
            "scale": scale,
            **catalog_entry,
            "seed": seed,
            "start_date": start_date.isoformat(),
            "days": days,
            "defect_rate": defect_rate,
            "drift_from": drift_from.isoformat() if drift_from else None,
        },
        "period": {
            "first_day": start_date.isoformat(),
            "last_day": (start_date + timedelta(days=days - 1)).isoformat(),
        },
        "scale_spec": asdict(spec),
        **({"absent_sources": list(absent_sources)} if absent_sources else {}),
        "row_counts": row_counts,
        "files": {**files, **sales.rows_per_file, **inventory_rows, **ticket_rows},
        "sales_files": sales.rows_per_file,
        "demand_model": simulation.model_summary(start_date, days),
        "drift": drift.manifest_entry() if drift else None,
        "defect_rate": defect_rate,
        "defect_counts": dict(sorted(log.counts.items())),
        "defects": sorted(log.records, key=lambda r: (r["file"], r["row"])),
    }
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    report("manifest", 1, 1)
    return manifest


def _write_master_data(
    out_dir: Path,
    catalog: Catalog,
    customers: Customers,
    start_date: date,
    seed: int,
    defect_rate: float,
    log: DefectLog,
) -> dict[str, int]:
    """Locations, products and customers; returns the rows written per file."""
    locations = catalog.locations.frame(start_date)
    write_csv(locations, out_dir / LOCATIONS_FILE)
    products = catalog.products.frame(start_date)
    write_csv(products, out_dir / PRODUCTS_FILE, separator=";")
    customer_frame = inject_customer_defects(
        customers.frame(start_date),
        customers.dormant,
        rate=defect_rate,
        file=CUSTOMERS_FILE,
        log=log,
        rng=rng_for(seed, "defects", _CUSTOMER_DEFECTS),
    )
    write_jsonl(customer_frame, out_dir / CUSTOMERS_FILE)
    return {
        LOCATIONS_FILE: locations.height,
        PRODUCTS_FILE: products.height,
        CUSTOMERS_FILE: customer_frame.height,
    }


def _check_arguments(scale, catalog, seed, days, defect_rate, start_date, drift_from) -> None:
    if catalog not in CATALOGS:
        raise ValueError(f"unknown catalog {catalog!r}; choose one of {list(CATALOGS)}")
    if catalog == LONG_TAIL and scale is not None:
        raise ValueError(
            f"the {LONG_TAIL} catalogue has one size (~30,000 SKUs, ~150 stores, ~1.5M sales "
            f"lines over 730 days; fewer days give fewer lines): leave out scale (got {scale!r})"
        )
    if scale is not None and scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {sorted(SCALES)}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a positive integer, got {days!r}")
    if not 0.0 <= defect_rate <= MAX_DEFECT_RATE:
        raise ValueError(f"defect_rate must be between 0 and {MAX_DEFECT_RATE}, got {defect_rate}")
    if drift_from is not None and drift_from < start_date:
        raise ValueError(f"drift_from {drift_from} is before start_date {start_date}")


def _no_progress(stage: str, done: int, total: int) -> None:
    """Default progress callback: report nothing."""
