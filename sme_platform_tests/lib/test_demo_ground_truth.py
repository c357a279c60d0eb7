"""The demo's ground truth: the generator's expected demand replayed from its manifest."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from sme_platform.lib.demo_data import generate_demo_data
from sme_platform.lib.demo_data import simulation as simulation_module
from sme_platform.lib.demo_data.ground_truth import GroundTruthError, expected_units
from sme_platform_tests.lib.test_demo_data import read_sales

START = date(2024, 1, 1)
DAYS = 90


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory, request):
    """A tiny generation with drift, recording the expected lines the simulation drew from."""
    recorded: dict[date, np.ndarray] = {}
    original = simulation_module.DemandModel.expected_lines

    def recording(self, day_index, day, promo_pct, active):
        lines = original(self, day_index, day, promo_pct, active)
        recorded[day] = np.where(active, lines, np.nan)
        return lines

    patcher = pytest.MonkeyPatch()
    request.addfinalizer(patcher.undo)
    patcher.setattr(simulation_module.DemandModel, "expected_lines", recording)
    out = tmp_path_factory.mktemp("ground_truth")
    manifest = generate_demo_data(
        out, scale="tiny", seed=3, start_date=START, days=DAYS, drift_from=date(2024, 2, 15)
    )
    patcher.undo()
    return out, manifest, recorded


def test_the_replay_gives_the_means_the_simulation_drew_from(recorded_run):
    _, manifest, recorded = recorded_run
    first, last = date(2024, 2, 1), date(2024, 3, 30)  # across the drift's first day
    truth = expected_units(manifest, first, last)
    assert truth["date"].unique().sort().to_list() == [
        first + timedelta(days=k) for k in range((last - first).days + 1)
    ]
    ratios = []
    for day in (first, date(2024, 2, 15), last):
        drawn = recorded[day]
        on_sale = ~np.isnan(drawn)
        replayed = truth.filter(pl.col("date") == day)["expected_units"].to_numpy()
        assert len(replayed) == on_sale.sum() > 0
        # The same pairs in the same order, each day's lines times the pair's net units per
        # line: one constant per pair whatever the day (promotions and drift move the lines).
        ratio = np.full(len(drawn), np.nan)
        ratio[on_sale] = replayed / drawn[on_sale]
        ratios.append(ratio)
    for ratio in ratios[1:]:
        both = ~np.isnan(ratio) & ~np.isnan(ratios[0])
        assert both.sum() > 0.8 * (~np.isnan(ratio)).sum()
        np.testing.assert_allclose(ratio[both], ratios[0][both], rtol=1e-12)
    assert np.nanmin(ratios[0]) > 0.92 and len(np.unique(ratios[0][~np.isnan(ratios[0])])) > 1
    # And the lines themselves changed between the days (this is not a constant replay).
    assert not np.allclose(recorded[first][both], recorded[last][both])


def test_the_ground_truth_is_close_to_what_sold(recorded_run):
    folder, manifest, _ = recorded_run
    first, last = date(2024, 1, 15), date(2024, 3, 30)
    truth = expected_units(manifest, first, last)
    sales = read_sales(folder).filter(pl.col("order_datetime").dt.date().is_between(first, last))
    sold = sales["qty"].sum()  # returns are negative lines: net, as the platform counts
    expected = truth["expected_units"].sum()
    # A day stocked out after part of its sales sells less than its mean; the draws add noise.
    assert 0.85 * expected <= sold <= 1.03 * expected
    per_store = (
        sales.group_by(location_id="store_code")
        .agg(sold=pl.col("qty").sum())
        .join(truth.group_by("location_id").agg(pl.col("expected_units").sum()), on="location_id")
    )
    assert per_store.height == truth["location_id"].n_unique()
    assert np.corrcoef(per_store["sold"], per_store["expected_units"])[0, 1] > 0.95


def test_a_manifest_not_from_the_generator_or_days_outside_it_are_refused(recorded_run):
    _, manifest, _ = recorded_run
    with pytest.raises(GroundTruthError, match="not one written by sme_platform's demo"):
        expected_units({"generator": "someone else"}, START, START)
    with pytest.raises(GroundTruthError, match=r"2024-03-25\.\.2024-04-05 are not within"):
        expected_units(manifest, date(2024, 3, 25), date(2024, 4, 5))


def test_the_ground_truth_can_be_kept_to_the_evaluated_series(recorded_run):
    _, manifest, _ = recorded_run
    day = date(2024, 3, 1)
    everything = expected_units(manifest, day, day)
    evaluated = everything.select("sku", "location_id").sample(5, seed=1)
    asked = pl.concat([evaluated, pl.DataFrame({"sku": ["NO-SUCH-SKU"], "location_id": ["X"]})])
    kept = expected_units(manifest, day, day, series=asked)
    assert kept.sort("sku", "location_id").equals(
        everything.join(evaluated, on=["sku", "location_id"]).sort("sku", "location_id")
    )
