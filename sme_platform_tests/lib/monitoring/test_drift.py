"""Drift measured with Evidently: the shifted column found, the steady ones not, the numbers as
rows, the HTML report self-contained; bad input named."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from sme_platform.lib.monitoring.drift import DriftInputError, measure_drift


def frames(shift: float, rows: int = 3000, seed: int = 0):
    rng = np.random.default_rng(seed)
    reference = pl.DataFrame(
        {
            "mean_28": rng.gamma(2.0, 1.5, rows),
            "nonzero_share_28": rng.uniform(0, 1, rows),
            "days_since_last_sale": rng.integers(0, 30, rows),
        }
    )
    current = pl.DataFrame(
        {
            "mean_28": rng.gamma(2.0, 1.5, rows // 3) + shift,
            "nonzero_share_28": rng.uniform(0, 1, rows // 3),
            "days_since_last_sale": rng.integers(0, 30, rows // 3),
        }
    )
    return reference, current


def test_the_shifted_feature_drifts_and_the_others_do_not(tmp_path):
    reference, current = frames(shift=2.0)
    html = tmp_path / "reports" / "2025-12-31.html"
    result = measure_drift(reference, current, reference.columns, html_path=html)
    by_column = {r["column"]: r for r in result.columns.iter_rows(named=True)}
    assert by_column["mean_28"]["drifted"] and by_column["mean_28"]["score"] > 0.5
    assert not by_column["nonzero_share_28"]["drifted"]
    assert not by_column["days_since_last_sale"]["drifted"]  # integers measured as numbers
    assert {r["method"] for r in by_column.values()} == {"wasserstein"}
    assert {r["threshold"] for r in by_column.values()} == {0.1}
    assert (result.drifted_count, round(result.drifted_share, 3)) == (1, 0.333)
    assert result.columns["reference_rows"].unique().to_list() == [3000]
    assert result.columns["current_rows"].unique().to_list() == [1000]
    # Evidently's own page, self-contained: no script or stylesheet fetched from anywhere.
    page = html.read_text(encoding="utf-8")
    assert "mean_28" in page
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=\"?https?:", page)


def test_no_shift_no_drift_and_a_p_value_method_reads_the_other_way():
    reference, current = frames(shift=0.0)
    assert measure_drift(reference, current, reference.columns).drifted_count == 0
    shifted = measure_drift(*frames(shift=2.0), ["mean_28"], method="ks", threshold=0.05)
    (row,) = shifted.columns.iter_rows(named=True)
    assert row["method"] == "ks" and row["score"] < 0.05 and row["drifted"]


def test_bad_input_is_named():
    reference, current = frames(shift=0.0)
    with_lag = reference.with_columns(lag_1=pl.lit(1.0))
    with pytest.raises(DriftInputError, match="features: the current rows have no column lag_1"):
        measure_drift(with_lag, current, ["mean_28", "lag_1"], what="features")
    with pytest.raises(DriftInputError, match="features: no current rows"):
        measure_drift(reference, current.clear(), ["mean_28"], what="features")
    empty = current.with_columns(pl.lit(None, pl.Float64).alias("mean_28"))
    result = measure_drift(reference, empty, ["mean_28", "nonzero_share_28"], what="features")
    assert result.columns["column"].to_list() == ["nonzero_share_28"]  # the empty one left out
