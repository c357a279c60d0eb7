"""The demo's release story: the last days' sales and stock files held back, then delivered in
two nights, byte for byte the files the generator wrote."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date

import pytest

from sme_platform.lib.demo_data import generate_demo_data
from sme_platform.lib.demo_data.late_deliveries import deliver, hold_back, plan_late_deliveries
from sme_platform_tests.conftest import REPO_ROOT


def _digests(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_held_back_files_come_back_night_by_night_unchanged(tmp_path):
    exports, held = tmp_path / "exports", tmp_path / "held_back"
    generate_demo_data(exports, scale="tiny", seed=3, start_date=date(2024, 1, 1), days=40)
    written = _digests(exports)

    deliveries = plan_late_deliveries(exports, late_days=10)
    assert [(d.night, len(d.files)) for d in deliveries] == [(2, 20), (3, 20)]
    assert deliveries[0].files[:2] == (
        "erp/sales/sales_2024-01-21.csv",
        "wms/inventory/inventory_2024-01-21.parquet",
    )
    assert deliveries[0].files[-1] == "wms/inventory/inventory_2024-01-30.parquet"
    assert deliveries[1].files[0] == "erp/sales/sales_2024-01-31.csv"
    assert deliveries[1].files[-1] == "wms/inventory/inventory_2024-02-09.parquet"
    assert deliveries[1].what == "the sales and stock files of 2024-01-31 to 2024-02-09"

    hold_back(exports, held, deliveries)
    on_night_1 = _digests(exports)
    assert set(written) - set(on_night_1) == {f for d in deliveries for f in d.files}
    assert "erp/sales/sales_2024-01-20.csv" in on_night_1
    assert "erp/prices/price_changes.csv" in on_night_1  # the price plan is there from night 1

    deliver(exports, held, deliveries[0])
    assert "erp/sales/sales_2024-01-30.csv" in _digests(exports)
    assert "erp/sales/sales_2024-01-31.csv" not in _digests(exports)
    deliver(exports, held, deliveries[1])
    assert _digests(exports) == written  # every file back, the same bytes
    assert not [p for p in held.rglob("*") if p.is_file()]


def test_a_story_needs_days_to_hold_back(tmp_path):
    exports = tmp_path / "exports"
    generate_demo_data(exports, scale="tiny", seed=3, start_date=date(2024, 1, 1), days=40)
    with pytest.raises(ValueError, match="late_days must be between 1 and 19"):
        plan_late_deliveries(exports, late_days=20)
    # The drift story's one delivery may hold back more days.
    (one,) = plan_late_deliveries(exports, late_days=20, count=1)
    assert (one.night, one.first_day, len(one.files)) == (2, date(2024, 1, 21), 40)
    with pytest.raises(ValueError, match="late_days must be between 1 and 39"):
        plan_late_deliveries(exports, late_days=40, count=1)
    with pytest.raises(ValueError, match="count must be at least 1"):
        plan_late_deliveries(exports, late_days=5, count=0)
    with pytest.raises(FileNotFoundError, match="no demo manifest"):
        plan_late_deliveries(tmp_path / "nothing", late_days=10)


def test_deliveries_of_different_sizes_end_on_the_last_day(tmp_path):
    # The release story's default: a week, then one order cycle (9 days).
    exports = tmp_path / "exports"
    generate_demo_data(exports, scale="tiny", seed=3, start_date=date(2024, 1, 1), days=40)
    week, cycle = plan_late_deliveries(exports, sizes=[7, 9])
    assert (week.night, week.first_day, len(week.files)) == (2, date(2024, 1, 25), 14)
    assert week.what == "the sales and stock files of 2024-01-25 to 2024-01-31"
    assert (cycle.night, cycle.first_day, len(cycle.files)) == (3, date(2024, 2, 1), 18)
    assert cycle.files[-1] == "wms/inventory/inventory_2024-02-09.parquet"
    for sizes in ([], [7, 0], [30, 10]):
        with pytest.raises(ValueError, match="delivery sizes"):
            plan_late_deliveries(exports, sizes=sizes)


def test_the_release_story_delivers_one_order_cycle_a_night(tmp_path):
    # The canary is judged on the money of a whole order (lead time + review period): the
    # story's deliveries are that long unless told otherwise.
    from sme_platform.cli_stories import order_cycle_days

    shutil.copyfile(REPO_ROOT / "forecasting.yaml", tmp_path / "forecasting.yaml")
    assert order_cycle_days(tmp_path) == 9
    config = tmp_path / "forecasting.yaml"
    text = config.read_text(encoding="utf-8")
    assert "review_period_days: 7" in text
    config.write_text(text.replace("review_period_days: 7", "review_period_days: 10"), "utf-8")
    assert order_cycle_days(tmp_path) == 12
