"""A request served on a small warehouse: refused without who or why, interrupted after the
files and asked again (the same pseudonym everywhere), answered "already erased" after."""

from __future__ import annotations

import duckdb
import pytest

from sme_platform.lib.erasure import serve
from sme_platform.lib.erasure.person import ErasureError
from sme_platform.lib.erasure.serve import Places, erase_customer


@pytest.fixture
def project(tmp_path):
    data = tmp_path / "data"
    (data / "exports").mkdir(parents=True)
    (data / "exports" / "sales.csv").write_text(
        "order,customer\nO1,C-17\nO2,C-18\n", encoding="utf-8"
    )
    con = duckdb.connect(str(data / "warehouse.duckdb"))
    con.execute("create schema raw_store")
    con.execute(
        "create table raw_store.customers as select * from (values "
        "('C-17', 'Ana Berg', 'ana@example.com', '+47 555 0101'), "
        "('C-18', 'Bo Lund', 'bo@example.com', null)) t(customer_id, customer_name, email, phone)"
    )
    con.execute(
        "create table raw_store.sales_lines as select * from (values "
        "('O1', 'C-17'), ('O2', 'C-18')) t(order_id, customer_id)"
    )
    own = frozenset({data / "warehouse.duckdb", data / "warehouse.duckdb.wal"})
    places = Places(data, own, data / "quarantine")
    yield con, places
    con.close()


def ask(con, places, **changes):
    request = {"customer_id": "C-17", "requested_by": "Dana", "reason": "DSR-1"} | changes
    return erase_customer(con, places=places, sources=None, run_id="r1", **request)


def test_a_request_failing_before_its_commit_changes_no_file_and_can_be_asked_again(
    project, monkeypatch
):
    con, places = project
    with pytest.raises(ErasureError, match="who asks"):
        ask(con, places, reason=" ")

    def power_cut(*_):
        raise RuntimeError("power cut")

    monkeypatch.setattr(serve, "erase_rows", power_cut)
    with pytest.raises(RuntimeError, match="power cut"):
        ask(con, places)
    # nothing changed: the new version of the export was staged, then dropped
    export = (places.data_dir / "exports" / "sales.csv").read_text(encoding="utf-8")
    assert export == "order,customer\nO1,C-17\nO2,C-18\n"
    assert sorted(p.name for p in (places.data_dir / "exports").iterdir()) == ["sales.csv"]
    assert con.execute(
        "select count(*) from raw_store.customers where customer_id = 'C-17'"
    ).fetchone() == (1,)
    monkeypatch.undo()
    erasure = ask(con, places)
    assert f"O1,{erasure.person.pseudonym}\n" in (
        places.data_dir / "exports" / "sales.csv"
    ).read_text(encoding="utf-8")
    assert con.execute("select * from raw_store.sales_lines order by 1").fetchall() == [
        ("O1", erasure.person.pseudonym),
        ("O2", "C-18"),
    ]
    assert con.execute(
        "select customer_name, email, phone from raw_store.customers where customer_id = ?",
        [erasure.person.pseudonym],
    ).fetchall() == [(None, None, None)]
    with pytest.raises(
        ErasureError, match=f"already erased on .* by Dana, as {erasure.person.pseudonym}"
    ):
        ask(con, places)


def test_a_mention_in_a_column_erasure_cannot_rewrite_refuses_before_any_change(project):
    con, places = project
    con.execute("create table raw_store.notes as select ['called ana@example.com'] as lines")
    with pytest.raises(ErasureError, match=r"notes\.lines \(VARCHAR\[\]\) mentions the person"):
        ask(con, places)
    assert (places.data_dir / "exports" / "sales.csv").read_text(encoding="utf-8") == (
        "order,customer\nO1,C-17\nO2,C-18\n"
    )
    assert con.execute(
        "select count(*) from raw_store.sales_lines where customer_id = 'C-17'"
    ).fetchone() == (1,)


def test_values_others_share_are_not_theirs_to_erase(project):
    """A family's shared email and a placeholder phone: the person's rows lose them, another
    customer's rows and texts keep them."""
    con, places = project
    con.execute(
        "update raw_store.customers set email = 'family@example.com', phone = 'n/a' "
        "where customer_id in ('C-17', 'C-18')"
    )
    con.execute("create table raw_store.notes as select 'write to family@example.com' as note")
    erasure = ask(con, places)
    assert set(erasure.person.values) == {"Ana Berg"}
    assert con.execute(
        "select customer_id, customer_name, email, phone from raw_store.customers order by 1"
    ).fetchall() == [
        ("C-18", "Bo Lund", "family@example.com", "n/a"),
        (erasure.person.pseudonym, None, None, None),
    ]
    assert con.execute("select note from raw_store.notes").fetchall() == [
        ("write to family@example.com",)
    ]


def test_a_numeric_id_in_another_column_or_customer_is_left_alone(tmp_path):
    data = tmp_path / "data"
    (data / "exports").mkdir(parents=True)
    sales = data / "exports" / "sales.csv"
    sales.write_text(
        "Invoice,Quantity,Price,CustomerID\n42,42,42.00,42.0\n43,42,1.50,77.0\n",
        encoding="utf-8",
    )
    con = duckdb.connect(str(data / "warehouse.duckdb"))
    con.execute("create schema raw_store")
    con.execute(
        "create table raw_store.sales_lines as select * from (values "
        "('42', '42'), ('43', '77')) t(order_id, customer_id)"
    )
    con.execute("create table raw_store.log as select '42 rows failed; 3.42 ratio' as message")
    own = frozenset({data / "warehouse.duckdb", data / "warehouse.duckdb.wal"})
    erasure = ask(con, Places(data, own, data / "quarantine"), customer_id="42")
    pseudonym = erasure.person.pseudonym
    assert sales.read_text(encoding="utf-8") == (
        f"Invoice,Quantity,Price,CustomerID\n42,42,42.00,{pseudonym}\n43,42,1.50,77.0\n"
    )
    assert con.execute("select * from raw_store.sales_lines order by 1").fetchall() == [
        ("42", pseudonym),
        ("43", "77"),
    ]
    assert con.execute("select message from raw_store.log").fetchall() == [
        ("42 rows failed; 3.42 ratio",)
    ]
    con.close()


def test_a_load_bringing_them_back_in_quarantine_is_caught_and_the_look_moves_on(project):
    """Their id again, only in a quarantined row of a later load (a float export's 'C-17' is
    still 'C-17'): erased again; the next look starts after that load."""
    from sme_platform.lib.erasure.register import last_checked_file
    from sme_platform.lib.erasure.serve import erase_returning

    con, places = project
    erasure = ask(con, places)
    con.execute("create schema raw")
    con.execute(
        "create table raw.file_loads as select * from (values "
        "('sales_lines', 1, 'load-1', 'loaded'), ('sales_lines', 2, 'load-2', 'loaded')) "
        "t(table_name, file_id, load_id, status)"
    )
    con.execute("alter table raw_store.sales_lines add column _file_id bigint default 1")
    con.execute("create schema quarantine")
    con.execute(
        "create table quarantine.sales_lines as select 'load-2' as _load_id, "
        """'{"order":"O9","customer":"C-17","qty":"-5"}' as original_values"""
    )
    served = erase_returning(con, "sales_lines", places=places, sources=None, run_id="r2")
    assert [e.person.pseudonym for e in served] == [erasure.person.pseudonym]
    assert con.execute("select original_values from quarantine.sales_lines").fetchone()[0] == (
        f'{{"order":"O9","customer":"{erasure.person.pseudonym}","qty":"-5"}}'
    )
    assert last_checked_file(con, "sales_lines") == 2
    assert erase_returning(con, "sales_lines", places=places, sources=None, run_id="r3") == []


def test_a_register_from_before_the_pending_steps_is_migrated(project):
    from sme_platform.lib.erasure.register import pending

    con, places = project
    con.execute("create schema governance")
    con.execute(
        "create table governance.erasures (pseudonym varchar, customer_id_sha256 varchar, "
        "erased_at timestamp, requested_by varchar, reason varchar, run_id varchar, "
        "rows_pseudonymized bigint, mentions_scrubbed bigint, files_rewritten bigint, "
        "files_deleted bigint, details json)"
    )
    con.execute(
        "insert into governance.erasures values ('ERASED-old', 'ab', now(), 'Eve', 'DSR-0', "
        "'r0', 1, 0, 0, 0, '{}')"
    )
    assert not pending(con, "analyst_published")  # the old erasure did both steps at once
    ask(con, places)
    assert pending(con, "analyst_published") and pending(con, "warehouse_rewritten")
    assert con.execute(
        "select pseudonym like 'ERASED-%', analyst_published from governance.erasures "
        "order by erased_at"
    ).fetchall() == [(True, True), (True, False)]
    assert "customer_id_sha256" not in [
        c[0] for c in con.execute("describe governance.erasures").fetchall()
    ]
