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


def test_an_interrupted_request_asked_again_uses_the_same_pseudonym(project, monkeypatch):
    con, places = project
    with pytest.raises(ErasureError, match="who asks"):
        ask(con, places, reason=" ")

    def power_cut(*_):
        raise RuntimeError("power cut")

    monkeypatch.setattr(serve, "erase_rows", power_cut)
    with pytest.raises(RuntimeError, match="power cut"):
        ask(con, places)
    export = (places.data_dir / "exports" / "sales.csv").read_text(encoding="utf-8")
    assert "C-17" not in export and "ERASED-" in export
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
