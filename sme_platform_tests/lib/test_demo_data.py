"""The demo-data generator: determinism, file layout, clean-data invariants, the demand model's
designed effects and the defects it reports."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from sme_platform.lib.demo_data import SALES_DEFECT_KINDS, SCALES, generate_demo_data
from sme_platform.lib.demo_data.catalog import build_catalog
from sme_platform.lib.demo_data.company_calendar import STORE
from sme_platform.lib.demo_data.long_tail import LONG_TAIL_SCALE
from sme_platform.lib.demo_data.mapping import demo_mapping, unexported_sources, without_sources
from sme_platform.lib.sources import load_sources
from sme_platform_tests.conftest import REPO_ROOT

START = date(2024, 1, 1)
SALES_HEADER = (
    "order_no,line_no,order_datetime,store_code,customer_no,item_code,qty,unit_price,"
    "discount_pct,promo_code,doc_type"
)
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
TIMESTAMP = "%Y-%m-%d %H:%M:%S"


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("clean")
    return out, generate_demo_data(out, scale="tiny", seed=7, start_date=START, days=120)


@pytest.fixture(scope="module")
def defect_run(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("defects")
    manifest = generate_demo_data(
        out, scale="tiny", seed=11, start_date=START, days=60, defect_rate=0.02
    )
    return out, manifest


# --- reading helpers -------------------------------------------------------------------------


def file_digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def raw_sales_rows(path: Path) -> list[tuple[list[str], bool]]:
    """Data rows of a sales CSV as (fields, valid_utf8), read byte-wise so broken lines survive."""
    lines = path.read_bytes().split(b"\n")
    assert lines[0].decode("utf-8") == SALES_HEADER
    rows = []
    for line in lines[1:]:
        if not line:
            continue
        try:
            text, valid = line.decode("utf-8"), True
        except UnicodeDecodeError:
            text, valid = line.decode("latin-1"), False
        rows.append((next(csv.reader([text])), valid))
    return rows


def read_sales(folder: Path) -> pl.DataFrame:
    frames = [
        pl.read_csv(p, infer_schema=False).with_columns(file=pl.lit(p.name))
        for p in sorted((folder / "erp/sales").glob("sales_*.csv"))
    ]
    return pl.concat(frames).with_columns(
        qty=pl.col("qty").cast(pl.Int64),
        unit_price=pl.col("unit_price").cast(pl.Float64),
        discount_pct=pl.col("discount_pct").cast(pl.Float64),
        order_datetime=pl.col("order_datetime").str.strptime(pl.Datetime, TIMESTAMP),
    )


def read_products(folder: Path) -> pl.DataFrame:
    return pl.read_csv(folder / "erp/products.csv", separator=";", infer_schema=False)


def read_customers(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "crm/customers.jsonl").read_text().splitlines()]


def read_tickets(folder: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted((folder / "support").glob("tickets_*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def store_units_by_day(folder: Path) -> pl.DataFrame:
    """Units sold per day in stores, with every open day present (zero if nothing sold)."""
    locations = pl.read_csv(folder / "erp/locations.csv")
    stores = locations.filter(pl.col("store_type") == "STORE")["store_code"]
    sales = read_sales(folder).filter(
        pl.col("store_code").is_in(stores.implode()) & (pl.col("doc_type") == "SALE")
    )
    return sales.group_by(day=pl.col("order_datetime").dt.date()).agg(units=pl.col("qty").sum())


# --- determinism and layout ------------------------------------------------------------------


def test_same_arguments_give_byte_identical_files(tmp_path):
    arguments = {"scale": "tiny", "seed": 3, "start_date": START, "days": 20, "defect_rate": 0.02}
    generate_demo_data(tmp_path / "a", **arguments)
    generate_demo_data(tmp_path / "b", **arguments)
    first, second = file_digests(tmp_path / "a"), file_digests(tmp_path / "b")
    assert len(first) == 2 + 20 * 2 + 1 + 1 + 1 + 1  # master data, daily, prices, tickets, manifest
    assert first == second


def test_longer_run_reproduces_the_shared_daily_files(tmp_path):
    # Over the turn of the year, so the closed days are covered too.
    start = date(2024, 12, 20)
    short = generate_demo_data(tmp_path / "short", scale="tiny", seed=5, start_date=start, days=20)
    generate_demo_data(tmp_path / "long", scale="tiny", seed=5, start_date=start, days=30)
    short_files, long_files = file_digests(tmp_path / "short"), file_digests(tmp_path / "long")
    daily = [name for name in short_files if name.startswith(("erp/sales/", "wms/inventory/"))]
    assert len(daily) == 40
    assert all(short_files[name] == long_files[name] for name in daily)
    assert short_files["erp/products.csv"] == long_files["erp/products.csv"]
    for closed in ("2024-12-25", "2025-01-01"):
        assert short["sales_files"][f"erp/sales/sales_{closed}.csv"] == 0
        assert (
            tmp_path / f"short/erp/sales/sales_{closed}.csv"
        ).read_text().strip() == SALES_HEADER
    assert short["sales_files"]["erp/sales/sales_2024-12-24.csv"] > 0


def test_manifest_row_counts_match_the_files(clean_run):
    folder, manifest = clean_run
    counts = manifest["row_counts"]
    assert counts["locations"] == pl.read_csv(folder / "erp/locations.csv").height
    assert counts["products"] == read_products(folder).height
    assert counts["customers"] == len(read_customers(folder))
    prices = pl.read_csv(folder / "erp/prices/price_changes.csv", infer_schema=False)
    assert counts["price_changes"] == prices.height
    sales_files = sorted((folder / "erp/sales").glob("*.csv"))
    assert len(sales_files) == 120
    for path in sales_files:
        assert manifest["sales_files"][f"erp/sales/{path.name}"] == len(raw_sales_rows(path))
    assert counts["sales"] == read_sales(folder).height
    inventory = pl.read_parquet(folder / "wms/inventory/*.parquet")
    assert counts["inventory"] == inventory.height
    assert counts["tickets"] == len(read_tickets(folder))
    assert manifest["seed"] == 7 and manifest["scale"] == "tiny"
    assert manifest["defects"] == [] and manifest["defect_counts"] == {}
    assert set(manifest["demand_model"]["price_elasticity"]) == {
        "Kitchen & Dining", "Bedding & Bath", "Furniture", "Lighting", "Home Decor",
        "Garden & Outdoor", "Storage & Organisation", "Rugs & Textiles",
    }  # fmt: skip


def test_line_volume_follows_the_scale(clean_run):
    _, manifest = clean_run
    expected = SCALES["tiny"].sales_lines_per_day * 120
    assert 0.6 * expected < manifest["row_counts"]["sales"] < 1.4 * expected


# --- clean data ------------------------------------------------------------------------------


def test_clean_sales_keep_every_invariant(clean_run):
    folder, _ = clean_run
    sales = read_sales(folder)
    products = set(read_products(folder)["item_code"])
    locations = set(pl.read_csv(folder / "erp/locations.csv")["store_code"])
    customers = {c["customer_no"] for c in read_customers(folder)}

    assert sales.select(pl.struct("order_no", "line_no").is_unique().all()).item()
    assert set(sales["item_code"]) <= products
    assert set(sales["store_code"]) <= locations
    assert set(sales["customer_no"].drop_nulls()) <= customers
    assert sales["customer_no"].null_count() > 0  # anonymous store sales
    assert sales.filter(pl.col("doc_type") == "SALE")["qty"].min() > 0
    returns = sales.filter(pl.col("doc_type") == "RETURN")
    assert returns.height > 0 and returns["qty"].max() < 0
    assert returns["order_no"].str.starts_with("RT-").all()
    assert 0.01 < returns.height / sales.height < 0.08
    assert sales["order_datetime"].min() >= datetime(2024, 1, 1)
    assert sales["order_datetime"].max() < datetime(2024, 4, 30)
    file_day = pl.col("file").str.extract(r"sales_(\d{4}-\d{2}-\d{2})").str.to_date()
    assert sales.select((pl.col("order_datetime").dt.date() == file_day).all()).item()
    assert sales.filter(pl.col("order_datetime").dt.date() == date(2024, 1, 1)).height == 0
    assert sales["discount_pct"].is_between(0, 100).all()
    assert (sales["unit_price"] > 0).all()
    promo = sales["promo_code"].drop_nulls()
    assert promo.len() > 0 and promo.str.contains(r"^PROMO-\d{4}-\d{2}$").all()
    # Line numbers run 1..n within each order.
    lines = sales.group_by("order_no").agg(n=pl.len(), top=pl.col("line_no").cast(pl.Int64).max())
    assert (lines["n"] == lines["top"]).all()


def test_clean_master_data_inventory_and_tickets_are_consistent(clean_run):
    folder, _ = clean_run
    locations = pl.read_csv(folder / "erp/locations.csv")
    assert locations["store_code"].is_unique().all()
    assert set(locations["store_type"]) == {"STORE", "WAREHOUSE", "ONLINE"}
    products = read_products(folder)
    assert products["item_code"].str.contains(r"^SKU-\d{5}$").all()
    assert products["list_price"].str.contains(r"^\d+\.\d{2}$").all()
    assert products["discontinued_on"].null_count() > products.height / 2
    customers = read_customers(folder)
    assert len({c["customer_no"] for c in customers}) == len(customers)
    assert all(EMAIL.fullmatch(c["email"]) for c in customers)
    assert {c["segment"] for c in customers} == {"retail", "wholesale", "online"}

    inventory = pl.read_parquet(folder / "wms/inventory/*.parquet")
    assert inventory.columns == ["snapshot_date", "store_code", "item_code", "on_hand", "on_order"]
    assert inventory.select(
        pl.struct("snapshot_date", "store_code", "item_code").is_unique().all()
    ).item()
    assert inventory["on_hand"].min() >= 0 and inventory["on_order"].min() >= 0
    assert set(inventory["item_code"]) <= set(products["item_code"])
    pairs = inventory.select("store_code", "item_code").unique().height
    assert pairs < locations.height * products.height  # only the assortment is stocked

    prices = pl.read_csv(folder / "erp/prices/price_changes.csv", infer_schema=False)
    assert prices.select(
        pl.struct("item_code", "valid_from", "price_type").is_unique().all()
    ).item()
    assert set(prices["price_type"]) == {"LIST", "PROMO"}
    assert prices.filter(pl.col("valid_from") == "2024-01-01").height >= products.height

    tickets = read_tickets(folder)
    customer_numbers = {c["customer_no"] for c in customers}
    assert len({t["ticket_id"] for t in tickets}) == len(tickets)
    for ticket in tickets:
        assert ticket["customer_no"] is None or ticket["customer_no"] in customer_numbers
        assert ticket["category"] in {
            "billing", "delivery", "product_defect", "returns", "account", "other"
        }  # fmt: skip
        assert ticket["priority"] in {"P1", "P2", "P3", "P4"}
        assert ticket["channel"] in {"email", "phone", "chat", "web"}
        assert "2024-01-01T00:00:00" <= ticket["created_at"] < "2024-04-30T00:00:00"
        if ticket["first_response_at"]:
            assert ticket["first_response_at"] >= ticket["created_at"]
        if ticket["resolved_at"]:
            assert ticket["resolved_at"] >= ticket["first_response_at"]
        assert (ticket["resolved_at"] is None) == (ticket["status"] == "open")


# --- the demand model's designed effects -----------------------------------------------------


def test_stores_sell_more_on_weekends(clean_run):
    folder, _ = clean_run
    units = store_units_by_day(folder).with_columns(weekend=pl.col("day").dt.weekday() >= 6)
    by_kind = dict(units.group_by("weekend").agg(pl.col("units").mean()).iter_rows())
    # Designed: Saturday 1.50 and Sunday 1.16 against a weekday mean of 0.87.
    assert by_kind[True] / by_kind[False] > 1.25


def test_promotions_raise_units(clean_run):
    folder, _ = clean_run
    sales = read_sales(folder).filter(pl.col("doc_type") == "SALE")
    locations = pl.read_csv(folder / "erp/locations.csv")
    retail = locations.filter(pl.col("store_type") != "WAREHOUSE")["store_code"].implode()
    daily = (
        sales.filter(pl.col("store_code").is_in(retail))
        .group_by("item_code", day=pl.col("order_datetime").dt.date())
        .agg(units=pl.col("qty").sum(), promo=pl.col("promo_code").is_not_null().any())
    )
    promoted = daily.filter(pl.col("promo"))["item_code"].unique().implode()
    # Days without sales count as zero: build the full SKU x open-day grid for promoted SKUs.
    open_days = daily.select("day").unique()
    grid = (
        daily.filter(pl.col("item_code").is_in(promoted))
        .select("item_code")
        .unique()
        .join(open_days, how="cross")
        .join(daily, on=["item_code", "day"], how="left")
        .with_columns(pl.col("units").fill_null(0))
    )
    promo_days = _promotion_days(folder)
    grid = grid.join(promo_days, on=["item_code", "day"], how="left").with_columns(
        on_promo=pl.col("on_promo").fill_null(False)
    )
    means = dict(grid.group_by("on_promo").agg(pl.col("units").mean()).iter_rows())
    assert means[True] / means[False] > 1.1


def _promotion_days(folder: Path) -> pl.DataFrame:
    """(item_code, day) pairs inside a promotion according to price_changes.csv."""
    prices = pl.read_csv(folder / "erp/prices/price_changes.csv", infer_schema=False)
    prices = prices.with_columns(pl.col("valid_from").str.to_date()).sort("item_code", "valid_from")
    rows = []
    for (item_code,), group in prices.group_by("item_code"):
        starts = group.filter(pl.col("price_type") == "PROMO")["valid_from"].to_list()
        for start in starts:
            later_list = group.filter(
                (pl.col("price_type") == "LIST") & (pl.col("valid_from") > start)
            )["valid_from"]
            end = later_list.min() if later_list.len() else start + timedelta(days=14)
            rows += [(item_code, start + timedelta(days=i)) for i in range((end - start).days)]
    return pl.DataFrame(rows, schema=["item_code", "day"], orient="row").with_columns(
        on_promo=pl.lit(True)
    )


def test_stock_outs_happen_but_are_not_the_rule(clean_run):
    folder, manifest = clean_run
    inventory = pl.read_parquet(folder / "wms/inventory/*.parquet")
    share = (inventory["on_hand"] == 0).mean()
    assert 0.005 < share < 0.15
    assert manifest["demand_model"]["lost_units_to_stock_outs"] > 0


def test_drift_shifts_category_mix_and_price_level(tmp_path):
    drift_from = START + timedelta(days=60)
    manifest = generate_demo_data(
        tmp_path, scale="tiny", seed=13, start_date=START, days=120, drift_from=drift_from
    )
    multipliers = manifest["drift"]["category_multipliers"]
    assert manifest["drift"]["price_level_multiplier"] == pytest.approx(1.08)
    growing = {c for c, m in multipliers.items() if m > 1}
    shrinking = {c for c, m in multipliers.items() if m < 1}
    assert len(growing) == 3 and len(shrinking) == 3

    products = read_products(tmp_path).select("item_code", "category")
    sales = read_sales(tmp_path).filter(pl.col("doc_type") == "SALE").join(products, on="item_code")
    period = pl.when(pl.col("order_datetime").dt.date() >= drift_from).then(pl.lit("after"))
    units = (
        sales.with_columns(period=period.otherwise(pl.lit("before")))
        .with_columns(
            group=pl.when(pl.col("category").is_in(list(growing)))
            .then(pl.lit("growing"))
            .when(pl.col("category").is_in(list(shrinking)))
            .then(pl.lit("shrinking"))
            .otherwise(pl.lit("same"))
        )
        .group_by("period", "group")
        .agg(pl.col("qty").sum())
    )
    qty = {(p, g): q for p, g, q in units.iter_rows()}
    mix_before = qty["before", "growing"] / qty["before", "shrinking"]
    mix_after = qty["after", "growing"] / qty["after", "shrinking"]
    # Designed: 1.5 / 0.7 = 2.1; seasonality and stock-outs blur it a little.
    assert mix_after / mix_before > 1.6

    prices = pl.read_csv(tmp_path / "erp/prices/price_changes.csv", infer_schema=False)
    prices = prices.filter(pl.col("price_type") == "LIST").with_columns(
        pl.col("price").cast(pl.Float64)
    )
    before = prices.filter(pl.col("valid_from") == START.isoformat())
    after = prices.filter(pl.col("valid_from") == drift_from.isoformat())
    ratio = after.join(before, on="item_code", suffix="_before").select(
        (pl.col("price") / pl.col("price_before")).mean()
    )
    assert 1.07 < ratio.item() < 1.2


# --- defects ---------------------------------------------------------------------------------


def test_every_defect_kind_is_injected_and_counted(defect_run):
    _, manifest = defect_run
    counts = manifest["defect_counts"]
    for kind in SALES_DEFECT_KINDS:
        assert counts[kind] >= 1, kind
    assert counts["malformed_email"] >= 1
    by_kind: dict[str, int] = {}
    for record in manifest["defects"]:
        by_kind[record["kind"]] = by_kind.get(record["kind"], 0) + 1
    assert by_kind == counts
    sales_defects = sum(1 for r in manifest["defects"] if r["file"].startswith("erp/sales/"))
    assert 0.01 < sales_defects / manifest["row_counts"]["sales"] < 0.04
    files = {r["file"] for r in manifest["defects"]}
    assert "crm/customers.jsonl" in files
    assert any(f.startswith("support/tickets_") for f in files)


def test_reported_sales_defects_are_exactly_the_bad_rows(defect_run):
    folder, manifest = defect_run
    products = set(read_products(folder)["item_code"])
    reported = {
        (r["file"], r["row"]): r["kind"]
        for r in manifest["defects"]
        if r["file"].startswith("erp/sales/")
    }
    found = {}
    for path in sorted((folder / "erp/sales").glob("*.csv")):
        name = f"erp/sales/{path.name}"
        seen_keys = set()
        previous = None
        for number, (fields, valid_utf8) in enumerate(raw_sales_rows(path), start=1):
            record = dict(zip(SALES_HEADER.split(","), fields, strict=True))
            qty = int(record["qty"])
            key = (record["order_no"], record["line_no"])
            kind = None
            if not valid_utf8:
                kind = "broken_encoding"
            elif key in seen_keys:
                kind = "duplicate_key"
                assert fields == previous
            elif record["item_code"] == "":
                kind = "null_key"
            elif record["item_code"] not in products:
                kind = "unknown_sku"
            elif qty >= 100_000:
                kind = "absurd_quantity"
            elif record["doc_type"] == "SALE" and qty < 0:
                kind = "negative_quantity"
            elif not record["order_datetime"].startswith(path.stem.removeprefix("sales_")):
                kind = "future_date"
                moved = datetime.strptime(record["order_datetime"], TIMESTAMP)
                assert moved > datetime(2024, 1, 1) + timedelta(days=60 + 5 * 365)
            if kind:
                found[(name, number)] = kind
            seen_keys.add(key)
            previous = fields
    assert found == reported


def test_reported_customer_and_ticket_defects_are_exactly_the_bad_rows(defect_run):
    folder, manifest = defect_run
    customers = read_customers(folder)
    bad_customers = {}
    for number, customer in enumerate(customers, start=1):
        if customer["customer_no"] == "":
            bad_customers[number] = "null_key"
        elif not EMAIL.fullmatch(customer["email"]):
            bad_customers[number] = "malformed_email"
    reported = {
        r["row"]: r["kind"] for r in manifest["defects"] if r["file"] == "crm/customers.jsonl"
    }
    assert bad_customers == reported
    assert set(reported.values()) == {"null_key", "malformed_email"}

    # Customers without a number never bought anything, so no sale or ticket breaks with them.
    sales = read_sales_lenient(folder)
    known = {c["customer_no"] for c in customers if c["customer_no"]}
    assert set(sales) <= known

    bad_tickets = set()
    for path in sorted((folder / "support").glob("tickets_*.jsonl")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if json.loads(line)["ticket_id"] is None:
                bad_tickets.add((f"support/{path.name}", number))
    reported_tickets = {
        (r["file"], r["row"]) for r in manifest["defects"] if r["file"].startswith("support/")
    }
    assert bad_tickets == reported_tickets and bad_tickets


def read_sales_lenient(folder: Path) -> set[str]:
    """Customer numbers on sales lines, reading broken-encoding lines too."""
    numbers = set()
    for path in (folder / "erp/sales").glob("*.csv"):
        for fields, _ in raw_sales_rows(path):
            if fields[4]:
                numbers.add(fields[4])
    return numbers


def test_defects_leave_the_clean_rows_unchanged(tmp_path, defect_run):
    folder, manifest = defect_run
    clean = tmp_path / "clean"
    generate_demo_data(clean, scale="tiny", seed=11, start_date=START, days=60)
    defect_files = {r["file"] for r in manifest["defects"] if r["file"].startswith("erp/sales/")}
    for name in sorted(defect_files):
        defects = {r["row"]: r["kind"] for r in manifest["defects"] if r["file"] == name}
        dirty = [
            (number, fields)
            for number, (fields, _) in enumerate(raw_sales_rows(folder / name), start=1)
            if defects.get(number) != "duplicate_key"
        ]
        clean_rows = [fields for fields, _ in raw_sales_rows(clean / name)]
        assert len(dirty) == len(clean_rows)
        for (number, fields), clean_fields in zip(dirty, clean_rows, strict=True):
            assert (fields == clean_fields) == (number not in defects)
    inventory = "wms/inventory/inventory_2024-02-01.parquet"
    assert (folder / inventory).read_bytes() == (clean / inventory).read_bytes()


def test_duckdb_rejects_exactly_the_broken_encoding_rows(defect_run):
    folder, manifest = defect_run
    con = duckdb.connect()
    loaded = con.execute(
        "select * from read_csv(?, all_varchar = true, header = true, store_rejects = true)",
        [str(folder / "erp/sales/*.csv")],
    ).fetchall()
    rejected = con.execute(
        """select s.file_path, e.line - 1 from reject_errors e
           join reject_scans s using (scan_id, file_id)"""
    ).fetchall()
    broken = {(r["file"], r["row"]) for r in manifest["defects"] if r["kind"] == "broken_encoding"}
    assert {(str(Path(p).relative_to(folder)), row) for p, row in rejected} == broken
    assert len(loaded) == manifest["row_counts"]["sales"] - len(broken)


# --- the long-tail catalogue -----------------------------------------------------------------


def test_long_tail_catalogue_stocks_few_pairs_most_selling_rarely_a_few_daily():
    """Its shape over two years, read from the catalogue's expected demand (no files written)."""
    catalog = build_catalog(LONG_TAIL_SCALE, 42, long_tail=True)
    stores = catalog.locations.types == STORE
    assert (len(catalog.products), len(catalog.locations.codes), int(stores.sum())) == (
        30_000,
        153,
        150,
    )
    pairs = catalog.assortment
    # not dense: under 5 % of the SKU x location pairs are stocked at all
    assert len(pairs) < 0.05 * 30_000 * 153
    lines_in_two_years = pairs.base_lines * 730
    assert (lines_in_two_years < 12).mean() > 0.8  # most pairs: a few sales a year at most
    selling_daily = int((pairs.base_lines >= 1).sum())
    assert 10 <= selling_daily < 0.001 * len(pairs)  # a few pairs sell every day
    # the top SKUs are in nearly every store, the median SKU in a handful at most
    store_pairs = pairs.location_type == STORE
    stores_per_sku = np.bincount(pairs.sku[store_pairs], minlength=30_000)
    by_popularity = np.argsort(-catalog.products.popularity)
    assert stores_per_sku[by_popularity[:30]].mean() > 0.9 * 150
    assert np.median(stores_per_sku) <= 3


def test_long_tail_exports_sales_only_over_a_fraction_of_the_days(tmp_path):
    manifest = generate_demo_data(
        tmp_path, catalog="long-tail", seed=42, start_date=date(2024, 3, 1), days=28
    )
    assert (manifest["catalog"], manifest["scale"]) == ("long-tail", "long-tail")
    assert manifest["absent_sources"] == ["inventory_snapshots"]
    assert manifest["row_counts"]["inventory"] == 0 and not (tmp_path / "wms").exists()
    assert read_products(tmp_path).height == 30_000
    assert pl.read_csv(tmp_path / "erp/locations.csv").height == 153
    lines = manifest["row_counts"]["sales"]
    assert lines == pytest.approx(28 * 1_500_000 / 730, rel=0.2)
    pattern = str(tmp_path / "erp/sales/sales_*.csv")
    with duckdb.connect() as con:
        (pairs, rare, daily, skus, locations) = con.execute(
            """with days as (
                   select item_code, store_code, count(distinct order_datetime::date) as n
                   from read_csv(?, all_varchar = true)
                   where doc_type = 'SALE'
                   group by all)
               select count(*), avg((n <= 2)::int), count(*) filter (where n >= 25),
                      count(distinct item_code), count(distinct store_code)
               from days""",
            [pattern],
        ).fetchone()
    assert rare > 0.75  # of the pairs that sold in 4 weeks, most sold on 1 or 2 days
    assert daily >= 5  # and a few on (nearly) every day
    assert skus > 5_000 and locations >= 150
    assert pairs < lines  # many lines, spread thin over the pairs


def test_long_tail_has_one_size():
    with pytest.raises(ValueError, match=r"long-tail catalogue has one size.*got 'small'"):
        generate_demo_data(Path("unused"), catalog="long-tail", scale="small")
    with pytest.raises(ValueError, match="unknown catalog 'grocery'"):
        generate_demo_data(Path("unused"), catalog="grocery")


def test_long_tail_mapping_leaves_out_the_inventory_it_does_not_export(tmp_path):
    repo_mapping = (REPO_ROOT / "sources.yaml").read_text(encoding="utf-8")
    assert demo_mapping("home", repo_mapping) == repo_mapping
    assert unexported_sources("long-tail", repo_mapping) == ["inventory_snapshots"]
    mapping = demo_mapping("long-tail", repo_mapping)
    assert unexported_sources("long-tail", mapping) == []
    assert "# inventory_snapshots: left out, the long-tail company exports none" in mapping
    (tmp_path / "sources.yaml").write_text(mapping, encoding="utf-8")
    sources = load_sources(tmp_path)
    assert sources.get("inventory_snapshots") is None
    assert sources.get("sales_lines") is not None and sources.get("prices") is not None
    with pytest.raises(ValueError, match="no entry 'inventory_snapshots'"):
        without_sources(mapping, ("inventory_snapshots",), why="test")
