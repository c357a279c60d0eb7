"""The newest feature set a model can be trained and judged on: not a newer scoring-only one."""

from __future__ import annotations

import duckdb

from sme_platform.lib.features.store import _ensure_versions_table, newest_full_version


def test_a_newer_scoring_only_version_is_passed_over():
    con = duckdb.connect()
    assert newest_full_version(con) is None  # no feature store yet
    con.execute("create schema features")
    _ensure_versions_table(con)
    assert newest_full_version(con) is None
    for version, created, scoring_only in [
        ("fs-old", "2026-12-01", False),
        ("fs-full", "2026-12-02", False),
        ("fs-scoring", "2026-12-03", True),  # a night that trained nothing
    ]:
        con.execute(
            "insert into features.feature_set_versions (version, created_at, scoring_only) "
            "values (?, ?, ?)",
            [version, created, scoring_only],
        )
    assert newest_full_version(con) == "fs-full"
