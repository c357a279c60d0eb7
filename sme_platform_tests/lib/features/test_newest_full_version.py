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


def test_a_warehouse_from_before_scoring_only_versions_is_read_as_it_is():
    # Its versions table has no scoring_only column (every version holds every row), and a
    # read-only connection cannot add it.
    con = duckdb.connect()
    con.execute("create schema features")
    con.execute(
        "create table features.feature_set_versions (version varchar, created_at timestamp)"
    )
    con.execute(
        "insert into features.feature_set_versions values "
        "('fs-old', '2026-12-01'), ('fs-new', '2026-12-02')"
    )
    assert newest_full_version(con) == "fs-new"
