"""The demand events refreshed over the changed days: the cases random nights rarely draw.
(The random nights themselves are in sql_models/test_incremental.py, with the models.)"""

from datetime import timedelta

from sme_platform.lib.features.events import EVENTS_TABLE
from sme_platform.lib.sql_models.incremental import STATE_TABLE
from sme_platform.lib.warehouse import connect
from sme_platform_tests.lib.sql_models.test_incremental import (
    FIRST_DAY,
    WITH_EVENTS,
    Exports,
    assert_same_tables,
)


def test_a_file_made_late_by_another_is_refreshed_when_that_other_changes(tmp_path):
    day = [FIRST_DAY + timedelta(offset) for offset in range(7)]
    exports = Exports(tmp_path / "project", seed=13)
    nightly, full = tmp_path / "nightly.duckdb", tmp_path / "full.duckdb"
    exports.sales_file("d0", [day[0]])
    exports.sales_file("d1", [day[1]])
    exports.sales_file("month-to-date", [day[5]])
    for warehouse in (nightly, full):
        exports.load_and_build(warehouse, full_refresh=warehouse == full)
    # Day 3 arrives after day 5 was known: late, known only from day 6.
    exports.sales_file("d3", [day[3]])
    for warehouse in (nightly, full):
        exports.load_and_build(warehouse, full_refresh=warehouse == full)
    with connect(nightly) as con:
        assert con.execute(
            f"select distinct known_on from {EVENTS_TABLE} where date = ?", [day[3]]
        ).fetchall() == [(day[6],)]
    # The month-to-date file is re-sent without day 5: day 3's file was not late after all.
    # No model rebuilds day 3 (its file did not change); its events must change all the same.
    exports.sales_file("month-to-date", [day[1]])
    night = exports.load_and_build(nightly, full_refresh=False)
    exports.load_and_build(full, full_refresh=True)
    assert f"{day[3]}" not in night["staging.sales_lines"]
    assert night[EVENTS_TABLE].startswith("incremental: ")
    assert_same_tables(nightly, full, WITH_EVENTS)
    with connect(nightly) as con:
        assert con.execute(
            f"select distinct known_on from {EVENTS_TABLE} where date = ?", [day[3]]
        ).fetchall() == [(day[4],)]


def test_a_full_rebuild_of_a_staging_model_refreshes_every_event(tmp_path):
    exports = Exports(tmp_path / "project", seed=17)
    exports.day_files(FIRST_DAY, FIRST_DAY + timedelta(1))
    nightly = tmp_path / "nightly.duckdb"
    exports.load_and_build(nightly, full_refresh=False)
    again = exports.load_and_build(nightly, full_refresh=True)
    assert again[EVENTS_TABLE].startswith("full: full refresh; ")
    with connect(nightly) as con:  # the next build of the sales lines is a full one
        con.execute(f"drop table {STATE_TABLE}")
    exports.day_files(FIRST_DAY + timedelta(2))
    night = exports.load_and_build(nightly, full_refresh=False)
    assert night[EVENTS_TABLE].startswith("full: staging.sales_lines was rebuilt in full in run ")
